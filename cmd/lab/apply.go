package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"labs.dev/lab/lab/plan"
)

// apply and destroy ask first (unless -auto-approve); up and down are
// the same without asking, for a lesson's two commands.

func (a *app) applyCmd() *cobra.Command {
	cmd := a.operationCmd("apply [PLAN_FILE]", "Create or update the environment (asks first unless -auto-approve or a saved plan)", operation{ask: true})
	cmd.Args = cobra.MaximumNArgs(1) // a plan saved by lab plan -out
	return cmd
}

func (a *app) destroyCmd() *cobra.Command {
	return a.operationCmd("destroy", "Destroy everything lab created (asks first unless -auto-approve)", operation{destroy: true, ask: true})
}

func (a *app) upCmd() *cobra.Command {
	return a.operationCmd("up", "Bring the lab environment up: plan and apply, without asking", operation{})
}

func (a *app) downCmd() *cobra.Command {
	return a.operationCmd("down", "Tear the lab environment down, without asking; nothing lab made is left behind", operation{destroy: true})
}

// operationCmd is a command that plans and applies (or destroys); one
// that asks takes -auto-approve not to.
func (a *app) operationCmd(use, short string, o operation) *cobra.Command {
	var e engineFlags
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				return a.applySaved(cmd, &e, args[0])
			}
			o := o
			o.ask = o.ask && !e.autoApprove
			return a.operate(cmd, &e, o)
		},
	}
	a.engineFlags(cmd.Flags(), &e, o.ask)
	return cmd
}

// applySaved applies a plan saved by lab plan -out, unless the state or
// the lab file moved since.
func (a *app) applySaved(cmd *cobra.Command, e *engineFlags, path string) error {
	p, err := plan.Load(path)
	if err != nil {
		return err
	}
	if len(a.vars) > 0 || len(a.varFiles) > 0 {
		return errors.New("a saved plan carries the variables it was made with; -var and -var-file cannot change them (make a new plan instead)")
	}
	a.vars, a.varFiles = p.Vars, p.VarFiles
	ctx := cmd.Context()
	v := a.views.Apply()
	s, err := a.open(ctx, cmd, e, true)
	if err != nil {
		return err
	}
	defer s.close()
	if why := p.Stale(s.st, plan.ConfigHash(s.cfg, a.varFiles, a.vars)); why != "" {
		return fmt.Errorf("saved plan %s is stale: %s. Make a new one with lab plan -out %s", path, why, path)
	}
	return s.applyPlan(ctx, v, p)
}
