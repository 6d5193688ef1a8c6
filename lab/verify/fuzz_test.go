package verify

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"labs.dev/lab/lab/config"
)

// FuzzLabs feeds arbitrary lab files through the whole of verify without
// a cluster: load, decode the lab blocks, evaluate every check once against
// a healthy fleet, and write the result as text, JSON and JUnit. None of
// it may panic, and every check ends with a status. Author-written
// conditions run on every learner's machine, so this is where a bad
// expression meets the functions (owned, quantity, intorpercent...).
// Seeds: the shipped lab, and testdata/fuzz/FuzzLabs (the lab files of
// testdata/hostile).
func FuzzLabs(f *testing.F) {
	// The shipped lab blocks (its resources need providers not linked here).
	if src, err := os.ReadFile("../../labs.hcl"); err == nil {
		if i := strings.Index(string(src), "\nlab \""); i >= 0 {
			f.Add(src[i:])
		}
	}
	f.Add([]byte(`lab "l" {
  check "c" {
    select "d" {
      api_version = "apps/v1"
      kind = "Deployment"
      namespace = "dev"
      name = "fleet"
    }
    assert {
      condition = intorpercent(d.spec.strategy.rollingUpdate.maxSurge, d.spec.replicas) <= 1 && length(owned(d, [])) == 0
      error_message = "surge ${d.spec.strategy.rollingUpdate.maxSurge}"
    }
  }
}
`))
	dir := f.TempDir()
	file := filepath.Join(dir, "labs.hcl")
	if sol, err := os.ReadFile("../../manifests/deploy-fleet/solution.yaml"); err == nil {
		write(f, filepath.Join(dir, "manifests/deploy-fleet/solution.yaml"), string(sol))
	}
	objs := fleetObjects(3, int64(1))
	f.Fuzz(func(t *testing.T, src []byte) {
		if err := os.WriteFile(file, src, 0o644); err != nil {
			t.Fatal(err)
		}
		cfg, diags := config.Load(file, config.Options{Env: []string{}})
		if diags.HasErrors() {
			return
		}
		labs, diags := Decode(cfg, nil)
		if diags.HasErrors() {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		r := Run(ctx, labs, Options{Source: &fakeSource{objs: objs}, Once: true})
		for _, l := range r.Labs {
			for _, c := range l.Checks {
				if c.Status == "" {
					t.Fatalf("check %s.%s ended without a status", l.Name, c.Name)
				}
			}
		}
		r.WriteText(io.Discard, nil)
		if err := r.WriteJSON(io.Discard); err != nil {
			t.Fatalf("json: %v", err)
		}
		if err := r.WriteJUnit(io.Discard); err != nil {
			t.Fatalf("junit: %v", err)
		}
	})
}
