package kubernetes

import (
	"testing"

	"github.com/zclconf/go-cty/cty"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"labs.dev/lab/lab/resource"
	"labs.dev/lab/providers/kube"
)

func nsConfigOf(f *fixture, name string, labels map[string]string) cty.Value {
	return f.config(map[string]cty.Value{"name": cty.StringVal(name), "labels": strMap(labels)})
}

func TestNamespaceLifecycle(t *testing.T) {
	f := newFixture(t, Namespace(kube.NewConnections()), "life")
	cfg := nsConfigOf(f, "t-ns-life", map[string]string{"team": "a", "tier": "x"})

	expect(t, f.up(cfg), resource.Create, false, "", "")
	live := f.get(namespaces, "", "t-ns-life")
	if !f.env.Owner.Owns(live.GetLabels()) || live.GetLabels()["team"] != "a" || live.GetAnnotations()[resource.AnnotationResource] != "namespace.life" {
		t.Fatalf("namespace lacks lab's labels or annotations: %v %v", live.GetLabels(), live.GetAnnotations())
	}
	if resource.StringAttr(f.state, "uid") != string(live.GetUID()) {
		t.Errorf("state uid %q, live %q", resource.StringAttr(f.state, "uid"), live.GetUID())
	}

	// a changed and a dropped label: an update, not drift
	cfg = nsConfigOf(f, "t-ns-life", map[string]string{"team": "b"})
	ch := f.plan(cfg)
	expect(t, ch, resource.Update, false, "", "labels[\"team\"]  a → b\nlabels[\"tier\"]  x → \n")
	f.apply(cfg, ch)
	if l := f.get(namespaces, "", "t-ns-life").GetLabels(); l["tier"] != "" || l["team"] != "b" {
		t.Fatalf("labels after update: %v", l)
	}

	// edited by hand: drift
	f.edit(namespaces, "", "t-ns-life", func(u *unstructured.Unstructured) {
		l := u.GetLabels()
		l["team"] = "hacked"
		u.SetLabels(l)
	})
	ch = f.plan(cfg)
	expect(t, ch, resource.Update, true, "changed outside lab", "labels[\"team\"]  hacked → b\n")
	f.apply(cfg, ch)

	// deleted by hand: drift, created again
	f.remove(namespaces, "", "t-ns-life")
	expect(t, f.up(cfg), resource.Create, true, "deleted outside lab", "")

	// renamed: replaced
	cfg2 := nsConfigOf(f, "t-ns-life2", map[string]string{"team": "b"})
	ch = f.plan(cfg2)
	expect(t, ch, resource.Replace, false, "cannot be renamed", "name  t-ns-life → t-ns-life2\n")
	f.apply(cfg2, ch)
	if f.get(namespaces, "", "t-ns-life") != nil {
		t.Fatal("old namespace still there after replace")
	}

	f.destroy()
	if f.get(namespaces, "", "t-ns-life2") != nil {
		t.Fatal("namespace still there after delete")
	}
	f.state = cty.ObjectVal(map[string]cty.Value{"name": cty.StringVal("t-ns-life2")})
	f.destroy() // gone already: not an error
}

func TestNamespaceAdoptedIsKept(t *testing.T) {
	f := newFixture(t, Namespace(kube.NewConnections()), "adopt")
	f.create(namespaces, "apiVersion: v1\nkind: Namespace\nmetadata: {name: t-ns-adopt, labels: {mine: \"yes\"}}\n")
	cfg := nsConfigOf(f, "t-ns-adopt", map[string]string{"team": "a"})
	ch := f.up(cfg)
	if ch.Action != resource.Create || ch.Reason == "" {
		t.Fatalf("plan of an existing namespace: %+v", ch)
	}
	live := f.get(namespaces, "", "t-ns-adopt")
	if f.env.Owner.Owns(live.GetLabels()) || live.GetLabels()["team"] != "a" {
		t.Fatalf("adopted namespace labels: %v", live.GetLabels())
	}

	f.destroy()
	live = f.get(namespaces, "", "t-ns-adopt")
	if live == nil {
		t.Fatal("delete removed a namespace lab did not create")
	}
	if l, a := live.GetLabels(), live.GetAnnotations(); l["team"] != "" || l["mine"] != "yes" || a[resource.AnnotationResource] != "" {
		t.Fatalf("after delete: labels %v annotations %v; want lab's gone, the learner's kept", l, a)
	}
}

func TestNamespaceBadName(t *testing.T) {
	f := newFixture(t, Namespace(kube.NewConnections()), "bad")
	_, err := f.kind.Plan(ctx(t), resource.PlanRequest{Env: f.env, Addr: f.addr, Config: nsConfigOf(f, "Bad_Name", nil), Prior: cty.NilVal})
	if err == nil {
		t.Fatal("plan accepted an invalid namespace name")
	}
	t.Log(err)
}
