package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"

	"github.com/spf13/cobra"
	"github.com/zclconf/go-cty/cty"

	"labs.dev/lab/lab/plan"
	"labs.dev/lab/lab/resource"
	"labs.dev/lab/providers/kind/host"
)

// diagnoser is a kind whose resources need this machine to be fit for
// them (a container engine, a node image, free ports), and can say
// whether it is without changing anything.
type diagnoser interface {
	Diagnose(ctx context.Context, env resource.Env, addr resource.Addr, config cty.Value) (host.Report, error)
}

func (a *app) doctorCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "doctor",
		Short: "Check this machine can run the lab file's clusters: container engine, node image, cgroups, disk, inotify, ports (exit 1 when lab up would fail)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := a.load()
			if err != nil {
				var ce *codeError
				if errors.As(err, &ce) {
					err = ce.err
				}
				return withCode(exitChanges, err)
			}
			env := resource.Env{Dir: cfg.Dir, File: cfg.File, StateDir: filepath.Join(cfg.Dir, stateDirName),
				Log: slog.New(slog.DiscardHandler), Progress: func(resource.Progress) {}}
			known := stateValues(cfg)
			reports := []host.Report{}
			for _, r := range cfg.Resources {
				d, ok := r.Kind.(diagnoser)
				if !ok {
					continue
				}
				v, _, err := plan.Evaluate(cfg, r, known)
				if err == nil && !v.IsWhollyKnown() {
					err = errors.New("its arguments depend on values known only after apply")
				}
				if err != nil {
					return withCode(exitChanges, fmt.Errorf("%s: cannot be checked: %w", r.Addr, err))
				}
				rep, err := d.Diagnose(cmd.Context(), env, r.Addr, v)
				if err != nil {
					return withCode(exitChanges, err)
				}
				reports = append(reports, rep)
			}
			ok := true
			for _, r := range reports {
				ok = ok && r.Uses != ""
			}
			if a.output == "json" {
				a.writeJSON(map[string]any{"ok": ok, "clusters": reports})
			} else {
				a.writeReports(a.stdout, reports, displayPath(cfg, a.file))
			}
			if !ok {
				return withCode(exitError, nil)
			}
			return nil
		},
	}
	a.varFlags(cmd.Flags())
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return withCode(exitChanges, err) })
	return cmd
}

// writeReports prints each check as ✓ (fine, or lab works around it),
// ! (lab up goes on, but it may bite) or ✗ (lab up would fail), with
// the command that fixes it.
func (a *app) writeReports(w io.Writer, reports []host.Report, file string) {
	st := a.style()
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
