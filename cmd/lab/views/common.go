package views

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/hashicorp/hcl/v2"

	"labs.dev/lab/lab/config"
	"labs.dev/lab/lab/state"
)

// human is every command's view for people; machine is -o json's; junit
// is -o junit's, which only verify and doc test take (the root command
// refuses it elsewhere), so the rest are machine's.
type (
	human   struct{ *view }
	machine struct{ *view }
	junit   struct{ machine }
)

func (v *view) Explain(cfg *config.Config, diags hcl.Diagnostics) {
	cfg.WriteDiagnostics(v.err, diags, v.errStyle.Color)
}

func (v *view) Error(err error) {
	fmt.Fprintf(v.err, "%s %s\n", v.errStyle.Red("Error:"), err)
}

func (v *view) Interrupted(grace time.Duration) {
	fmt.Fprintf(v.err, "\n%s stopping: starting nothing more, letting the operations in flight finish (up to %s) and saving state. Press Ctrl-C again to quit at once.\n", v.errStyle.Yellow("Interrupt:"), grace)
}

func (v *view) StaleLock(prev *state.LockInfo) {
	// The OS released the holder's file lock, which it does only when the
	// holder died: taking over is safe, and said aloud.
	fmt.Fprintf(v.err, "%s the previous `%s` (pid %d on %s, started %s, lock ID %s) ended without releasing the state lock (killed or crashed); the system released it when that process died, so no force-unlock is needed. Its state holds what it finished; this run carries on from there.\n",
		v.errStyle.Yellow("Note:"), prev.Command, prev.PID, prev.Host, prev.Created.Local().Format(time.Stamp), prev.ID)
}

func (h human) Diagnostics(cfg *config.Config, diags hcl.Diagnostics) { h.Explain(cfg, diags) }
func (h human) Invalid(cfg *config.Config, diags hcl.Diagnostics)     { h.Explain(cfg, diags) }

// JUnit has no place for diagnostics: they are text on stderr.
func (j junit) Diagnostics(cfg *config.Config, diags hcl.Diagnostics) { j.Explain(cfg, diags) }
func (j junit) Invalid(cfg *config.Config, diags hcl.Diagnostics)     { j.Explain(cfg, diags) }
func (j junit) Explain(cfg *config.Config, diags hcl.Diagnostics)     { j.view.Explain(cfg, diags) }

func (m machine) Diagnostics(cfg *config.Config, diags hcl.Diagnostics) {
	if diags.HasErrors() {
		m.writeJSON(map[string]any{"diagnostics": diagsJSON(diags)})
		return
	}
	// Warnings alone do not end the command, which has its own document
	// to write: they are events, like the others.
	enc := json.NewEncoder(m.err)
	for _, d := range diagsJSON(diags) {
		_ = enc.Encode(struct {
			Type string `json:"type"`
			diagJSON
		}{"diagnostic", d})
	}
}

// Explain, under -o json, makes the diagnostics that end the command
// its one document, so a script reads why as it reads everything else.
func (m machine) Explain(_ *config.Config, diags hcl.Diagnostics) {
	m.writeJSON(map[string]any{"diagnostics": diagsJSON(diags)})
}

func (m machine) Invalid(_ *config.Config, diags hcl.Diagnostics) {
	m.writeJSON(map[string]any{"valid": false, "diagnostics": diagsJSON(diags)})
}

// writeJSON writes the command's one JSON document to stdout.
func (v *view) writeJSON(doc any) {
	enc := json.NewEncoder(v.doc)
	enc.SetIndent("", "  ")
	_ = enc.Encode(doc)
}

type diagJSON struct {
	Severity string `json:"severity"`
	Summary  string `json:"summary"`
	Detail   string `json:"detail,omitempty"`
	File     string `json:"file,omitempty"`
	Line     int    `json:"line,omitempty"`
	Column   int    `json:"column,omitempty"`
}

func diagsJSON(diags hcl.Diagnostics) []diagJSON {
	out := []diagJSON{}
	for _, d := range diags {
		j := diagJSON{Severity: "error", Summary: d.Summary, Detail: d.Detail}
		if d.Severity == hcl.DiagWarning {
			j.Severity = "warning"
		}
		if d.Subject != nil {
			j.File, j.Line, j.Column = d.Subject.Filename, d.Subject.Start.Line, d.Subject.Start.Column
		}
		out = append(out, j)
	}
	return out
}

// rawJSON embeds already-encoded JSON.
type rawJSON []byte

func (j rawJSON) MarshalJSON() ([]byte, error) { return j, nil }
