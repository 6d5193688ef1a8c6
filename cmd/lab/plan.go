package main

import (
	"github.com/spf13/cobra"

	"labs.dev/lab/lab/plan"
)

func (a *app) planCmd() *cobra.Command {
	var e engineFlags
	var detailed, destroy bool
	var out string
	cmd := &cobra.Command{
		Use:   "plan",
		Short: "Show what apply would change, refreshed against the live cluster",
		Long: `plan refreshes every resource against the live cluster, compares it with
the lab file and prints what apply would do: + create, ~ update, -/+ replace,
- destroy. Changes made by hand outside lab are called out as drift.

Exit codes with -detailed-exitcode: 0 no changes, 1 error, 2 changes.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			v := a.views.Plan()
			s, err := a.open(cmd.Context(), cmd, &e, false)
			if err != nil {
				return err
			}
			defer s.close()
			p, err := s.makePlan(cmd.Context(), v, destroy)
			if err != nil {
				return err
			}
			v.Plan(p)
			if out != "" {
				if err := plan.Save(out, p); err != nil {
					return err
				}
				v.Saved(out)
			}
			if detailed && p.HasChanges() {
				return exit(exitChanges, nil)
			}
			return nil
		},
	}
	a.engineFlags(cmd.Flags(), &e, false)
	cmd.Flags().BoolVar(&detailed, "detailed-exitcode", false, "exit 2 when there are changes, 0 when none, 1 on error")
	cmd.Flags().StringVar(&out, "out", "", "save the plan to this file for `lab apply FILE`")
	cmd.Flags().BoolVar(&destroy, "destroy", false, "plan destroying everything lab created")
	return cmd
}
