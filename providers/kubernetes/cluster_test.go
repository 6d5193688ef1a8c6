package kubernetes

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/zclconf/go-cty/cty"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"labs.dev/lab/lab/resource"
	"labs.dev/lab/providers/simulated/simtest"
)

func TestMain(m *testing.M) { os.Exit(simtest.Main(m)) }

var (
	configmaps  = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}
	deployments = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
)

// fixture runs a kind's Plan and Apply the way the engine does, for one
// lab file in a temporary directory.
type fixture struct {
	t    testing.TB
	kind resource.Kind
	env  resource.Env
	addr resource.Addr
	dyn  dynamic.Interface
	kc   map[string]cty.Value
	// state is what the engine would have recorded after the last apply
	state cty.Value
}

func newFixture(t testing.TB, kind resource.Kind, name string) *fixture {
	c := simtest.Get(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "labs.hcl")
	dyn, err := dynamic.NewForConfig(c.Config)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{
		t:    t,
		kind: kind,
		addr: resource.Addr{Type: kind.Type(), Name: name},
		dyn:  dyn,
		env: resource.Env{
			Dir: dir, File: file, StateDir: filepath.Join(dir, ".lab"),
			Owner:    resource.NewOwner(file),
			Log:      slog.New(slog.NewTextHandler(io.Discard, nil)),
			Progress: func(p resource.Progress) { t.Logf("progress: %s (%d/%d)", p.Msg, p.Done, p.Total) },
		},
		kc:    map[string]cty.Value{"kubeconfig": cty.StringVal(c.Kubeconfig), "context": cty.StringVal(c.Context)},
		state: cty.NilVal,
	}
}

// config is an object of the kind's schema: attrs, the connection, nulls.
func (f *fixture) config(attrs map[string]cty.Value) cty.Value {
	m := map[string]cty.Value{}
	for name, ty := range hcldec.ImpliedType(f.kind.Schema()).AttributeTypes() {
		if v, ok := attrs[name]; ok {
			m[name] = v
		} else if v, ok := f.kc[name]; ok {
			m[name] = v
		} else {
			m[name] = cty.NullVal(ty)
		}
	}
	return cty.ObjectVal(m)
}

func (f *fixture) plan(cfg cty.Value) *resource.Change {
	f.t.Helper()
	ch, err := f.kind.Plan(ctx(f.t), resource.PlanRequest{Env: f.env, Addr: f.addr, Config: cfg, Prior: f.state})
	if err != nil {
		f.t.Fatalf("plan: %v", err)
	}
	return ch
}

func (f *fixture) apply(cfg cty.Value, ch *resource.Change) {
	f.t.Helper()
	if err := f.tryApply(cfg, ch); err != nil {
		f.t.Fatalf("apply: %v", err)
	}
}

func (f *fixture) tryApply(cfg cty.Value, ch *resource.Change) error {
	prior := f.state
	if ch.Action == resource.Replace && prior != cty.NilVal {
		if err := f.kind.Delete(ctx(f.t), resource.DeleteRequest{Env: f.env, Addr: f.addr, Prior: prior}); err != nil {
			return err
		}
		prior = cty.NilVal
	}
	v, err := f.kind.Apply(ctx(f.t), resource.ApplyRequest{Env: f.env, Addr: f.addr, Config: cfg, Prior: prior, Change: ch})
	if err != nil {
		return err
	}
	want := hcldec.ImpliedType(f.kind.Schema()).AttributeTypes()
	for k, ty := range f.kind.Computed() {
		want[k] = ty
	}
	if !v.Type().Equals(cty.Object(want)) {
		f.t.Fatalf("Apply returned %#v, want an object of the schema plus computed attributes", v.Type())
	}
	f.state = v
	return nil
}

// up plans and applies, and checks that a second plan is a no-op.
func (f *fixture) up(cfg cty.Value) *resource.Change {
	f.t.Helper()
	ch := f.plan(cfg)
	f.apply(cfg, ch)
	if again := f.plan(cfg); again.Action != resource.NoOp {
		f.t.Fatalf("plan after apply: %s %q %+v, want no-op", again.Action, again.Reason, again.Fields)
	}
	return ch
}

func (f *fixture) destroy() {
	f.t.Helper()
	if err := f.kind.Delete(ctx(f.t), resource.DeleteRequest{Env: f.env, Addr: f.addr, Prior: f.state}); err != nil {
		f.t.Fatalf("delete: %v", err)
	}
	f.state = cty.NilVal
}

func ctx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return c
}

func (f *fixture) get(gvr schema.GroupVersionResource, ns, name string) *unstructured.Unstructured {
	f.t.Helper()
	var ri dynamic.ResourceInterface = f.dyn.Resource(gvr)
	if ns != "" {
		ri = f.dyn.Resource(gvr).Namespace(ns)
	}
	u, err := ri.Get(context.Background(), name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		f.t.Fatal(err)
	}
	return u
}

// edit changes a live object the way `kubectl edit` does (an update, with
// another field manager).
func (f *fixture) edit(gvr schema.GroupVersionResource, ns, name string, change func(u *unstructured.Unstructured)) {
	f.t.Helper()
	u := f.get(gvr, ns, name)
	change(u)
	if _, err := f.dyn.Resource(gvr).Namespace(ns).Update(context.Background(), u, metav1.UpdateOptions{FieldManager: "kubectl-edit"}); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) remove(gvr schema.GroupVersionResource, ns, name string) {
	f.t.Helper()
	err := f.dyn.Resource(gvr).Namespace(ns).Delete(context.Background(), name, metav1.DeleteOptions{})
	if err != nil {
		f.t.Fatal(err)
	}
	f.waitAbsent(gvr, ns, name)
}

func (f *fixture) waitAbsent(gvr schema.GroupVersionResource, ns, name string) {
	f.t.Helper()
	for deadline := time.Now().Add(time.Minute); f.get(gvr, ns, name) != nil; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			f.t.Fatalf("%s %s/%s still there after a minute", gvr.Resource, ns, name)
		}
	}
}

func (f *fixture) create(gvr schema.GroupVersionResource, src string) {
	f.t.Helper()
	objs, err := decode([]byte(src))
	if err != nil {
		f.t.Fatal(err)
	}
	u := objs[0].Obj
	var ri dynamic.ResourceInterface = f.dyn.Resource(gvr)
	if ns := u.GetNamespace(); ns != "" {
		ri = f.dyn.Resource(gvr).Namespace(ns)
	}
	if _, err := ri.Create(context.Background(), u, metav1.CreateOptions{}); err != nil {
		f.t.Fatal(err)
	}
}

func fields(ch *resource.Change) string {
	var b strings.Builder
	for _, d := range ch.Fields {
		b.WriteString(d.Path + "  " + d.Old + " → " + d.New + "\n")
	}
	return b.String()
}

func expect(t testing.TB, ch *resource.Change, action resource.Action, drift bool, reason, fieldText string) {
	t.Helper()
	if ch.Action != action || ch.Drift != drift || !strings.Contains(ch.Reason, reason) || fields(ch) != fieldText {
		t.Fatalf("plan: %s drift=%v reason=%q fields:\n%s\nwant %s drift=%v reason~%q fields:\n%s",
			ch.Action, ch.Drift, ch.Reason, fields(ch), action, drift, reason, fieldText)
	}
}

func strMap(m map[string]string) cty.Value {
	if len(m) == 0 {
		return cty.MapValEmpty(cty.String)
	}
	vs := map[string]cty.Value{}
	for k, v := range m {
		vs[k] = cty.StringVal(v)
	}
	return cty.MapVal(vs)
}
