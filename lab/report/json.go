package report

import (
	"encoding/json"
	"io"

	"labs.dev/lab/lab/verify"
)

// JSON renders r for graders: the result with its exit code and how
// long the checks took.
func JSON(w io.Writer, r *verify.Result) error {
	type out struct {
		*verify.Result
		ExitCode int     `json:"exit_code"`
		Seconds  float64 `json:"seconds"`
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out{Result: r, ExitCode: r.ExitCode(), Seconds: r.Duration.Seconds()})
}
