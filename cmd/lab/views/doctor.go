package views

import (
	"fmt"

	"labs.dev/lab/providers/kind/host"
)

// Doctor is lab doctor's view.
type Doctor interface {
	// Reports shows what was checked for each cluster of file; ok says
	// lab up can make them all.
	Reports(reports []host.Report, file string, ok bool)
}

func (h human) Doctor() Doctor   { return doctorHuman{h.view} }
func (m machine) Doctor() Doctor { return doctorJSON{m.view} }

type (
	doctorHuman struct{ v *view }
	doctorJSON  struct{ v *view }
)

// Reports shows each check as ✓ (fine, or lab works around it), ! (lab
// up goes on, but it may bite) or ✗ (lab up would fail), with the
// command that fixes it.
func (x doctorHuman) Reports(reports []host.Report, file string, _ bool) {
	v := x.v
	st, w := v.outStyle, v.out
	if len(reports) == 0 {
		fmt.Fprintf(w, "%s declares no cluster that runs on this machine; nothing to check.\n", file)
		return
	}
	for i, r := range reports {
		if i > 0 {
			fmt.Fprintln(w)
		}
		fmt.Fprintf(w, "%s (runtime %s)\n", st.Bold(r.Resource), r.Runtime)
		for _, f := range r.Findings {
			mark := st.Green("✓")
			switch f.Status {
			case host.Warn:
				mark = st.Yellow("!")
			case host.Fail:
				mark = st.Red("✗")
			}
			where := f.Engine
			if where == "" {
				where = f.Check
			}
			fmt.Fprintf(w, "  %s %-9s %s\n", mark, where, f.Message)
			if f.Fix != "" && f.Status != host.OK {
				fmt.Fprintf(w, "              fix: %s\n", f.Fix)
			}
		}
		if r.Uses != "" {
			fmt.Fprintf(w, "%s lab up uses %s\n", st.Green("→"), r.Why)
		} else {
			fmt.Fprintf(w, "%s %s\n", st.Red("→"), r.Why)
		}
	}
}

func (x doctorJSON) Reports(reports []host.Report, _ string, ok bool) {
	v := x.v
	v.writeJSON(map[string]any{"ok": ok, "clusters": reports})
}
