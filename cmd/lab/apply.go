package main

import (
	"fmt"

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
			s, err := a.open(cmd.Context(), cmd, &e, false)
			if err != nil {
				return err
			}
			defer s.close()
			p, err := s.makePlan(cmd.Context(), destroy)
			if err != nil {
				return err
			}
			s.showPlan(p)
			if out != "" {
				if err := plan.Save(out, p); err != nil {
					return err
				}
				if a.output == "text" {
					fmt.Fprintf(a.stdout, "\nSaved the plan to %s. Apply exactly these actions with: lab apply %s\n", out, out)
				}
			}
			if detailed && p.HasChanges() {
				return withCode(exitChanges, nil)
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

func (a *app) applyCmd() *cobra.Command {
	var e engineFlags
	cmd := &cobra.Command{
		Use:   "apply [PLAN_FILE]",
		Short: "Create or update the environment (asks first unless -auto-approve or a saved plan)",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				return a.applySaved(cmd, &e, args[0])
			}
			return a.runApply(cmd, &e, false, !e.autoApprove)
		},
	}
	a.engineFlags(cmd.Flags(), &e, true)
	return cmd
}

func (a *app) upCmd() *cobra.Command {
	var e engineFlags
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Bring the lab environment up: plan and apply, without asking",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.runApply(cmd, &e, false, false)
		},
	}
	a.engineFlags(cmd.Flags(), &e, false)
	return cmd
}

func (a *app) destroyCmd() *cobra.Command {
	var e engineFlags
	cmd := &cobra.Command{
		Use:   "destroy",
		Short: "Destroy everything lab created (asks first unless -auto-approve)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.runApply(cmd, &e, true, !e.autoApprove)
		},
	}
	a.engineFlags(cmd.Flags(), &e, true)
	return cmd
}

func (a *app) downCmd() *cobra.Command {
	var e engineFlags
	cmd := &cobra.Command{
		Use:   "down",
		Short: "Tear the lab environment down, without asking; nothing lab made is left behind",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.runApply(cmd, &e, true, false)
		},
	}
	a.engineFlags(cmd.Flags(), &e, false)
	return cmd
}

// runApply plans and applies (or destroys), asking first when ask is set.
func (a *app) runApply(cmd *cobra.Command, e *engineFlags, destroy, ask bool) error {
	ctx := cmd.Context()
	s, err := a.open(ctx, cmd, e, true)
	if err != nil {
		return err
	}
	defer s.close()
	p, err := s.makePlan(ctx, destroy)
	if err != nil {
		return err
	}
	if !p.HasChanges() {
		if a.output == "json" {
			s.showPlan(p)
		} else if destroy {
			fmt.Fprintln(a.stdout, "Nothing to destroy: lab has created nothing here (or it is all gone already).")
		} else {
			s.showPlan(p)
		}
		return nil
	}
	if a.output == "text" {
		s.showPlan(p)
		fmt.Fprintln(a.stdout)
	}
	if ask {
		q := "Do you want to perform these actions?"
		if destroy {
			q = "Do you really want to destroy everything lab created?"
		}
		if err := a.confirm(q); err != nil {
			return err
		}
	}
	return s.applyPlan(ctx, p)
}

func (a *app) applySaved(cmd *cobra.Command, e *engineFlags, path string) error {
	p, err := plan.Load(path)
	if err != nil {
		return err
	}
	if len(a.vars) > 0 || len(a.varFiles) > 0 {
		return fmt.Errorf("a saved plan carries the variables it was made with; -var and -var-file cannot change them (make a new plan instead)")
	}
	a.vars, a.varFiles = p.Vars, p.VarFiles
	ctx := cmd.Context()
	s, err := a.open(ctx, cmd, e, true)
	if err != nil {
		return err
	}
	defer s.close()
	if why := p.Stale(s.st, plan.ConfigHash(s.cfg, a.varFiles, a.vars)); why != "" {
		return fmt.Errorf("saved plan %s is stale: %s. Make a new one with lab plan -out %s", path, why, path)
	}
	return s.applyPlan(ctx, p)
}
