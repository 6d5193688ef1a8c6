package verify

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zclconf/go-cty/cty"

	"labs.dev/lab/lab/config"
)

// shippedLabs loads the lab blocks of the repository's labs.hcl into a
// temporary lab directory (the file's resources need providers these
// tests do not link), with the solution manifests beside them.
func shippedLabs(t testing.TB) (*config.Config, []*Lab) {
	t.Helper()
	src, err := os.ReadFile("../../labs.hcl")
	if err != nil {
		t.Fatal(err)
	}
	i := strings.Index(string(src), "\nlab \"")
	if i < 0 {
		t.Fatal("labs.hcl has no lab block")
	}
	dir := t.TempDir()
	write(t, filepath.Join(dir, "labs.hcl"), string(src[i:]))
	sol, err := os.ReadFile("../../manifests/deploy-fleet/solution.yaml")
	if err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir, "manifests/deploy-fleet/solution.yaml"), string(sol))
	return loadLabs(t, filepath.Join(dir, "labs.hcl"))
}

func loadLabs(t testing.TB, path string) (*config.Config, []*Lab) {
	t.Helper()
	cfg, diags := config.Load(path, config.Options{Env: []string{}})
	if diags.HasErrors() {
		t.Fatalf("load %s: %s", path, diags.Error())
	}
	labs, diags := Decode(cfg, nil)
	if diags.HasErrors() {
		t.Fatalf("decode %s: %s", path, diags.Error())
	}
	return cfg, labs
}

func write(t testing.TB, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// fakeSource serves hand-made objects, for tests without a cluster.
type fakeSource struct{ objs []map[string]any }

func (f *fakeSource) Objects(_ context.Context, s *Selection, _ time.Time) ([]cty.Value, error) {
	var out []cty.Value
	for _, o := range f.objs {
		if o["apiVersion"] != s.APIVersion || o["kind"] != s.Kind {
			continue
		}
		md, _ := o["metadata"].(map[string]any)
		if s.Namespace != "" && md["namespace"] != s.Namespace {
			continue
		}
		out = append(out, objectValue(o))
	}
	return out, nil
}

// fleetObjects is a healthy fleet: Deployment, its ReplicaSet, n pods.
func fleetObjects(replicas int64, maxSurge any) []map[string]any {
	dep := map[string]any{
		"apiVersion": "apps/v1", "kind": "Deployment",
		"metadata": map[string]any{"name": "fleet", "namespace": "dev", "uid": "d1", "generation": int64(1)},
		"spec": map[string]any{
			"replicas": replicas,
			"strategy": map[string]any{"type": "RollingUpdate", "rollingUpdate": map[string]any{"maxSurge": maxSurge, "maxUnavailable": "25%"}},
		},
		"status": map[string]any{"observedGeneration": int64(1), "replicas": replicas, "updatedReplicas": replicas, "readyReplicas": replicas, "availableReplicas": replicas},
	}
	rs := map[string]any{
		"apiVersion": "apps/v1", "kind": "ReplicaSet",
		"metadata": map[string]any{"name": "fleet-abc", "namespace": "dev", "uid": "r1",
			"ownerReferences": []any{map[string]any{"apiVersion": "apps/v1", "kind": "Deployment", "name": "fleet", "uid": "d1", "controller": true}}},
		"spec": map[string]any{"replicas": replicas},
	}
	objs := []map[string]any{dep, rs}
	for i := int64(0); i < replicas; i++ {
		objs = append(objs, map[string]any{
			"apiVersion": "v1", "kind": "Pod",
			"metadata": map[string]any{"name": "fleet-abc-" + string(rune('a'+i)), "namespace": "dev", "uid": "p" + string(rune('a'+i)),
				"ownerReferences": []any{map[string]any{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "fleet-abc", "uid": "r1", "controller": true}}},
			"status": map[string]any{"phase": "Running"},
		})
	}
	return objs
}

func runFake(t testing.TB, labs []*Lab, objs []map[string]any) *Result {
	t.Helper()
	return Run(context.Background(), labs, Options{Source: &fakeSource{objs: objs}, Once: true})
}

// checkResult finds a check's result by name.
func checkResult(t testing.TB, r *Result, name string) CheckResult {
	t.Helper()
	for _, l := range r.Labs {
		for _, c := range l.Checks {
			if c.Name == name {
				return c
			}
		}
	}
	t.Fatalf("no check %q in the result", name)
	return CheckResult{}
}

func text(r *Result) string {
	var b strings.Builder
	r.WriteText(&b, nil)
	return b.String()
}
