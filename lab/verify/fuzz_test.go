package verify_test

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"labs.dev/lab/lab/config"
	"labs.dev/lab/lab/report"
	"labs.dev/lab/lab/ui/ansi"
	. "labs.dev/lab/lab/verify"
	vt "labs.dev/lab/lab/verify/verifytest"
)

// FuzzLabs feeds arbitrary lab files through the whole of verify without
// a cluster: load, decode the lab blocks, evaluate every check once against
// a healthy fleet, and write the result as text, JSON and JUnit. None of
// it may panic, and every check ends with a status. Author-written
// conditions run on every learner's machine, so this is where a bad
// expression meets the functions (owned, quantity, intorpercent,
// written...). Seeds: the shipped lab, and testdata/fuzz/FuzzLabs (the
// lab files of testdata/hostile).
func FuzzLabs(f *testing.F) {
	f.Add([]byte(vt.ShippedLabSource(f)))
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
    assert {
      condition = written(d, "spec.strategy.rollingUpdate.maxSurge", "25%") && !written(d, "spec.template.spec.containers.0.image")
      error_message = "written ${actual}"
    }
  }
}
`))
	dir := f.TempDir()
	file := filepath.Join(dir, "labs.hcl")
	vt.Write(f, filepath.Join(dir, "manifests/deploy-fleet/solution.yaml"), vt.Solution(f))
	objs := vt.FleetObjects(3, int64(1))
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
		r := Run(ctx, labs, Options{Source: &vt.FakeSource{Objs: objs}, Once: true})
		for _, l := range r.Labs {
			for _, c := range l.Checks {
				if c.Status == "" {
					t.Fatalf("check %s.%s ended without a status", l.Name, c.Name)
				}
				if c.Status == Errored && c.Err == nil {
					t.Fatalf("check %s.%s could not check but says no why", l.Name, c.Name)
				}
			}
		}
		report.Text(io.Discard, r, ansi.Style{})
		if err := report.JSON(io.Discard, r); err != nil {
			t.Fatalf("json: %v", err)
		}
		if err := report.JUnit(io.Discard, r); err != nil {
			t.Fatalf("junit: %v", err)
		}
	})
}
