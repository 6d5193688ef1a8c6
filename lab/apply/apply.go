// Package apply carries out a plan: deletes in reverse dependency order,
// then creates and updates in dependency order, in parallel, recording
// state after every resource so an interrupted run resumes where it was.
package apply

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/zclconf/go-cty/cty"

	"labs.dev/lab/lab/config"
	"labs.dev/lab/lab/graph"
	"labs.dev/lab/lab/plan"
	"labs.dev/lab/lab/resource"
	"labs.dev/lab/lab/state"
)

// InterruptGrace is how long a provider call already in flight may go on
// after the apply's context ends (Ctrl-C): stopping a cluster start or a
// helm install halfway leaves more to clean up than letting it finish.
// After it, the call's own context ends too.
var InterruptGrace = 2 * time.Minute

// inFlight returns the context for one resource's provider calls: it
// ignores ctx ending for InterruptGrace, then ends.
func inFlight(ctx context.Context) (context.Context, context.CancelFunc) {
	c, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stop := context.AfterFunc(ctx, func() {
		t := time.AfterFunc(InterruptGrace, cancel)
		context.AfterFunc(c, func() { t.Stop() })
	})
	return c, func() { stop(); cancel() }
}

// Result says what an apply did.
type Result struct {
	Done    map[resource.Action]int
	Failed  []error
	Skipped []resource.Addr // not attempted: a dependency failed or the run was interrupted
	// Outputs are the output values after apply (sensitive ones marked).
	Outputs map[string]cty.Value
}

// Err returns the failures as one error, or nil.
func (r *Result) Err() error { return errors.Join(r.Failed...) }

// Apply carries out p. kinds maps block types to kinds for resources
// that are in state only (deleted from the config). The state is written
// to statePath after each resource.
func Apply(ctx context.Context, cfg *config.Config, st *state.State, statePath string, p *plan.Plan, kinds map[string]resource.Kind, opts plan.Options) (*Result, error) {
	opts = withDefaults(opts)
	a := &applier{
		cfg: cfg, st: st, p: p, kinds: kinds, opts: opts,
		w:      newWriter(statePath, st),
		known:  map[resource.Addr]cty.Value{},
		result: &Result{Done: map[resource.Action]int{}},
	}
	if err := a.deletes(ctx); err != nil {
		return a.result, err
	}
	if !p.Destroy {
		if err := a.forward(ctx); err != nil {
			return a.result, err
		}
		a.result.Outputs = a.cfg.OutputValues(a.snapshot())
	}
	return a.result, a.w.err()
}

func withDefaults(o plan.Options) plan.Options {
	if o.Parallelism <= 0 {
		o.Parallelism = 10
	}
	if o.Hook == nil {
		o.Hook = plan.NopHook{}
	}
	hook := o.Hook
	o.Env.Progress = func(p resource.Progress) { hook.Progress(p) }
	return o
}

type applier struct {
	cfg   *config.Config
	st    *state.State
	p     *plan.Plan
	kinds map[string]resource.Kind
	opts  plan.Options
	w     *writer

	mu       sync.Mutex
	known    map[resource.Addr]cty.Value
	result   *Result
	rechecks map[resource.Addr]*recheck
}

// recheck is one cluster's answer to resource.Rechecked, asked once per
// run however many resources are deleted in it.
type recheck struct {
	once sync.Once
	err  error
}

// recheck asks a cluster lab did not make whether its connection still
// reaches the cluster recorded in attrs.
func (a *applier) recheck(ctx context.Context, addr resource.Addr, kind resource.Kind, attrs cty.Value) error {
	rc, ok := kind.(resource.Rechecked)
	if !ok {
		return nil
	}
	a.mu.Lock()
	if a.rechecks == nil {
		a.rechecks = map[resource.Addr]*recheck{}
	}
	r := a.rechecks[addr]
	if r == nil {
		r = &recheck{}
		a.rechecks[addr] = r
	}
	a.mu.Unlock()
	r.once.Do(func() { r.err = rc.Recheck(ctx, a.opts.Env, addr, attrs) })
	return r.err
}

func (a *applier) fail(err error) {
	a.mu.Lock()
	a.result.Failed = append(a.result.Failed, err)
	a.mu.Unlock()
}

func (a *applier) done(action resource.Action) {
	a.mu.Lock()
	a.result.Done[action]++
	a.mu.Unlock()
}

func (a *applier) kind(addr resource.Addr) (resource.Kind, error) {
	if r := a.cfg.Resource(addr); r != nil {
		return r.Kind, nil
	}
	if k, ok := a.kinds[addr.Type]; ok {
		return k, nil
	}
	return nil, fmt.Errorf("%s: state holds a resource of type %q, which this lab does not know; remove it from %s by hand", addr, addr.Type, state.FileName)
}

// deletes removes the resources the plan deletes, each before the
// resources it depends on.
func (a *applier) deletes(ctx context.Context) error {
	g := graph.New()
	deleting := map[resource.Addr]*plan.Change{}
	for _, c := range a.p.Changes {
		if c.Action == resource.Delete {
			deleting[c.Addr] = c
			g.Add(c.Addr)
		}
	}
	if len(deleting) == 0 {
		return nil
	}
	for addr, c := range deleting {
		for _, d := range c.Deps {
			if deleting[d] != nil {
				g.Connect(addr, d)
			}
		}
	}
	err := g.Reverse().Walk(ctx, a.opts.Parallelism, func(ctx context.Context, addr resource.Addr) error {
		ctx, done := inFlight(ctx)
		defer done()
		return a.delete(ctx, addr, a.removedWithCluster(addr, deleting))
	})
	return a.walkResult(err)
}

// isCluster reports whether addr is a cluster others live in, and
// whether deleting it removes what lives in it.
func (a *applier) isCluster(addr resource.Addr) (cluster, removesContents bool) {
	kind, err := a.kind(addr)
	if err != nil {
		return false, false
	}
	c, ok := kind.(resource.Cluster)
	return ok, ok && c.RemovesContents()
}

// removedWithCluster reports whether addr lives in a cluster that is
// deleted in the same run and takes its contents with it: waiting for a
// namespace to finalize first would only make `lab down` slow.
func (a *applier) removedWithCluster(addr resource.Addr, deleting map[resource.Addr]*plan.Change) bool {
	if cluster, _ := a.isCluster(addr); cluster {
		return false
	}
	seen := map[resource.Addr]bool{}
	var walk func(resource.Addr) bool
	walk = func(x resource.Addr) bool {
		if seen[x] {
			return false
		}
		seen[x] = true
		c := deleting[x]
		if c == nil {
			return false
		}
		for _, d := range c.Deps {
			if _, removes := a.isCluster(d); removes && deleting[d] != nil {
				return true
			}
			if walk(d) {
				return true
			}
		}
		return false
	}
	return walk(addr)
}

// clusterOf is the connection of the cluster the resource recorded in
// state as sr was applied in, read from that cluster's state; nil when
// that cluster was deleted and took its contents with it.
func (a *applier) clusterOf(ctx context.Context, sr state.Resource) (*resource.Connection, error) {
	if sr.Cluster == nil {
		return &resource.Connection{}, nil
	}
	kind, err := a.kind(*sr.Cluster)
	if err != nil {
		return nil, err
	}
	cs, ok := a.w.get(*sr.Cluster)
	if !ok {
		if _, removes := a.isCluster(*sr.Cluster); removes {
			return nil, nil
		}
		return nil, fmt.Errorf("%s lives in %s, which is no longer in state, so lab cannot tell where to delete it from; bring the cluster back into the lab file and run lab up, or remove %s from %s by hand", sr.Addr, *sr.Cluster, sr.Addr, state.FileName)
	}
	attrs, err := cs.Value()
	if err != nil {
		return nil, fmt.Errorf("%s: state: %w", *sr.Cluster, err)
	}
	if err := a.recheck(ctx, *sr.Cluster, kind, attrs); err != nil {
		return nil, fmt.Errorf("%s: %w; lab deletes nothing there", sr.Addr, err)
	}
	conn, ok := plan.ClusterConnection(a.opts.Env, kind, attrs)
	if !ok {
		return nil, fmt.Errorf("%s lives in %s, whose state does not say how to reach it, so lab cannot tell where to delete it from; run lab up to record the cluster again", sr.Addr, *sr.Cluster)
	}
	return &conn, nil
}

func (a *applier) delete(ctx context.Context, addr resource.Addr, withCluster bool) error {
	hook := a.opts.Hook
	hook.PreApply(addr, resource.Delete)
	start := time.Now()
	err := func() error {
		sr, ok := a.w.get(addr)
		if !ok {
			return nil
		}
		if withCluster {
			return nil
		}
		prior, err := sr.Value()
		if err != nil {
			return fmt.Errorf("%s: state: %w", addr, err)
		}
		kind, err := a.kind(addr)
		if err != nil {
			return err
		}
		in, err := a.clusterOf(ctx, sr)
		if err != nil || in == nil {
			return err
		}
		env := a.opts.Env
		if err := kind.Delete(ctx, resource.DeleteRequest{Env: env, Addr: addr, Prior: prior, Cluster: *in}); err != nil {
			return &plan.ResourceError{Addr: addr, Op: "delete", Err: err}
		}
		return nil
	}()
	if err == nil {
		err = a.w.commit(func(st *state.State) { st.Remove(addr) })
	}
	hook.PostApply(addr, resource.Delete, time.Since(start), err)
	if err != nil {
		a.fail(err)
		return err
	}
	a.done(resource.Delete)
	return nil
}

// movedHere lists the renamed addresses whose thing addr now manages:
// they leave state in the same write that records addr, so a run that
// stops before addr is recorded keeps them (and the next plan forgets
// them again).
func (a *applier) movedHere(addr resource.Addr) []resource.Addr {
	var out []resource.Addr
	for _, c := range a.p.Changes {
		if c.Action == resource.Forget && c.MovedTo != nil && *c.MovedTo == addr {
			out = append(out, c.Addr)
		}
	}
	return out
}

// forward creates, updates and replaces in dependency order.
func (a *applier) forward(ctx context.Context) error {
	g, diags := plan.Graph(a.cfg)
	if diags.HasErrors() {
		return &plan.DiagError{Diags: diags}
	}
	err := g.Walk(ctx, a.opts.Parallelism, func(ctx context.Context, addr resource.Addr) error {
		ctx, done := inFlight(ctx)
		defer done()
		return a.apply(ctx, a.cfg.Resource(addr))
	})
	return a.walkResult(err)
}

func (a *applier) snapshot() map[resource.Addr]cty.Value {
	a.mu.Lock()
	defer a.mu.Unlock()
	m := make(map[resource.Addr]cty.Value, len(a.known))
	for k, v := range a.known {
		m[k] = v
	}
	return m
}

func (a *applier) remember(addr resource.Addr, v cty.Value) {
	a.mu.Lock()
	a.known[addr] = v
	a.mu.Unlock()
}

func (a *applier) apply(ctx context.Context, r *config.Resource) error {
	c := a.p.Change(r.Addr)
	if c == nil {
		return fmt.Errorf("%s is in %s but not in the plan; make a new plan", r.Addr, a.cfg.File)
	}
	prior := cty.NilVal
	sr, inState := a.w.get(r.Addr)
	movedFrom := ""
	if inState {
		v, err := sr.Value()
		if err != nil {
			return fmt.Errorf("%s: state: %w", r.Addr, err)
		}
		prior = v
		movedFrom = plan.Moved(sr.Cluster, r.Cluster)
	}
	known := a.snapshot()
	val, _, err := plan.Evaluate(a.cfg, r, known)
	if err != nil {
		a.fail(err)
		return err
	}
	cluster, ok := plan.ClusterOf(a.cfg, r, a.opts.Env, known)
	if !ok {
		err := fmt.Errorf("%s: the connection of its cluster %s is not known after that was applied (a bug in its kind)", r.Addr, r.Cluster)
		a.fail(err)
		return err
	}
	change := &c.Change
	if c.Deferred {
		// Planned before its dependencies existed: plan again now that
		// every value it needs is known.
		a.opts.Hook.PreRefresh(r.Addr)
		rc, err := r.Kind.Plan(ctx, resource.PlanRequest{Env: a.opts.Env, Addr: r.Addr, Config: val, Prior: prior, Cluster: cluster})
		if err != nil {
			err = &plan.ResourceError{Addr: r.Addr, Op: "refresh", Err: err}
			a.opts.Hook.PostRefresh(r.Addr, nil, err)
			a.fail(err)
			return err
		}
		if movedFrom != "" {
			rc.Action, rc.Reason = resource.Replace, movedFrom
		}
		a.opts.Hook.PostRefresh(r.Addr, &plan.Change{Addr: r.Addr, Change: *rc}, nil)
		change = rc
	}
	if change.Action == resource.NoOp {
		if prior != cty.NilVal {
			a.remember(r.Addr, prior)
		} else {
			a.remember(r.Addr, plan.Planned(r.Kind, val, prior, resource.NoOp))
		}
		return nil
	}
	hook := a.opts.Hook
	hook.PreApply(r.Addr, change.Action)
	start := time.Now()
	attrs, err := a.applyOne(ctx, r, val, prior, sr, change, cluster)
	moved := a.movedHere(r.Addr)
	if err == nil {
		// commit's own result must not overwrite a value state refused.
		var serr error
		err = a.w.commit(func(st *state.State) {
			if serr = st.SetValue(r.Addr, attrs, r.Deps); serr != nil {
				return
			}
			if sr, ok := st.Get(r.Addr); ok {
				sr.Cluster = r.Cluster
			}
			for _, old := range moved {
				st.Remove(old)
			}
		})
		if err == nil {
			err = serr
		}
	}
	if err == nil {
		for _, old := range moved {
			hook.PreApply(old, resource.Forget)
			hook.PostApply(old, resource.Forget, 0, nil)
			a.done(resource.Forget)
		}
	}
	hook.PostApply(r.Addr, change.Action, time.Since(start), err)
	if err != nil {
		a.fail(err)
		return err
	}
	a.remember(r.Addr, attrs)
	a.done(change.Action)
	return nil
}

// applyOne carries out change in cluster; a Replace first deletes prior
// (recorded as sr) from the cluster it was applied in, unless that
// cluster is gone and took it along.
func (a *applier) applyOne(ctx context.Context, r *config.Resource, val, prior cty.Value, sr state.Resource, change *resource.Change, cluster resource.Connection) (cty.Value, error) {
	env := a.opts.Env
	if change.Action == resource.Replace && prior != cty.NilVal {
		in, err := a.clusterOf(ctx, sr)
		if err != nil {
			return cty.NilVal, &plan.ResourceError{Addr: r.Addr, Op: "replace (delete)", Err: err}
		}
		if in != nil {
			if err := r.Kind.Delete(ctx, resource.DeleteRequest{Env: env, Addr: r.Addr, Prior: prior, Cluster: *in}); err != nil {
				return cty.NilVal, &plan.ResourceError{Addr: r.Addr, Op: "replace (delete)", Err: err}
			}
		}
		if err := a.w.commit(func(st *state.State) { st.Remove(r.Addr) }); err != nil {
			return cty.NilVal, err
		}
		prior = cty.NilVal
	}
	// Every dependency has been applied by now, so an unknown value is a
	// reference the graph missed: applied anyway, a manifest would land
	// in the context's default namespace.
	if p := unknownPath(val); p != "" {
		return cty.NilVal, &plan.ResourceError{Addr: r.Addr, Op: string(change.Action), Err: fmt.Errorf("argument %s is still unknown when it is to be applied, so lab applies nothing: lab did not order what it refers to before it. This is a bug in lab; please report it with your labs.hcl. Until it is fixed, add depends_on naming what %s refers to", p, p)}
	}
	attrs, err := r.Kind.Apply(ctx, resource.ApplyRequest{Env: env, Addr: r.Addr, Config: val, Prior: prior, Change: change, Cluster: cluster})
	if err != nil {
		return cty.NilVal, &plan.ResourceError{Addr: r.Addr, Op: string(change.Action), Err: err}
	}
	if attrs == cty.NilVal || attrs.IsNull() {
		return cty.NilVal, &plan.ResourceError{Addr: r.Addr, Op: string(change.Action), Err: errors.New("the resource kind returned no attributes (a bug in lab)")}
	}
	return attrs, nil
}

// walkResult turns a graph walk's outcome into the result: failures were
// already recorded; skipped nodes are listed.
func (a *applier) walkResult(err error) error {
	if err == nil {
		return nil
	}
	var we *graph.WalkError
	if errors.As(err, &we) {
		a.mu.Lock()
		for _, sk := range we.Skipped {
			a.result.Skipped = append(a.result.Skipped, sk.Addr)
		}
		a.result.Skipped = append(a.result.Skipped, we.NotStarted...)
		a.mu.Unlock()
		return we.Err
	}
	return err
}

// unknownPath names the first unknown value in v ("" when all are known).
func unknownPath(v cty.Value) string {
	if v == cty.NilVal || v.IsWhollyKnown() {
		return ""
	}
	v, _ = v.UnmarkDeep()
	var found string
	_ = cty.Walk(v, func(p cty.Path, v cty.Value) (bool, error) {
		if found != "" {
			return false, nil
		}
		if !v.IsKnown() {
			found = resource.CtyPath(p).String()
			if found == "" {
				found = "the whole block"
			}
			return false, nil
		}
		return true, nil
	})
	return found
}
