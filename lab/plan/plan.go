// Package plan refreshes every resource of a lab against the live world
// and works out what apply must do, in Terraform's terms: create, update,
// replace, delete or nothing, with drift called out.
package plan

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"labs.dev/lab/lab/config"
	"labs.dev/lab/lab/graph"
	"labs.dev/lab/lab/resource"
	"labs.dev/lab/lab/state"
)

// FormatVersion is the version of saved plan files.
const FormatVersion = 1

// Plan is what apply will do. It can be saved with -out and applied
// later, but only against the state it was made from.
type Plan struct {
	FormatVersion int       `json:"format_version"`
	Created       time.Time `json:"created"`
	// Lineage and Serial are the state's when the plan was made; a plan is
	// stale once they moved.
	Lineage string `json:"lineage"`
	Serial  uint64 `json:"serial"`
	// ConfigHash is a hash of the lab file and var files; a plan made
	// from another configuration is refused.
	ConfigHash string `json:"config_hash"`
	// Vars and VarFiles are the -var and -var-file options the plan was
	// made with; applying it uses them again.
	Vars     []string `json:"vars,omitempty"`
	VarFiles []string `json:"var_files,omitempty"`
	Destroy  bool     `json:"destroy,omitempty"`
	// Changes holds every resource in config or state, sorted by address.
	Changes []*Change `json:"changes"`
}

// Change is the plan for one resource.
type Change struct {
	Addr resource.Addr   `json:"addr"`
	Deps []resource.Addr `json:"deps,omitempty"`
	resource.Change
	// Deferred is true when the config depends on values only known after
	// its dependencies are applied; apply plans it again then.
	Deferred bool `json:"deferred,omitempty"`
	// Sensitive lists argument paths that hold sensitive values.
	Sensitive []string `json:"sensitive,omitempty"`
	// MovedTo is, for a Forget, the address that now manages the same
	// thing; the old address leaves state when that one is recorded.
	MovedTo *resource.Addr `json:"moved_to,omitempty"`
}

// HasChanges reports whether applying p would change anything.
func (p *Plan) HasChanges() bool {
	for _, c := range p.Changes {
		if c.Action != resource.NoOp {
			return true
		}
	}
	return false
}

// Counts returns how many resources each action touches.
func (p *Plan) Counts() map[resource.Action]int {
	n := map[resource.Action]int{}
	for _, c := range p.Changes {
		switch c.Action {
		case resource.Replace:
			n[resource.Create]++
			n[resource.Delete]++
		default:
			n[c.Action]++
		}
	}
	return n
}

// Change returns the change for addr, or nil.
func (p *Plan) Change(addr resource.Addr) *Change {
	for _, c := range p.Changes {
		if c.Addr == addr {
			return c
		}
	}
	return nil
}

// Hook receives the engine's events; the UI implements it. Methods are
// called from several goroutines.
type Hook interface {
	PreRefresh(addr resource.Addr)
	PostRefresh(addr resource.Addr, c *Change, err error)
	PreApply(addr resource.Addr, action resource.Action)
	PostApply(addr resource.Addr, action resource.Action, elapsed time.Duration, err error)
	Progress(p resource.Progress)
}

// NopHook ignores every event.
type NopHook struct{}

func (NopHook) PreRefresh(resource.Addr)                                       {}
func (NopHook) PostRefresh(resource.Addr, *Change, error)                      {}
func (NopHook) PreApply(resource.Addr, resource.Action)                        {}
func (NopHook) PostApply(resource.Addr, resource.Action, time.Duration, error) {}
func (NopHook) Progress(resource.Progress)                                     {}

// Options configure planning and applying.
type Options struct {
	Env         resource.Env // Addr-independent parts; Progress is set from Hook
	Parallelism int
	Hook        Hook
	// VarFiles are hashed into ConfigHash with the lab file.
	VarFiles []string
	Vars     []string
}

func (o *Options) defaults() {
	if o.Parallelism <= 0 {
		o.Parallelism = 10
	}
	if o.Hook == nil {
		o.Hook = NopHook{}
	}
	hook := o.Hook
	o.Env.Progress = func(p resource.Progress) { hook.Progress(p) }
}

// Graph returns the dependency graph of the configured resources, or
// diagnostics naming each cycle.
func Graph(cfg *config.Config) (*graph.Graph, hcl.Diagnostics) {
	g := graph.New()
	for _, r := range cfg.Resources {
		g.Add(r.Addr)
	}
	for _, r := range cfg.Resources {
		for _, d := range r.Deps {
			g.Connect(r.Addr, d)
		}
	}
	var diags hcl.Diagnostics
	for _, cycle := range g.Cycles() {
		var names []string
		for _, a := range cycle {
			names = append(names, a.String())
		}
		first := cfg.Resource(cycle[0])
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Dependency cycle",
			Detail: fmt.Sprintf("These resources depend on each other in a circle: %s → %s. Remove one reference or depends_on entry.",
				strings.Join(names, " → "), names[0]),
			Subject: first.DeclRange.Ptr(),
		})
	}
	return g, diags
}

// Make refreshes every resource against the live world and returns what
// apply would do. It changes nothing.
func Make(ctx context.Context, cfg *config.Config, st *state.State, opts Options) (*Plan, error) {
	opts.defaults()
	g, diags := Graph(cfg)
	if diags.HasErrors() {
		return nil, &DiagError{Diags: diags}
	}
	p := newPlan(cfg, st, opts)
	pl := &planner{cfg: cfg, st: st, opts: opts, known: map[resource.Addr]cty.Value{}, secrets: sensitiveStrings(cfg)}
	var mu sync.Mutex
	walkErr := g.Walk(ctx, opts.Parallelism, func(ctx context.Context, addr resource.Addr) error {
		c, err := pl.plan(ctx, cfg.Resource(addr))
		if err != nil {
			return err
		}
		mu.Lock()
		p.Changes = append(p.Changes, c)
		mu.Unlock()
		return nil
	})
	if walkErr != nil {
		return nil, walkErr
	}
	// In state but no longer configured: delete, dependents first; or,
	// when a renamed block manages the same thing, forget the old name.
	for _, r := range st.Resources {
		if cfg.Resource(r.Addr) != nil {
			continue
		}
		c := &Change{Addr: r.Addr, Deps: r.Deps, Change: resource.Change{Action: resource.Delete, Reason: "no longer in " + baseName(cfg.File)}}
		if by, what := pl.sameThing(r); by != nil {
			c.Action = resource.Forget
			c.MovedTo = &by.Addr
			c.Reason = fmt.Sprintf("no longer in %s, but %s manages the same %s; lab forgets the old name and deletes nothing", baseName(cfg.File), by.Addr, what)
		}
		p.Changes = append(p.Changes, c)
	}
	sortChanges(p.Changes)
	return p, nil
}

// MakeDestroy plans deleting every resource in state.
func MakeDestroy(cfg *config.Config, st *state.State, opts Options) *Plan {
	p := newPlan(cfg, st, opts)
	p.Destroy = true
	for _, r := range st.Resources {
		p.Changes = append(p.Changes, &Change{Addr: r.Addr, Deps: r.Deps, Change: resource.Change{Action: resource.Delete}})
	}
	sortChanges(p.Changes)
	return p
}

func newPlan(cfg *config.Config, st *state.State, opts Options) *Plan {
	return &Plan{
		FormatVersion: FormatVersion,
		Created:       time.Now().UTC(),
		Lineage:       st.Lineage,
		Serial:        st.Serial,
		ConfigHash:    ConfigHash(cfg, opts.VarFiles, opts.Vars),
		Vars:          opts.Vars,
		VarFiles:      opts.VarFiles,
	}
}

func sortChanges(cs []*Change) {
	sort.Slice(cs, func(i, j int) bool { return resource.Compare(cs[i].Addr, cs[j].Addr) < 0 })
}

// ConfigHash hashes what a plan was made from: the lab file, var files
// and -var values.
func ConfigHash(cfg *config.Config, varFiles, vars []string) string {
	h := sha256.New()
	for _, f := range append([]string{cfg.File}, varFiles...) {
		b, _ := os.ReadFile(f)
		fmt.Fprintf(h, "%s\x00%d\x00", f, len(b))
		h.Write(b)
	}
	for _, v := range vars {
		fmt.Fprintf(h, "%s\x00", v)
	}
	return hex.EncodeToString(h.Sum(nil))
}

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

// connectsOnly reports whether r is a cluster lab only connects to:
// applying it changes nothing in the cluster, so it cannot be why a
// refresh there fails.
func connectsOnly(r *config.Resource) bool {
	if r == nil {
		return false
	}
	c, ok := r.Kind.(resource.Cluster)
	return ok && !c.RemovesContents()
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

// makesCluster reports whether r is a cluster others live in that lab
// makes (and so starts or repairs): when one changes, what lives in it
// is refreshed after. A cluster lab only connects to (its contents
// outlive it) answered its own refresh, so what lives in it is refreshed
// now, even the first time it is recorded.
func makesCluster(r *config.Resource) bool {
	if r == nil {
		return false
	}
	c, ok := r.Kind.(resource.Cluster)
	return ok && c.RemovesContents()
}

// ClusterOf is the connection of the cluster r lives in (r.Cluster), read
// by the cluster's kind from its value in known: zero and true when the
// engine connects r to none, false while the cluster's connection is
// known only after apply.
func ClusterOf(cfg *config.Config, r *config.Resource, env resource.Env, known map[resource.Addr]cty.Value) (resource.Connection, bool) {
	if r.Cluster == nil {
		return resource.Connection{}, true
	}
	c := cfg.Resource(*r.Cluster)
	if c == nil {
		return resource.Connection{}, false
	}
	return ClusterConnection(env, c.Kind, known[c.Addr])
}

// Moved says why a resource recorded as living in cluster from is
// replaced when its block now lives in to; "" when it stays.
func Moved(from, to *resource.Addr) string {
	if from == nil || to == nil || *from == *to {
		return ""
	}
	return fmt.Sprintf("moved from cluster %s to %s: it is deleted from the one and created in the other", *from, *to)
}

// ClusterConnection reads the connection of a cluster of kind from its
// attributes; false when kind is no cluster, or attrs are missing or not
// known yet.
func ClusterConnection(env resource.Env, kind resource.Kind, attrs cty.Value) (resource.Connection, bool) {
	ck, ok := kind.(resource.Cluster)
	if !ok || attrs == cty.NilVal {
		return resource.Connection{}, false
	}
	return ck.Connection(env, attrs)
}

// Evaluate decodes a resource's arguments against the values known so
// far and separates out sensitive marks, which the kinds never see.
func Evaluate(cfg *config.Config, r *config.Resource, known map[resource.Addr]cty.Value) (cty.Value, []string, error) {
	ctx, diags := cfg.EvalContext(known)
	val, d := r.Decode(ctx)
	diags = append(diags, d...)
	if diags.HasErrors() {
		return cty.NilVal, nil, &DiagError{Diags: diags}
	}
	val, pvms := val.UnmarkDeepWithPaths()
	var sensitive []string
	for _, pvm := range pvms {
		if _, ok := pvm.Marks[config.Sensitive]; ok {
			sensitive = append(sensitive, pathString(pvm.Path))
		}
	}
	return val, sensitive, nil
}

// redact hides sensitive fields in a change's diff: those under a path
// that holds a sensitive value, and, since a kind may show a value under
// a path of its own (a manifest field built from content = yamlencode(...)),
// any that shows one of the sensitive values in secrets.
func redact(c *Change, secrets []string) {
	for i, f := range c.Fields {
		path := normalPath(f.Path)
		for _, s := range c.Sensitive {
			if path == s || strings.HasPrefix(path, s+".") || strings.HasPrefix(path, s+"[") {
				c.Fields[i].Sensitive = true
			}
		}
		if showsSecret(f.Old, secrets) || showsSecret(f.New, secrets) || showsSecret(f.Path, secrets) {
			c.Fields[i].Sensitive = true
			c.Fields[i].Path = hideSecrets(f.Path, secrets)
		}
		if c.Fields[i].Sensitive {
			if c.Fields[i].Old != "" {
				c.Fields[i].Old = "(sensitive)"
			}
			if c.Fields[i].New != "" {
				c.Fields[i].New = "(sensitive)"
			}
		}
	}
	c.Reason = hideSecrets(c.Reason, secrets)
}

// normalPath writes map keys as attributes, labels["team"] as
// labels.team, the form Evaluate gives sensitive paths in.
func normalPath(p string) string {
	if !strings.Contains(p, "[\"") {
		return p
	}
	return quotedKey.ReplaceAllStringFunc(p, func(m string) string {
		k, err := strconv.Unquote(m[1 : len(m)-1])
		if err != nil {
			return m
		}
		return "." + k
	})
}

var quotedKey = regexp.MustCompile(`\["(?:[^"\\]|\\.)*"\]`)

// minContained is the shortest sensitive value looked for inside longer
// text; a shorter one is hidden only where it is the whole value, or
// every "1" in a plan would be.
const minContained = 4

func showsSecret(s string, secrets []string) bool {
	for _, x := range secrets {
		if s == x || len(x) >= minContained && strings.Contains(s, x) {
			return true
		}
	}
	return false
}

func hideSecrets(s string, secrets []string) string {
	for _, x := range secrets {
		if s == x {
			return "(sensitive)"
		}
		if len(x) >= minContained {
			s = strings.ReplaceAll(s, x, "(sensitive)")
		}
	}
	return s
}

// sensitiveStrings lists every string and number inside the values of
// sensitive variables.
func sensitiveStrings(cfg *config.Config) []string {
	var out []string
	for _, v := range cfg.VariableValues() {
		if !v.HasMark(config.Sensitive) {
			continue
		}
		v, _ = v.UnmarkDeep()
		_ = cty.Walk(v, func(_ cty.Path, x cty.Value) (bool, error) {
			if x.IsNull() || !x.IsKnown() {
				return true, nil
			}
			switch x.Type() {
			case cty.String:
				if x.AsString() != "" {
					out = append(out, x.AsString())
				}
			case cty.Number:
				out = append(out, x.AsBigFloat().Text('f', -1))
			}
			return true, nil
		})
	}
	// Longest first, so a secret containing another is hidden whole.
	sort.Slice(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return out
}

// Planned is the value other resources see for a resource before it is
// applied: its arguments plus computed attributes, which are unknown when
// apply will create it and as recorded otherwise.
func Planned(kind resource.Kind, val, prior cty.Value, action resource.Action) cty.Value {
	attrs := map[string]cty.Value{}
	if val.Type().IsObjectType() && !val.IsNull() && val.IsKnown() {
		for k, v := range val.AsValueMap() {
			attrs[k] = v
		}
	}
	for name, ty := range kind.Computed() {
		v := cty.UnknownVal(ty)
		keep := action == resource.NoOp || action == resource.Update
		if keep && prior != cty.NilVal && !prior.IsNull() && prior.Type().IsObjectType() && prior.Type().HasAttribute(name) {
			v = prior.GetAttr(name)
		}
		attrs[name] = v
	}
	return cty.ObjectVal(attrs)
}

func pathString(p cty.Path) string {
	var b strings.Builder
	for _, step := range p {
		switch s := step.(type) {
		case cty.GetAttrStep:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(s.Name)
		case cty.IndexStep:
			if s.Key.Type() == cty.String {
				if b.Len() > 0 {
					b.WriteByte('.')
				}
				b.WriteString(s.Key.AsString())
			} else {
				bf := s.Key.AsBigFloat()
				i, _ := bf.Int64()
				fmt.Fprintf(&b, "[%d]", i)
			}
		}
	}
	return b.String()
}

func baseName(path string) string {
	if i := strings.LastIndexByte(path, '/'); i >= 0 {
		return path[i+1:]
	}
	return path
}

// DiagError is a configuration problem found while planning.
type DiagError struct{ Diags hcl.Diagnostics }

func (e *DiagError) Error() string {
	return config.SortDiagnostics(e.Diags).Error()
}

// ResourceError is a failure of one resource, named.
type ResourceError struct {
	Addr resource.Addr
	Op   string
	Err  error
}

func (e *ResourceError) Error() string {
	// Kinds often name the resource themselves; say it once.
	msg := strings.TrimPrefix(e.Err.Error(), e.Addr.String()+": ")
	return fmt.Sprintf("%s: %s: %s", e.Addr, e.Op, msg)
}
func (e *ResourceError) Unwrap() error { return e.Err }

// IsDiag reports whether err holds configuration diagnostics.
func IsDiag(err error) (hcl.Diagnostics, bool) {
	var de *DiagError
	if errors.As(err, &de) {
		return de.Diags, true
	}
	return nil, false
}
