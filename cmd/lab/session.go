package main

import (
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

	"labs.dev/lab/cmd/lab/views"
	"labs.dev/lab/lab/config"
	"labs.dev/lab/lab/graph"
	"labs.dev/lab/lab/plan"
	"labs.dev/lab/lab/resource"
	"labs.dev/lab/lab/state"
)

// engineFlags are the flags of commands that plan or apply.
type engineFlags struct {
	parallelism int
	lockTimeout time.Duration
	autoApprove bool
}

func (a *app) engineFlags(f *pflag.FlagSet, e *engineFlags, approve bool) {
	a.varFlags(f)
	f.IntVar(&e.parallelism, "parallelism", graph.DefaultParallelism, "resources to work on at once")
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
		a.views.Explain(cfg, diags)
		return nil, fmt.Errorf("%s has a dependency cycle; fix it and run again", a.displayPath(cfg))
	}
	s := &session{a: a, cfg: cfg, stateDir: stateDir(cfg)}
	s.statePath = filepath.Join(s.stateDir, state.FileName)
	if lock {
		l, err := state.LockContext(ctx, s.stateDir, state.LockInfo{Command: "lab " + cmd.Name()}, e.lockTimeout)
		if err != nil {
			return nil, err
		}
		s.lock = l
		if l.Stale != nil {
			a.views.StaleLock(l.Stale)
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

// makePlan refreshes and plans, showing the engine's events in op.
func (s *session) makePlan(ctx context.Context, op views.Operation, destroy bool) (*plan.Plan, error) {
	if destroy {
		return plan.MakeDestroy(s.cfg, s.st, s.opts), nil
	}
	opts := s.opts
	hook, finish := op.Hook(0)
	opts.Hook = hook
	p, err := plan.Make(ctx, s.cfg, s.st, opts)
	finish()
	if err != nil {
		return nil, s.explain(err)
	}
	return p, nil
}

// explain shows configuration diagnostics with source snippets, and
// resource failures at the block that declares the resource.
func (s *session) explain(err error) error {
	if diags, ok := plan.IsDiag(err); ok {
		s.a.views.Explain(s.cfg, diags)
		return fmt.Errorf("%s has errors; fix them and run again", s.a.displayPath(s.cfg))
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
	s.a.views.Explain(s.cfg, diags)
	msg := fmt.Sprintf("%d resource(s) could not be planned; nothing was changed", len(we.Failed))
	if len(we.Skipped) > 0 {
		msg += fmt.Sprintf(" (%d more wait on them)", len(we.Skipped))
	}
	return errors.New(msg)
}
