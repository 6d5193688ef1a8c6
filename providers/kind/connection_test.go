package kind

import (
	"path/filepath"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"labs.dev/lab/lab/resource"
)

// kind_cluster is a cluster others live in: its connection is what apply
// recorded, or, before apply, what kind will name it; while the cluster
// is still to be made it is not known.
func TestClusterConnection(t *testing.T) {
	f := newFixture(t)
	t.Setenv("HOME", f.env.Dir)
	var k resource.Cluster = f.kind
	if !k.RemovesContents() {
		t.Error("deleting a kind cluster removes what ran in it")
	}
	declared := decode(t, `
name            = "lesson"
kubeconfig_path = "~/kube/config"
`)
	want := resource.Connection{Kubeconfig: filepath.Join(f.env.Dir, "kube", "config"), Context: "kind-lesson"}
	if got, ok := k.Connection(f.env, declared); !ok || got != want {
		t.Errorf("declared: %+v %v, want %+v", got, ok, want)
	}

	cfg := decode(t, `
name            = "lesson"
runtime         = "simulated"
kubeconfig_path = "kube/config"
`)
	applied := f.apply(t, cfg, cty.NilVal, f.plan(t, cfg, cty.NilVal))
	if got, ok := k.Connection(f.env, applied); !ok || got != want {
		t.Errorf("applied: %+v %v, want %+v", got, ok, want)
	}

	planned := cty.ObjectVal(map[string]cty.Value{
		"name":       cty.StringVal("lesson"),
		"kubeconfig": cty.UnknownVal(cty.String),
		"context":    cty.UnknownVal(cty.String),
	})
	if got, ok := k.Connection(f.env, planned); ok {
		t.Errorf("a cluster still to be made has connection %+v", got)
	}
}
