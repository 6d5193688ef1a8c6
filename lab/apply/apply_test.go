package apply

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/zclconf/go-cty/cty"

	"labs.dev/lab/lab/config"
	"labs.dev/lab/lab/plan"
	"labs.dev/lab/lab/resource"
	"labs.dev/lab/lab/state"
)

// world is an in-memory stand-in for the things kinds manage, so the
// engine's ordering, deferral and state handling are tested on their own;
// the kinds themselves are tested against a real API server.
type world struct {
	mu      sync.Mutex
	objects map[string]string // addr → value
	log     []string
	fail    map[string]bool
	// refreshed lists the addresses Plan was called for.
	refreshed []string
	// hold, when set for an address, makes Apply of it signal started,
	// then wait for release or for its context to end.
	hold    map[string]chan struct{}
	started chan string
	ctxErr  map[string]error // the Apply context's error when it returned
}

type memKind struct {
	typ string
	w   *world
}

func (k memKind) Type() string { return k.typ }
func (k memKind) Schema() hcldec.Spec {
	return &hcldec.ObjectSpec{
		"value": &hcldec.AttrSpec{Name: "value", Type: cty.String, Required: true},
	}
}
func (k memKind) Computed() map[string]cty.Type { return map[string]cty.Type{"id": cty.String} }

func (k memKind) Plan(_ context.Context, req resource.PlanRequest) (*resource.Change, error) {
	k.w.mu.Lock()
	defer k.w.mu.Unlock()
	k.w.refreshed = append(k.w.refreshed, req.Addr.String())
	want := req.Config.GetAttr("value").AsString()
	live, ok := k.w.objects[req.Addr.String()]
	switch {
	case !ok && req.Prior != cty.NilVal:
		return &resource.Change{Action: resource.Create, Drift: true, Reason: "deleted outside lab"}, nil
	case !ok:
		return &resource.Change{Action: resource.Create}, nil
	case live != want:
		return &resource.Change{Action: resource.Update, Fields: []resource.FieldDiff{{Path: "value", Old: live, New: want}}}, nil
	}
	return &resource.Change{Action: resource.NoOp}, nil
}

func (k memKind) Apply(ctx context.Context, req resource.ApplyRequest) (cty.Value, error) {
	if release := k.w.hold[req.Addr.String()]; release != nil {
		k.w.started <- req.Addr.String()
		select {
		case <-release:
		case <-ctx.Done():
		}
		k.w.mu.Lock()
		k.w.ctxErr[req.Addr.String()] = ctx.Err()
		k.w.mu.Unlock()
		if err := ctx.Err(); err != nil {
			return cty.NilVal, err
		}
	}
	k.w.mu.Lock()
	defer k.w.mu.Unlock()
	if k.w.fail[req.Addr.String()] {
		return cty.NilVal, errors.New("boom")
	}
	v := req.Config.GetAttr("value").AsString()
	k.w.objects[req.Addr.String()] = v
	k.w.log = append(k.w.log, "apply "+req.Addr.String())
	return cty.ObjectVal(map[string]cty.Value{"value": cty.StringVal(v), "id": cty.StringVal("id-" + req.Addr.Name)}), nil
}

func (k memKind) Delete(_ context.Context, req resource.DeleteRequest) error {
	k.w.mu.Lock()
	defer k.w.mu.Unlock()
	delete(k.w.objects, req.Addr.String())
	k.w.log = append(k.w.log, "delete "+req.Addr.String())
	return nil
}

type fixture struct {
	t     *testing.T
	dir   string
	w     *world
	kinds map[string]resource.Kind
}

func newFixture(t *testing.T) *fixture {
	w := &world{objects: map[string]string{}, fail: map[string]bool{}, hold: map[string]chan struct{}{}, started: make(chan string, 10), ctxErr: map[string]error{}}
	return &fixture{t: t, dir: t.TempDir(), w: w, kinds: map[string]resource.Kind{
		"thing":    memKind{"thing", w},
		"sandbox":  memCluster{memKind{"sandbox", w}, true},
		"existing": memCluster{memKind{"existing", w}, false},
		"app":      memApp{w},
	}}
}

func (f *fixture) load(src string) *config.Config {
	f.t.Helper()
	path := filepath.Join(f.dir, "labs.hcl")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		f.t.Fatal(err)
	}
	cfg, diags := config.Load(path, config.Options{Kinds: f.kinds, Env: []string{}})
	if diags.HasErrors() {
		f.t.Fatal(diags)
	}
	return cfg
}

func (f *fixture) statePath() string { return filepath.Join(f.dir, ".lab", "state.json") }

func (f *fixture) plan(cfg *config.Config) (*plan.Plan, *state.State) {
	f.t.Helper()
	st, err := state.Load(f.statePath())
	if err != nil {
		f.t.Fatal(err)
	}
	p, err := plan.Make(context.Background(), cfg, st, plan.Options{})
	if err != nil {
		f.t.Fatal(err)
	}
	return p, st
}

func (f *fixture) apply(cfg *config.Config, destroy bool) *Result {
	f.t.Helper()
	var p *plan.Plan
	var st *state.State
	if destroy {
		var err error
		st, err = state.Load(f.statePath())
		if err != nil {
			f.t.Fatal(err)
		}
		p = plan.MakeDestroy(cfg, st, plan.Options{})
	} else {
		p, st = f.plan(cfg)
	}
	res, err := Apply(context.Background(), cfg, st, f.statePath(), p, f.kinds, plan.Options{})
	if err != nil {
		f.t.Fatal(err)
	}
	return res
}

const lab = `
resource "sandbox" "c" {
  value = "cluster"
}
resource "thing" "a" {
  value = "a-${sandbox.c.id}"
}
resource "thing" "b" {
  value = "b-${thing.a.value}"
}
`

func TestApplyCreatesInOrderAndConverges(t *testing.T) {
	f := newFixture(t)
	cfg := f.load(lab)
	p, _ := f.plan(cfg)
	if got := p.Change(resource.Addr{Type: "thing", Name: "b"}); got.Action != resource.Create || !got.Deferred {
		t.Fatalf("thing.b = %+v, want a deferred create (its value waits on the cluster's id)", got)
	}
	res := f.apply(cfg, false)
	if res.Err() != nil || res.Done[resource.Create] != 3 {
		t.Fatalf("result %+v", res)
	}
	if want := []string{"apply sandbox.c", "apply thing.a", "apply thing.b"}; !slices.Equal(f.w.log, want) {
		t.Errorf("order %v, want %v", f.w.log, want)
	}
	if f.w.objects["thing.b"] != "b-a-id-c" {
		t.Errorf("thing.b = %q: references were not resolved after apply", f.w.objects["thing.b"])
	}
	p, st := f.plan(cfg)
	if p.HasChanges() {
		t.Errorf("second plan has changes: %+v", p.Changes)
	}
	if st.Serial != 3 || st.Lineage == "" {
		t.Errorf("state serial %d lineage %q: want one write per resource", st.Serial, st.Lineage)
	}

	// Drift: deleted and changed by hand.
	delete(f.w.objects, "thing.a")
	f.w.objects["thing.b"] = "edited"
	p, _ = f.plan(cfg)
	a, b := p.Change(resource.Addr{Type: "thing", Name: "a"}), p.Change(resource.Addr{Type: "thing", Name: "b"})
	if a.Action != resource.Create || !a.Drift || b.Action != resource.Update {
		t.Errorf("drift plan a=%+v b=%+v", a, b)
	}
	f.apply(cfg, false)
	if p, _ := f.plan(cfg); p.HasChanges() {
		t.Error("apply did not repair the drift")
	}
}

func TestNothingRefreshesThroughAClusterApplyMustRepair(t *testing.T) {
	f := newFixture(t)
	cfg := f.load(lab)
	f.apply(cfg, false)
	// The cluster drifted (say, stopped by a reboot): what lives in it
	// cannot answer until apply has repaired it.
	f.w.objects["sandbox.c"] = "stopped"
	f.w.refreshed = nil
	p, _ := f.plan(cfg)
	if got := p.Change(resource.Addr{Type: "sandbox", Name: "c"}); got.Action != resource.Update {
		t.Fatalf("cluster change %+v", got)
	}
	for _, n := range []string{"a", "b"} {
		c := p.Change(resource.Addr{Type: "thing", Name: n})
		if !c.Deferred || c.Action != resource.Update {
			t.Errorf("thing.%s = %+v, want a deferred update", n, c)
		}
	}
	if !slices.Equal(f.w.refreshed, []string{"sandbox.c"}) {
		t.Errorf("refreshed %v, want only the cluster", f.w.refreshed)
	}
	f.apply(cfg, false)
	if p, _ := f.plan(cfg); p.HasChanges() {
		t.Error("apply did not converge after repairing the cluster")
	}
}

func TestRemovedFromConfigIsDeleted(t *testing.T) {
	f := newFixture(t)
	f.apply(f.load(lab), false)
	cfg := f.load(`
resource "sandbox" "c" {
  value = "cluster"
}
`)
	p, _ := f.plan(cfg)
	if c := p.Change(resource.Addr{Type: "thing", Name: "b"}); c == nil || c.Action != resource.Delete {
		t.Fatalf("thing.b change = %+v", c)
	}
	f.w.log = nil
	f.apply(cfg, false)
	if want := []string{"delete thing.b", "delete thing.a"}; !slices.Equal(f.w.log, want) {
		t.Errorf("order %v, want dependents first %v", f.w.log, want)
	}
}

func TestDestroySkipsWhatGoesWithTheCluster(t *testing.T) {
	f := newFixture(t)
	cfg := f.load(lab)
	f.apply(cfg, false)
	f.w.log = nil
	res := f.apply(cfg, true)
	if res.Done[resource.Delete] != 3 {
		t.Errorf("destroyed %d, want 3", res.Done[resource.Delete])
	}
	if want := []string{"delete sandbox.c"}; !slices.Equal(f.w.log, want) {
		t.Errorf("deletes %v, want only the cluster's (its contents go with it)", f.w.log)
	}
	st, _ := state.Load(f.statePath())
	if len(st.Resources) != 0 {
		t.Errorf("state still holds %v", st.Resources)
	}
}

func TestFailureSkipsDependentsAndKeepsState(t *testing.T) {
	f := newFixture(t)
	cfg := f.load(lab)
	f.w.fail["thing.a"] = true
	p, st := f.plan(cfg)
	res, err := Apply(context.Background(), cfg, st, f.statePath(), p, f.kinds, plan.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Failed) != 1 || !slices.Contains(res.Skipped, resource.Addr{Type: "thing", Name: "b"}) {
		t.Fatalf("failed %v skipped %v", res.Failed, res.Skipped)
	}
	st, _ = state.Load(f.statePath())
	if _, ok := st.Get(resource.Addr{Type: "sandbox", Name: "c"}); !ok {
		t.Error("the cluster applied before the failure is not in state")
	}
	f.w.fail["thing.a"] = false
	f.apply(cfg, false)
	if p, _ := f.plan(cfg); p.HasChanges() {
		t.Error("the run after the failure did not converge")
	}
	if n := countPrefix(f.w.log, "apply sandbox.c"); n != 1 {
		t.Errorf("cluster applied %d times, want once", n)
	}
}

func TestSavedPlanGoesStale(t *testing.T) {
	f := newFixture(t)
	cfg := f.load(lab)
	p, st := f.plan(cfg)
	path := filepath.Join(f.dir, "p.plan")
	if err := plan.Save(path, p); err != nil {
		t.Fatal(err)
	}
	saved, err := plan.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	hash := plan.ConfigHash(cfg, nil, nil)
	if why := saved.Stale(st, hash); why != "" {
		t.Fatalf("fresh plan stale: %s", why)
	}
	f.apply(cfg, false)
	st, _ = state.Load(f.statePath())
	if why := saved.Stale(st, hash); why == "" {
		t.Error("plan not stale after the state moved")
	}
	if info, _ := os.Stat(path); info.Mode().Perm() != 0o600 {
		t.Errorf("plan file mode %v, want 0600", info.Mode().Perm())
	}
}

func countPrefix(log []string, s string) int {
	n := 0
	for _, l := range log {
		if l == s {
			n++
		}
	}
	return n
}

// An interrupt lets the call in flight finish and records it, and starts
// nothing more.
func TestInterruptFinishesInFlightAndStartsNothing(t *testing.T) {
	f := newFixture(t)
	cfg := f.load(lab)
	release := make(chan struct{})
	f.w.hold["sandbox.c"] = release
	p, st := f.plan(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	type out struct {
		res *Result
		err error
	}
	done := make(chan out, 1)
	go func() {
		res, err := Apply(ctx, cfg, st, f.statePath(), p, f.kinds, plan.Options{})
		done <- out{res, err}
	}()
	<-f.w.started
	cancel()
	close(release)
	o := <-done
	if !errors.Is(o.err, context.Canceled) {
		t.Fatalf("Apply returned %v, want context.Canceled", o.err)
	}
	if err := f.w.ctxErr["sandbox.c"]; err != nil {
		t.Errorf("the call in flight saw its context end (%v); it should have been let finish", err)
	}
	if o.res.Done[resource.Create] != 1 || len(o.res.Failed) != 0 {
		t.Errorf("done %v failed %v, want the cluster created and nothing failed", o.res.Done, o.res.Failed)
	}
	notDone := []resource.Addr{{Type: "thing", Name: "a"}, {Type: "thing", Name: "b"}}
	for _, a := range notDone {
		if !slices.Contains(o.res.Skipped, a) {
			t.Errorf("%s not reported as not done: skipped %v", a, o.res.Skipped)
		}
	}
	if slices.Contains(f.w.log, "apply thing.a") {
		t.Error("thing.a was started after the interrupt")
	}
	st, err := state.Load(f.statePath())
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := st.Get(resource.Addr{Type: "sandbox", Name: "c"}); !ok || len(st.Resources) != 1 {
		t.Errorf("state holds %v, want just the cluster finished before the interrupt", st.Resources)
	}
	// The next run carries on without making the cluster again.
	delete(f.w.hold, "sandbox.c")
	f.apply(cfg, false)
	if n := countPrefix(f.w.log, "apply sandbox.c"); n != 1 {
		t.Errorf("cluster applied %d times, want once", n)
	}
}

// A call that does not finish within the grace after an interrupt is
// cancelled, reported, and left out of state.
func TestInterruptGraceEnds(t *testing.T) {
	old := InterruptGrace
	InterruptGrace = 50 * time.Millisecond
	t.Cleanup(func() { InterruptGrace = old })
	f := newFixture(t)
	cfg := f.load(lab)
	f.w.hold["sandbox.c"] = make(chan struct{}) // never released
	p, st := f.plan(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-f.w.started; cancel() }()
	res, err := Apply(ctx, cfg, st, f.statePath(), p, f.kinds, plan.Options{})
	if err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("Apply returned %v", err)
	}
	if len(res.Failed) != 1 || !errors.Is(res.Failed[0], context.Canceled) {
		t.Errorf("failed %v, want the cluster's call cancelled after the grace", res.Failed)
	}
	st, err = state.Load(f.statePath())
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Resources) != 0 {
		t.Errorf("state holds %v, want nothing", st.Resources)
	}
}

// unrecordable is a kind whose Apply returns attributes state cannot
// hold (one not known), as a kind handed an unknown value might.
type unrecordable struct{ memKind }

func (k unrecordable) Apply(ctx context.Context, req resource.ApplyRequest) (cty.Value, error) {
	if _, err := k.memKind.Apply(ctx, req); err != nil {
		return cty.NilVal, err
	}
	return cty.ObjectVal(map[string]cty.Value{"value": cty.UnknownVal(cty.String), "id": cty.StringVal("x")}), nil
}

// A resource state cannot record fails the apply: reporting it created
// would leave it made and unrecorded, so the next plan makes it again
// and lab down never deletes it.
func TestWhatStateCannotRecordFails(t *testing.T) {
	f := newFixture(t)
	f.kinds["odd"] = unrecordable{memKind{"odd", f.w}}
	cfg := f.load(`
resource "odd" "x" {
  value = "v"
}
`)
	res := f.apply(cfg, false)
	if res.Err() == nil || !strings.Contains(res.Err().Error(), "odd.x") || !strings.Contains(res.Err().Error(), "not all known") {
		t.Fatalf("apply of what state cannot hold: err %v, done %v", res.Err(), res.Done)
	}
	if res.Done[resource.Create] != 0 {
		t.Errorf("counted as created: %v", res.Done)
	}
}
