package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

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
			v := a.views.Doctor()
			cfg, err := a.load()
			if err != nil {
				return err
			}
			env := resource.Env{Dir: cfg.Dir, File: cfg.File, StateDir: stateDir(cfg),
				Log: slog.New(slog.DiscardHandler), Progress: func(resource.Progress) {}}
			known := stateValues(cfg)
			reports := []host.Report{}
			for _, r := range cfg.Resources {
				d, ok := r.Kind.(diagnoser)
				if !ok {
					continue
				}
				val, _, err := plan.Evaluate(cfg, r, known)
				if err == nil && !val.IsWhollyKnown() {
					err = errors.New("its arguments depend on values known only after apply")
				}
				if err != nil {
					return fmt.Errorf("%s: cannot be checked: %w", r.Addr, err)
				}
				rep, err := d.Diagnose(cmd.Context(), env, r.Addr, val)
				if err != nil {
					return err
				}
				reports = append(reports, rep)
			}
			ok := true
			for _, r := range reports {
				ok = ok && r.Uses != ""
			}
			v.Reports(reports, a.displayPath(cfg), ok)
			if !ok {
				return exit(exitFailed, nil)
			}
			return nil
		},
	}
	a.varFlags(cmd.Flags())
	return annotate(cmd, checksWork)
}
