package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"labs.dev/lab/lab/apply"
	"labs.dev/lab/lab/config"
	"labs.dev/lab/lab/graph"
	"labs.dev/lab/lab/plan"
	"labs.dev/lab/lab/resource"
	"labs.dev/lab/lab/state"
	"labs.dev/lab/lab/ui"
)

// engineFlags are the flags of commands that plan or apply.
type engineFlags struct {
	parallelism int
	lockTimeout time.Duration
	autoApprove bool
}

func (a *app) engineFlags(f *pflag.FlagSet, e *engineFlags, approve bool) {
	a.varFlags(f)
	f.IntVar(&e.parallelism, "parallelism", 10, "resources to work on at once")
	f.DurationVar(&e.lockTimeout, "lock-timeout", 0, "wait this long for the state lock (e.g. 30s)")
	if approve {
		f.BoolVar(&e.autoApprove, "auto-approve", false, "do not ask for confirmation")
	}
}

// session is one command's view of a lab: its config, state and lock.
type session struct {
	a         *app
	cfg       *config.Config
	st        *state.State
	statePath string
	stateDir  string
	lock      *state.HeldLock
	opts      plan.Options
}

// open loads the lab file and its state; with lock it takes the state lock.
func (a *app) open(ctx context.Context, cmd *cobra.Command, e *engineFlags, lock bool) (*session, error) {
	cfg, err := a.load()
	if err != nil {
		return nil, err
	}
	if _, diags := plan.Graph(cfg); diags.HasErrors() {
		cfg.WriteDiagnostics(a.stderr, diags, a.color(a.stderr))
		return nil, withCode(exitError, fmt.Errorf("%s has a dependency cycle; fix it and run again", displayPath(cfg, a.file)))
	}
	s := &session{a: a, cfg: cfg, stateDir: filepath.Join(cfg.Dir, stateDirName)}
	s.statePath = filepath.Join(s.stateDir, state.FileName)
	if lock {
		l, err := state.LockContext(ctx, s.stateDir, state.LockInfo{Command: "lab " + cmd.Name()}, e.lockTimeout)
		if err != nil {
			return nil, err
		}
		s.lock = l
		if l.Stale != nil {
			// The OS released the holder's file lock, which it does only
			// when the holder died: taking over is safe, and said aloud.
			fmt.Fprintf(a.stderr, "%s the previous `%s` (pid %d on %s, started %s, lock ID %s) ended without releasing the state lock (killed or crashed); the system released it when that process died, so no force-unlock is needed. Its state holds what it finished; this run carries on from there.\n",
				a.paint("Note:", yellow), l.Stale.Command, l.Stale.PID, l.Stale.Host, l.Stale.Created.Local().Format(time.Stamp), l.Stale.ID)
		}
	}
	st, err := state.Load(s.statePath)
	if err != nil {
		s.close()
		return nil, err
	}
	s.st = st
	level := slog.LevelWarn
	if os.Getenv("LAB_LOG") == "debug" {
		level = slog.LevelDebug
	}
	s.opts = plan.Options{
		Env: resource.Env{
			Dir:      cfg.Dir,
			File:     cfg.File,
			StateDir: s.stateDir,
			Owner:    resource.NewOwner(cfg.File),
			Log:      slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: level})),
		},
		Parallelism: e.parallelism,
		VarFiles:    a.varFiles,
		Vars:        a.vars,
	}
	return s, nil
}

func (s *session) close() {
	if s.lock != nil {
		_ = s.lock.Unlock()
		s.lock = nil
	}
}

// hook returns the event sink for this run's output format.
func (s *session) hook(total int) (plan.Hook, func()) {
	a := s.a
	if a.output == "json" {
		return ui.NewJSONLines(a.stdout), func() {}
	}
	l := ui.NewLines(a.stdout, a.style(), terminalWidth(a.stdout), total)
	return l, l.Finish
}

func (a *app) style() ui.Style { return ui.Style{Color: a.color(a.stdout)} }

// makePlan refreshes and plans, reporting configuration errors as
// diagnostics.
func (s *session) makePlan(ctx context.Context, destroy bool) (*plan.Plan, error) {
	if destroy {
		return plan.MakeDestroy(s.cfg, s.st, s.opts), nil
	}
	opts := s.opts
	hook, finish := s.hook(0)
	opts.Hook = hook
	p, err := plan.Make(ctx, s.cfg, s.st, opts)
	finish()
	if err != nil {
		return nil, s.explain(err)
	}
	return p, nil
}

// explain prints configuration diagnostics with source snippets, and
// resource failures at the block that declares the resource.
func (s *session) explain(err error) error {
	if diags, ok := plan.IsDiag(err); ok {
		s.cfg.WriteDiagnostics(s.a.stderr, diags, s.a.color(s.a.stderr))
		return withCode(exitError, fmt.Errorf("%s has errors; fix them and run again", displayPath(s.cfg, s.a.file)))
	}
	var we *graph.WalkError
	if !errors.As(err, &we) || len(we.Failed) == 0 {
		return err
	}
	var diags hcl.Diagnostics
	for _, f := range we.Failed {
		if d, ok := plan.IsDiag(f.Err); ok {
			diags = append(diags, d...)
			continue
		}
		d := &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Cannot plan " + f.Addr.String(), Detail: f.Err.Error()}
		var re *plan.ResourceError
		if errors.As(f.Err, &re) {
			d.Summary = fmt.Sprintf("Cannot %s %s", re.Op, f.Addr)
			d.Detail = strings.TrimPrefix(re.Error(), fmt.Sprintf("%s: %s: ", re.Addr, re.Op))
		}
		if r := s.cfg.Resource(f.Addr); r != nil {
			d.Subject = r.DeclRange.Ptr()
		}
		diags = append(diags, d)
	}
	s.cfg.WriteDiagnostics(s.a.stderr, diags, s.a.color(s.a.stderr))
	msg := fmt.Sprintf("%d resource(s) could not be planned; nothing was changed", len(we.Failed))
	if len(we.Skipped) > 0 {
		msg += fmt.Sprintf(" (%d more wait on them)", len(we.Skipped))
	}
	return withCode(exitError, errors.New(msg))
}

func (s *session) showPlan(p *plan.Plan) {
	if s.a.output == "json" {
		s.a.writeJSON(ui.NewPlanJSON(p))
		return
	}
	ui.WritePlan(s.a.stdout, p, s.a.style())
}

// confirm asks like Terraform; only "yes" proceeds.
func (a *app) confirm(question string) error {
	fmt.Fprintf(a.stdout, "\n%s\n  Only 'yes' will be accepted to approve.\n\n  Enter a value: ", question)
	line, err := bufio.NewReader(a.stdin).ReadString('\n')
	if strings.TrimSpace(line) == "yes" {
		return nil
	}
	if err != nil && line == "" {
		return withCode(exitError, errors.New("no answer on standard input; run with -auto-approve to skip the question"))
	}
	return withCode(exitError, errors.New("cancelled; nothing was changed"))
}

// applyPlan carries out p and prints what happened.
func (s *session) applyPlan(ctx context.Context, p *plan.Plan) error {
	total := 0
	for _, c := range p.Changes {
		if c.Action != resource.NoOp || c.Deferred {
			total++
		}
	}
	opts := s.opts
	hook, finish := s.hook(total)
	opts.Hook = hook
	res, err := apply.Apply(ctx, s.cfg, s.st, s.statePath, p, s.a.kinds, opts)
	finish()
	if err != nil && !errors.Is(err, context.Canceled) {
		return s.explain(err)
	}
	if s.a.output == "json" {
		s.a.writeJSON(map[string]any{"done": res.Done, "failed": errStrings(res.Failed), "failed_by_reason": ui.GroupFailures(res.Failed), "skipped": res.Skipped, "outputs": outputsJSON(res.Outputs), "interrupted": ctx.Err() != nil})
	} else {
		s.report(res, p.Destroy, ctx.Err() != nil)
	}
	switch {
	case ctx.Err() != nil:
		return withCode(exitError, nil)
	case len(res.Failed) > 0:
		return withCode(exitError, fmt.Errorf("%d resource(s) failed; fix the cause and run again — lab carries on from where it stopped", len(res.Failed)))
	}
	return nil
}

func (s *session) report(res *apply.Result, destroy, interrupted bool) {
	a, st := s.a, s.a.style()
	w := a.stdout
	for _, err := range res.Failed {
		fmt.Fprintf(a.stderr, "%s %s\n", st.Red("Error:"), err)
	}
	if len(res.Failed) > 1 {
		for _, g := range ui.GroupFailures(res.Failed) {
			fmt.Fprintf(a.stderr, "%s\n", st.Bold(g.String()))
		}
	}
	if len(res.Skipped) > 0 {
		var names []string
		for _, s := range res.Skipped {
			names = append(names, s.String())
		}
		why := "because a resource they depend on failed"
		if interrupted {
			why = "because the run was interrupted"
		}
		fmt.Fprintf(w, "Not done %s: %s\n", why, strings.Join(names, ", "))
	}
	if interrupted {
		fmt.Fprintf(w, "\n%s Resources: %s before stopping. State holds everything finished; run the command again to carry on.\n",
			st.Yellow("Interrupted."), doneCounts(res.Done, destroy))
		return
	}
	if len(res.Failed) == 0 {
		fmt.Fprintf(w, "\n%s\n", st.Green(ui.Summary(res.Done, destroy)))
	}
	if len(res.Outputs) > 0 {
		fmt.Fprintln(w, "\nOutputs:")
		for name, v := range res.Outputs {
			fmt.Fprintf(w, "  %s = %s\n", name, renderValue(v))
		}
	}
}

// doneCounts says what an interrupted run finished.
func doneCounts(done map[resource.Action]int, destroy bool) string {
	if destroy {
		return fmt.Sprintf("%d destroyed", done[resource.Delete])
	}
	return fmt.Sprintf("%d added, %d changed, %d destroyed", done[resource.Create]+done[resource.Replace], done[resource.Update], done[resource.Delete])
}

func errStrings(errs []error) []string {
	out := []string{}
	for _, e := range errs {
		out = append(out, e.Error())
	}
	return out
}

// stateDirName is the lab's private directory beside the lab file.
const stateDirName = ".lab"
