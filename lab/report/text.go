// Package report renders the results of lab verify for people (text),
// programs (JSON) and CI (JUnit XML). It only writes what verify found:
// the object, field, expected and actual value of each failure, the
// author's message and hint, and why a check could not run.
package report

import (
	"fmt"
	"io"
	"strings"

	"labs.dev/lab/lab/ui/ansi"
	"labs.dev/lab/lab/verify"
)

// Text renders r for a person: a ✓ or ✗ line per check, under each
// failure the object, field, expected and actual value, message and
// hint; the last line is r.Summary().
func Text(w io.Writer, r *verify.Result, st ansi.Style) {
	for _, l := range r.Labs {
		head := l.Name
		if l.Title != "" {
			head += ": " + l.Title
		}
		fmt.Fprintln(w, st.Bold(head))
		shown := map[verify.ObjectRef]bool{} // missing objects already explained
		for _, c := range l.Checks {
			switch c.Status {
			case verify.Passed:
				fmt.Fprintf(w, "  %s %s\n", st.Green("✓"), c.Name)
			case verify.Failed:
				fmt.Fprintf(w, "  %s %s\n", st.Red("✗"), c.Name)
				for _, f := range c.Failures {
					if f.Missing && f.Object != nil {
						if shown[*f.Object] {
							fmt.Fprintf(w, "      %s is missing (see above)\n", f.Object)
							continue
						}
						shown[*f.Object] = true
					}
					Failure(w, f, st)
				}
			default:
				fmt.Fprintf(w, "  %s %s: could not check: %s\n", st.Yellow("!"), c.Name, errText(c.Err))
			}
		}
	}
	fmt.Fprintln(w, r.Summary())
}

// Failure renders one failure, indented under its check.
func Failure(w io.Writer, f verify.Failure, st ansi.Style) {
	const ind = "      "
	what := ""
	if f.Object != nil {
		what = f.Object.String()
	}
	if f.Field != "" {
		if what != "" {
			what += ": "
		}
		what += f.Field
	}
	if what != "" {
		fmt.Fprintf(w, "    %s\n", st.Bold(what))
	}
	if f.Expected != "" {
		fmt.Fprintf(w, "%sexpected: %s\n", ind, f.Expected)
	}
	if f.Actual != "" {
		fmt.Fprintf(w, "%sactual:   %s\n", ind, f.Actual)
	}
	for _, line := range strings.Split(f.Message, "\n") {
		fmt.Fprintf(w, "%s%s\n", ind, line)
	}
	if f.Hint != "" {
		lines := strings.Split(strings.TrimRight(f.Hint, "\n"), "\n")
		fmt.Fprintf(w, "%s%s %s\n", ind, st.Yellow("hint:"), lines[0])
		for _, line := range lines[1:] {
			fmt.Fprintf(w, "%s      %s\n", ind, line)
		}
	}
	for i, r := range f.Why {
		if i == maxWhy && len(f.Why) > maxWhy+1 {
			fmt.Fprintf(w, "%s%s and %d more (lab verify -o json lists them all)\n", ind, st.Yellow("why:"), len(f.Why)-maxWhy)
			break
		}
		fmt.Fprintf(w, "%s%s %s\n", ind, st.Yellow("why:"), r)
	}
}

// maxWhy is how many reasons a failure shows as text; a Deployment of
// fifty pods that all wait for the same node says so in a few lines.
const maxWhy = 10

func errText(err error) string {
	if err == nil {
		return "unknown error"
	}
	return err.Error()
}
