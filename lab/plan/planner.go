package plan

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/zclconf/go-cty/cty"

	"labs.dev/lab/lab/config"
	"labs.dev/lab/lab/resource"
	"labs.dev/lab/lab/state"
)

// planner plans resources in dependency order, remembering each planned
// value so references from later resources evaluate against it.
type planner struct {
	cfg     *config.Config
	st      *state.State
	opts    Options
	mu      sync.Mutex
	known   map[resource.Addr]cty.Value
	changed map[resource.Addr]*Change // planned so far, for dependents
	secrets []string                  // values of sensitive variables, for redact
}

// sameThing finds the configured resource, new to state, that stands for
// the same live thing as the state-only resource r (its block renamed).
func (pl *planner) sameThing(r state.Resource) (*config.Resource, string) {
	prior, err := r.Value()
	if err != nil {
		return nil, ""
	}
	for _, c := range pl.cfg.Resources {
		id, ok := c.Kind.(resource.Identifier)
		if c.Addr.Type != r.Addr.Type || !ok {
			continue
		}
		if _, inState := pl.st.Get(c.Addr); inState {
			continue
		}
		// The same name in another cluster is another thing.
		if !sameAddr(c.Cluster, r.Cluster) {
			continue
		}
		if _, ok := ClusterOf(pl.cfg, c, pl.opts.Env, pl.known); !ok {
			continue // a cluster made in this run: no prior can be in it
		}
		// Computed attributes of a create are unknown; an identity that
		// depends on unknown arguments is "" and matches nothing.
		planned := pl.known[c.Addr]
		if planned == cty.NilVal {
			continue
		}
		if a, b := id.Identity(planned), id.Identity(prior); a != "" && a == b {
			return c, strings.ReplaceAll(c.Addr.Type, "_", " ") + " " + resource.StringAttr(planned, "name")
		}
	}
	return nil, ""
}

func sameAddr(a, b *resource.Addr) bool {
	return a == nil && b == nil || a != nil && b != nil && *a == *b
}

func (pl *planner) snapshot() map[resource.Addr]cty.Value {
	pl.mu.Lock()
	defer pl.mu.Unlock()
	m := make(map[resource.Addr]cty.Value, len(pl.known))
	for k, v := range pl.known {
		m[k] = v
	}
	return m
}

func (pl *planner) plan(ctx context.Context, r *config.Resource) (*Change, error) {
	hook := pl.opts.Hook
	hook.PreRefresh(r.Addr)
	c, planned, err := pl.planOne(ctx, r)
	hook.PostRefresh(r.Addr, c, err)
	if err != nil {
		return nil, err
	}
	pl.mu.Lock()
	pl.known[r.Addr] = planned
	if pl.changed == nil {
		pl.changed = map[resource.Addr]*Change{}
	}
	pl.changed[r.Addr] = c
	pl.mu.Unlock()
	return c, nil
}

func (pl *planner) planOne(ctx context.Context, r *config.Resource) (*Change, cty.Value, error) {
	c := &Change{Addr: r.Addr, Deps: r.Deps}
	known := pl.snapshot()
	val, sensitive, err := Evaluate(pl.cfg, r, known)
	if err != nil {
		return nil, cty.NilVal, err
	}
	cluster, clusterKnown := ClusterOf(pl.cfg, r, pl.opts.Env, known)
	c.Sensitive = sensitive
	prior := cty.NilVal
	tainted := false
	moved := ""
	if sr, ok := pl.st.Get(r.Addr); ok {
		prior, err = sr.Value()
		if err != nil {
			return nil, cty.NilVal, fmt.Errorf("%s: state: %w", r.Addr, err)
		}
		tainted = sr.Status == state.StatusTainted
		moved = Moved(sr.Cluster, r.Cluster)
	}
	if !val.IsWhollyKnown() || !clusterKnown {
		c.Deferred = true
		switch {
		case prior == cty.NilVal:
			c.Action = resource.Create
		case moved != "":
			c.Action, c.Reason = resource.Replace, moved
		default:
			c.Action = resource.Update
			c.Reason = "depends on values known only after apply"
		}
		return c, Planned(r.Kind, val, prior, c.Action), nil
	}
	deferTo := func(dep string) (*Change, cty.Value, error) {
		c.Deferred = true
		c.Action = resource.Update
		if prior == cty.NilVal {
			c.Action = resource.Create
		}
		c.Reason = "cannot be refreshed until " + dep + " is applied"
		return c, Planned(r.Kind, val, prior, resource.NoOp), nil
	}
	// A cluster that apply must start or repair, or a dependency that
	// could not be refreshed itself, cannot answer a refresh now: waiting
	// for it to time out would only slow the plan down.
	if dep := pl.unreachableDep(r); dep != "" {
		return deferTo(dep)
	}
	req := resource.PlanRequest{Env: pl.opts.Env, Addr: r.Addr, Config: val, Prior: prior, Cluster: cluster}
	rc, err := r.Kind.Plan(ctx, req)
	if err != nil {
		// Any other dependency that apply will change can also make the
		// refresh fail now; refresh again once it is applied rather than
		// fail the whole plan.
		if dep := pl.changedDep(r); dep != "" {
			return deferTo(dep)
		}
		return nil, cty.NilVal, &ResourceError{Addr: r.Addr, Op: "refresh", Err: err}
	}
	c.Change = *rc
	if c.Action == "" {
		c.Action = resource.NoOp
	}
	if tainted && c.Action != resource.Create {
		c.Action = resource.Replace
		c.Reason = "the last apply failed midway (tainted); it will be recreated"
	}
	if moved != "" {
		c.Action, c.Reason = resource.Replace, moved
	}
	redact(c, pl.secrets)
	return c, Planned(r.Kind, val, prior, c.Action), nil
}

// changedDep names a dependency of r that apply will change, or "".
func (pl *planner) changedDep(r *config.Resource) string {
	pl.mu.Lock()
	defer pl.mu.Unlock()
	for _, d := range r.Deps {
		if c := pl.changed[d]; c != nil && c.Action != resource.NoOp && !connectsOnly(pl.cfg.Resource(d)) {
			return d.String()
		}
	}
	return ""
}

// unreachableDep names a dependency of r that is a cluster apply will
// change, or that was itself deferred, or "".
func (pl *planner) unreachableDep(r *config.Resource) string {
	pl.mu.Lock()
	defer pl.mu.Unlock()
	for _, d := range r.Deps {
		c := pl.changed[d]
		if c == nil {
			continue
		}
		if c.Deferred || (makesCluster(pl.cfg.Resource(d)) && c.Action != resource.NoOp) {
			return d.String()
		}
	}
	return ""
}
