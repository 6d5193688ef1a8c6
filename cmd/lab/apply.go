package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"labs.dev/lab/cmd/lab/views"
	"labs.dev/lab/lab/apply"
	"labs.dev/lab/lab/plan"
	"labs.dev/lab/lab/resource"
)

// lab apply, up, destroy and down: one flow (operate). apply and destroy
// ask first (unless -auto-approve); up and down are the same without
// asking, for a lesson's two commands.

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
			o := o
			o.ask = o.ask && !e.autoApprove
			if len(args) == 1 {
				o.saved = args[0]
			}
			return a.operate(cmd, &e, o)
		},
	}
	a.engineFlags(cmd.Flags(), &e, o.ask)
	return cmd
}

// operation is one run of lab apply, up, destroy or down.
type operation struct {
	destroy bool
	ask     bool   // ask before applying
	saved   string // a plan saved by lab plan -out, applied as it is
}

// operate is the flow of lab apply, up, destroy and down: open the lab,
// plan (or read the saved plan), show it, ask, apply, report.
func (a *app) operate(cmd *cobra.Command, e *engineFlags, o operation) error {
	ctx := cmd.Context()
	v := a.views.Apply()
	var saved *plan.Plan
	if o.saved != "" {
		p, err := plan.Load(o.saved)
		if err != nil {
			return err
		}
		if len(a.vars) > 0 || len(a.varFiles) > 0 {
			return errors.New("a saved plan carries the variables it was made with; -var and -var-file cannot change them (make a new plan instead)")
		}
		a.vars, a.varFiles, saved = p.Vars, p.VarFiles, p
	}
	s, err := a.open(ctx, cmd, e, true)
	if err != nil {
		return err
	}
	defer s.close()
	if saved != nil {
		if why := saved.Stale(s.st, plan.ConfigHash(s.cfg, a.varFiles, a.vars)); why != "" {
			return fmt.Errorf("saved plan %s is stale: %s. Make a new one with lab plan -out %s", o.saved, why, o.saved)
		}
		return s.applyPlan(ctx, v, saved)
	}
	p, err := s.makePlan(ctx, v, o.destroy)
	if err != nil {
		return err
	}
	if !p.HasChanges() {
		v.Unchanged(p)
		return nil
	}
	v.Proposed(p)
	if o.ask {
		q := "Do you want to perform these actions?"
		if o.destroy {
			q = "Do you really want to destroy everything lab created?"
		}
		if err := confirm(v, q); err != nil {
			return err
		}
	}
	return s.applyPlan(ctx, v, p)
}

// confirm asks like Terraform; only "yes" proceeds.
func confirm(v views.Apply, question string) error {
	line, err := v.Ask(question)
	if strings.TrimSpace(line) == "yes" {
		return nil
	}
	if err != nil && line == "" {
		return errors.New("no answer on standard input; run with -auto-approve to skip the question")
	}
	return errors.New("cancelled; nothing was changed")
}

// applyPlan carries out p and reports what happened.
func (s *session) applyPlan(ctx context.Context, v views.Apply, p *plan.Plan) error {
	total := 0
	for _, c := range p.Changes {
		if c.Action != resource.NoOp || c.Deferred {
			total++
		}
	}
	opts := s.opts
	hook, finish := v.Hook(total)
	opts.Hook = hook
	res, err := apply.Apply(ctx, s.cfg, s.st, s.statePath, p, s.a.kinds, opts)
	finish()
	if err != nil && !errors.Is(err, context.Canceled) {
		return s.explain(err)
	}
	interrupted := ctx.Err() != nil
	v.Result(res, p.Destroy, interrupted)
	switch {
	case interrupted:
		return exit(exitFailed, nil)
	case len(res.Failed) > 0:
		return fmt.Errorf("%d resource(s) failed; fix the cause and run again — lab carries on from where it stopped", len(res.Failed))
	}
	return nil
}
