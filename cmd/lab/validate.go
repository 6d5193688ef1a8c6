package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"labs.dev/lab/lab/config"
	"labs.dev/lab/lab/plan"
	"labs.dev/lab/lab/verify"
)

func (a *app) validateCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "validate",
		Short: "Check the lab file without touching any cluster",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			v := a.views.Validate()
			cfg, err := a.load()
			if err != nil {
				return err
			}
			if _, diags := plan.Graph(cfg); diags.HasErrors() {
				a.views.Invalid(cfg, diags)
				return fmt.Errorf("%s has a dependency cycle", a.displayPath(cfg))
			}
			if err := a.checkOffline(cfg); err != nil {
				return err
			}
			v.Valid(a.displayPath(cfg), len(cfg.Resources), len(cfg.Labs))
			return nil
		},
	}
	a.varFlags(cmd.Flags())
	return cmd
}

// checkOffline reports what each kind can find wrong with its arguments
// without a cluster, then what is wrong in the lab blocks: these are
// decoded by verify, and an author wants their mistakes now, not when a
// learner runs lab verify.
func (a *app) checkOffline(cfg *config.Config) error {
	if diags := plan.Validate(cfg); diags.HasErrors() {
		a.views.Invalid(cfg, diags)
		return fmt.Errorf("%s has errors; fix them and run again", a.displayPath(cfg))
	}
	if _, diags := verify.Decode(cfg, nil); diags.HasErrors() {
		a.views.Invalid(cfg, diags)
		return fmt.Errorf("the lab blocks of %s have errors; fix them and run again", a.displayPath(cfg))
	}
	return nil
}
