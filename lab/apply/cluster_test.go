package apply

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/zclconf/go-cty/cty"

	"labs.dev/lab/lab/config"
	"labs.dev/lab/lab/resource"
	"labs.dev/lab/lab/state"
)

// memCluster is a cluster kind known only to these tests: the engine
// must treat it as kind_cluster is treated, by its capability alone.
// What lives in it connects through context "ctx-<value>".
type memCluster struct {
	memKind
	removes bool // deleting it removes what lives in it
}

func (k memCluster) Connection(env resource.Env, attrs cty.Value) (resource.Connection, bool) {
	if !resource.Known(attrs, "id", "value") || resource.StringAttr(attrs, "value") == "" {
		return resource.Connection{}, false
	}
	return resource.Connection{Kubeconfig: filepath.Join(env.Dir, "mem.kubeconfig"), Context: "ctx-" + resource.StringAttr(attrs, "value")}, true
}

func (k memCluster) RemovesContents() bool { return k.removes }

// memApp lives in a cluster: the one the engine connects it to, or the
// context its block states. The world keys it by "<context>/<addr>".
type memApp struct{ w *world }

func (memApp) Type() string { return "app" }
func (memApp) Schema() hcldec.Spec {
	return &hcldec.ObjectSpec{
		"value":   &hcldec.AttrSpec{Name: "value", Type: cty.String, Required: true},
		"context": &hcldec.AttrSpec{Name: "context", Type: cty.String},
	}
}
func (memApp) Computed() map[string]cty.Type { return map[string]cty.Type{} }

func (memApp) OwnConnection(_ resource.Env, config cty.Value) (resource.Connection, bool) {
	if !config.Type().HasAttribute("context") || config.GetAttr("context").IsNull() {
		return resource.Connection{}, false
	}
	return resource.Connection{Context: resource.StringAttr(config, "context")}, true
}

// where names the cluster a request for config goes to.
func (k memApp) where(cluster resource.Connection, config cty.Value) string {
	if own, ok := k.OwnConnection(resource.Env{}, config); ok {
		return own.Context
	}
	if cluster.Context == "" {
		return "(default)"
	}
	return cluster.Context
}

func (k memApp) Plan(_ context.Context, req resource.PlanRequest) (*resource.Change, error) {
	k.w.mu.Lock()
	defer k.w.mu.Unlock()
	where := k.where(req.Cluster, req.Config)
	k.w.refreshed = append(k.w.refreshed, req.Addr.String()+" in "+where)
	live, ok := k.w.objects[where+"/"+req.Addr.String()]
	switch want := resource.StringAttr(req.Config, "value"); {
	case !ok:
		return &resource.Change{Action: resource.Create}, nil
	case live != want:
		return &resource.Change{Action: resource.Update}, nil
	}
	return &resource.Change{Action: resource.NoOp}, nil
}

func (k memApp) Apply(_ context.Context, req resource.ApplyRequest) (cty.Value, error) {
	k.w.mu.Lock()
	defer k.w.mu.Unlock()
	where := k.where(req.Cluster, req.Config)
	k.w.objects[where+"/"+req.Addr.String()] = resource.StringAttr(req.Config, "value")
	k.w.log = append(k.w.log, "apply "+req.Addr.String()+" in "+where)
	return req.Config, nil
}

func (k memApp) Delete(_ context.Context, req resource.DeleteRequest) error {
	k.w.mu.Lock()
	defer k.w.mu.Unlock()
	where := k.where(req.Cluster, req.Prior)
	delete(k.w.objects, where+"/"+req.Addr.String())
	k.w.log = append(k.w.log, "delete "+req.Addr.String()+" in "+where)
	return nil
}

func (f *fixture) loadErr(src string) string {
	f.t.Helper()
	path := filepath.Join(f.dir, "labs.hcl")
	if err := writeFile(path, src); err != nil {
		f.t.Fatal(err)
	}
	_, diags := config.Load(path, config.Options{Kinds: f.kinds, Env: []string{}})
	if !diags.HasErrors() {
		f.t.Fatalf("loaded without errors:\n%s", src)
	}
	return diags.Error()
}

var (
	appA     = resource.Addr{Type: "app", Name: "a"}
	sandboxC = resource.Addr{Type: "sandbox", Name: "c"}
)

// A block that names no cluster lives in the lab file's only one: it is
// ordered after it, planned "known after apply" while the cluster is
// new, applied there, and recorded as living there.
func TestInClusterKindLivesInTheOnlyCluster(t *testing.T) {
	f := newFixture(t)
	cfg := f.load(`
resource "app" "a" {
  value = "x"
}
resource "sandbox" "c" {
  value = "one"
}
`)
	if r := cfg.Resource(appA); r.Cluster == nil || *r.Cluster != sandboxC || !slices.Contains(r.Deps, sandboxC) {
		t.Fatalf("app.a cluster %v deps %v, want sandbox.c for both", r.Cluster, r.Deps)
	}
	p, _ := f.plan(cfg)
	if c := p.Change(appA); c.Action != resource.Create || !c.Deferred {
		t.Errorf("app.a = %+v, want a create deferred until its cluster is made", c)
	}
	if len(f.w.refreshed) != 1 || f.w.refreshed[0] != "sandbox.c" {
		t.Errorf("refreshed %v before the cluster existed, want only the cluster", f.w.refreshed)
	}
	f.apply(cfg, false)
	if want := []string{"apply sandbox.c", "apply app.a in ctx-one"}; !slices.Equal(f.w.log, want) {
		t.Errorf("applied %v, want %v", f.w.log, want)
	}
	st, err := state.Load(f.statePath())
	if err != nil {
		t.Fatal(err)
	}
	if r, _ := st.Get(appA); r.Cluster == nil || *r.Cluster != sandboxC {
		t.Errorf("state records app.a in cluster %v, want sandbox.c", r.Cluster)
	}
	f.w.refreshed = nil
	if p, _ := f.plan(cfg); p.HasChanges() {
		t.Errorf("second plan has changes: %+v", p.Changes)
	}
	if !slices.Contains(f.w.refreshed, "app.a in ctx-one") {
		t.Errorf("refreshed %v, want app.a refreshed in its cluster", f.w.refreshed)
	}

	// The cluster changes (say, stopped): what lives in it waits.
	f.w.objects["sandbox.c"] = "stopped"
	f.w.refreshed = nil
	p, _ = f.plan(cfg)
	if c := p.Change(appA); !c.Deferred || slices.Contains(f.w.refreshed, "app.a in ctx-one") {
		t.Errorf("app.a = %+v, refreshed %v: want it deferred, not refreshed, while its cluster is repaired", c, f.w.refreshed)
	}
}

// A lab file with two clusters says which one each block lives in;
// a block that states its own connection needs neither.
func TestClusterArgumentAndOwnConnection(t *testing.T) {
	f := newFixture(t)
	cfg := f.load(`
resource "sandbox" "one" {
  value = "one"
}
resource "sandbox" "two" {
  value = "two"
}
resource "app" "a" {
  value   = "x"
  cluster = sandbox.two
}
resource "app" "own" {
  value   = "y"
  context = "elsewhere"
}
`)
	if r := cfg.Resource(resource.Addr{Type: "app", Name: "own"}); r.Cluster != nil || len(r.Deps) != 0 {
		t.Errorf("app.own cluster %v deps %v, want none: it states its own connection", r.Cluster, r.Deps)
	}
	f.apply(cfg, false)
	for _, want := range []string{"apply app.a in ctx-two", "apply app.own in elsewhere"} {
		if !slices.Contains(f.w.log, want) {
			t.Errorf("applied %v, want %q", f.w.log, want)
		}
	}

	// Destroy: what lives in a cluster that takes its contents goes
	// with it; what lives elsewhere is deleted on its own.
	f.w.log = nil
	f.apply(cfg, true)
	slices.Sort(f.w.log)
	if want := []string{"delete app.own in elsewhere", "delete sandbox.one", "delete sandbox.two"}; !slices.Equal(f.w.log, want) {
		t.Errorf("destroy did %v, want %v", f.w.log, want)
	}
}

// A cluster lab only connects to keeps its contents when it goes: they
// are deleted first, from that cluster, as is one whose block is gone.
func TestContentsOfAClusterThatKeepsThem(t *testing.T) {
	f := newFixture(t)
	src := `
resource "existing" "e" {
  value = "shared"
}
resource "app" "a" {
  value = "x"
}
resource "app" "b" {
  value = "y"
}
`
	f.apply(f.load(src), false)
	cfg := f.load(strings.Replace(src, "resource \"app\" \"b\" {\n  value = \"y\"\n}\n", "", 1))
	f.w.log = nil
	f.apply(cfg, false)
	if want := []string{"delete app.b in ctx-shared"}; !slices.Equal(f.w.log, want) {
		t.Errorf("removing app.b's block did %v, want %v", f.w.log, want)
	}
	f.w.log = nil
	f.apply(cfg, true)
	if want := []string{"delete app.a in ctx-shared", "delete existing.e"}; !slices.Equal(f.w.log, want) {
		t.Errorf("destroy did %v, want %v", f.w.log, want)
	}
}

// The cluster commands without a resource of their own talk to (verify,
// test, reset): the first cluster as recorded, else as declared.
func TestConnectionOfTheLab(t *testing.T) {
	f := newFixture(t)
	src := `
resource "app" "a" {
  value = "x"
}
resource "sandbox" "c" {
  value = "one"
}
`
	cfg := f.load(src)
	want := resource.Connection{Kubeconfig: filepath.Join(f.dir, "mem.kubeconfig"), Context: "ctx-one"}
	if got := cfg.Connection(nil); got != want {
		t.Errorf("before apply: %+v, want %+v (as declared)", got, want)
	}
	f.apply(cfg, false)
	cfg = f.load(strings.Replace(src, `"one"`, `"two"`, 1))
	st, _ := state.Load(f.statePath())
	if got := cfg.Connection(st.Values()); got != want {
		t.Errorf("after apply, declaration changed: %+v, want %+v (as recorded)", got, want)
	}
	cfg = f.load(`
resource "app" "own" {
  value   = "y"
  context = "elsewhere"
}
`)
	if got := cfg.Connection(nil); got != (resource.Connection{Context: "elsewhere"}) {
		t.Errorf("without a cluster: %+v, want the context a block states", got)
	}
}

func TestClusterDiagnostics(t *testing.T) {
	f := newFixture(t)
	two := `
resource "sandbox" "one" {
  value = "one"
}
resource "sandbox" "two" {
  value = "two"
}
`
	for _, tc := range []struct{ block, want string }{
		{`resource "app" "a" {
  value = "x"
}`, `labs.hcl:8,1-19: Which cluster?; app.a lives in a cluster, and this lab file declares 2: sandbox.one (labs.hcl:2), sandbox.two (labs.hcl:5). Say which one with cluster = sandbox.one`},
		{`resource "app" "a" {
  value   = "x"
  cluster = sandbox.three
}`, `labs.hcl:10,13-26: Reference to undeclared resource; There is no sandbox resource named "three"`},
		{`resource "app" "a" {
  value   = "x"
  cluster = "sandbox.one"
}`, `labs.hcl:10,13-26: Invalid cluster; cluster must name a cluster resource, like kind_cluster.kind (no quotes); this lab file declares sandbox.one`},
		{`resource "thing" "t" {
  value = "t"
}
resource "app" "a" {
  value   = "x"
  cluster = thing.t
}`, `labs.hcl:13,13-20: Not a cluster; thing.t is not a cluster`},
		{`resource "app" "a" {
  value   = "x"
  context = "elsewhere"
  cluster = sandbox.one
}`, `labs.hcl:11,13-24: Two connections; app.a names its cluster (cluster = sandbox.one) and also states a connection of its own`},
		{`resource "thing" "t" {
  value   = "t"
  cluster = sandbox.one
}`, `labs.hcl:10,3-10: Unsupported argument; An argument named "cluster" is not expected here.`},
	} {
		if got := f.loadErr(two + tc.block + "\n"); !strings.Contains(got, tc.want) {
			t.Errorf("%s\n  got:  %s\n  want: %s", tc.block, got, tc.want)
		}
	}
}

func writeFile(path, s string) error { return os.WriteFile(path, []byte(s), 0o644) }

// A block that moves to another cluster is deleted from the one it was
// applied in and created in the other; when the old cluster goes in the
// same run, what was in it went with it.
func TestMoveToAnotherCluster(t *testing.T) {
	f := newFixture(t)
	clusters := `
resource "sandbox" "one" {
  value = "one"
}
resource "sandbox" "two" {
  value = "two"
}
`
	f.apply(f.load(clusters+`
resource "app" "a" {
  value   = "x"
  cluster = sandbox.one
}
`), false)
	cfg := f.load(clusters + `
resource "app" "a" {
  value   = "x"
  cluster = sandbox.two
}
`)
	p, _ := f.plan(cfg)
	if c := p.Change(appA); c.Action != resource.Replace || c.Reason != "moved from cluster sandbox.one to sandbox.two: it is deleted from the one and created in the other" {
		t.Errorf("app.a = %+v, want a replace that says it moves", c)
	}
	f.w.log = nil
	f.apply(cfg, false)
	if want := []string{"delete app.a in ctx-one", "apply app.a in ctx-two"}; !slices.Equal(f.w.log, want) {
		t.Errorf("move did %v, want %v", f.w.log, want)
	}

	cfg = f.load(`
resource "sandbox" "one" {
  value = "one"
}
resource "app" "a" {
  value   = "x"
  cluster = sandbox.one
}
`)
	f.w.log = nil
	f.apply(cfg, false)
	slices.Sort(f.w.log)
	if want := []string{"apply app.a in ctx-one", "delete sandbox.two"}; !slices.Equal(f.w.log, want) {
		t.Errorf("moving out of a cluster that goes did %v, want %v", f.w.log, want)
	}
}
