package kubernetes

import (
	"errors"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"labs.dev/lab/lab/resource"
	"labs.dev/lab/providers/kube"
)

// A field changed by hand after the plan was made is reported as a
// conflict naming the field and its manager, and left as it is; once a
// plan shows the change, apply takes the field back.
func TestManifestConflictAfterPlan(t *testing.T) {
	f := newFixture(t, Manifest(kube.NewConnections()), "conflict")
	ns := "t-mf-conflict"
	f.create(namespaces, nsDoc(ns))
	f.up(mfConfig(f, configMaps(ns, 1, "v1"), "namespace", cty.StringVal(ns)))

	// The lab file gains a field; plan.
	cfg := mfConfig(f, configMaps(ns, 1, "v1")+"  extra: \"yes\"\n", "namespace", cty.StringVal(ns))
	ch := f.plan(cfg)
	if ch.Action != resource.Update || ch.Drift {
		t.Fatalf("plan: %s drift=%v\n%s", ch.Action, ch.Drift, fields(ch))
	}
	// Someone edits a field lab owns before apply.
	f.edit(configmaps, ns, "cm-000", func(u *unstructured.Unstructured) {
		_ = unstructured.SetNestedField(u.Object, "learner's", "data", "key")
	})
	err := f.tryApply(cfg, ch)
	var ce *ConflictError
	if !errors.As(err, &ce) {
		t.Fatalf("apply after a hand edit: %v, want a ConflictError", err)
	}
	for _, want := range []string{"ConfigMap t-mf-conflict/cm-000", ".data.key", `"kubectl-edit"`, "lab plan"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("conflict error lacks %q: %v", want, err)
		}
	}
	if v, _, _ := unstructured.NestedString(f.get(configmaps, ns, "cm-000").Object, "data", "key"); v != "learner's" {
		t.Errorf("data.key = %q after the refused apply, want the hand edit kept", v)
	}

	// A new plan shows the edited field; applying it takes it back.
	ch = f.plan(cfg)
	if !strings.Contains(fields(ch), "data.key  learner's → v1") {
		t.Fatalf("plan after the edit does not show it:\n%s", fields(ch))
	}
	// Edited again after that plan: the plan showed another value, so
	// the new one is not overwritten either.
	f.edit(configmaps, ns, "cm-000", func(u *unstructured.Unstructured) {
		_ = unstructured.SetNestedField(u.Object, "again", "data", "key")
	})
	if err := f.tryApply(cfg, ch); !errors.As(err, &ce) {
		t.Fatalf("apply after a second hand edit of a planned field: %v, want a ConflictError", err)
	}
	if v, _, _ := unstructured.NestedString(f.get(configmaps, ns, "cm-000").Object, "data", "key"); v != "again" {
		t.Errorf("data.key = %q after the refused apply, want the second edit kept", v)
	}
	ch = f.plan(cfg)
	f.apply(cfg, ch)
	if v, _, _ := unstructured.NestedString(f.get(configmaps, ns, "cm-000").Object, "data", "key"); v != "v1" {
		t.Errorf("data.key = %q after the planned apply, want v1", v)
	}
	f.destroy()
}
