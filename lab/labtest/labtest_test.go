package labtest_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"labs.dev/lab/lab/labtest"
	"labs.dev/lab/lab/reset"
	"labs.dev/lab/lab/resource"
	"labs.dev/lab/lab/verify"
	vt "labs.dev/lab/lab/verify/verifytest"
	"labs.dev/lab/providers/simulated/simtest"
)

func TestMain(m *testing.M) { os.Exit(simtest.Main(m)) }

// labWith writes the shipped lab with solution as its solution.
func labWith(t *testing.T, solution string) (string, *verify.Lab) {
	t.Helper()
	dir := t.TempDir()
	vt.Write(t, filepath.Join(dir, "labs.hcl"), vt.ShippedLabSource(t))
	vt.Write(t, filepath.Join(dir, "manifests/deploy-fleet/solution.yaml"), solution)
	cfg, labs := vt.LoadLabs(t, filepath.Join(dir, "labs.hcl"))
	return cfg.File, labs[0]
}

// The solution is read by the manifest kind's decoder: a `kind: List`
// (what kubectl get -o yaml writes) is its items, and each is applied
// by lab test's field manager, then removed.
func TestSolutionAsList(t *testing.T) {
	e := vt.NewEnv(t)
	body := strings.ReplaceAll(strings.TrimSpace(vt.FleetSpec{}.YAML()), "\n", "\n    ")
	_, l := labWith(t, "apiVersion: v1\nkind: List\nitems:\n  - "+body+"\n")
	var said []string
	r := labtest.Test(context.Background(), l, e.Client, labtest.Options{Progress: func(s string) { said = append(said, s) }})
	if !r.OK() {
		t.Fatalf("lab test of a List solution: broken %v (%s), err %v", r.Broken, r.Reason, r.Err)
	}
	if len(r.Applied) != 1 || r.Applied[0].String() != "Deployment dev/fleet" {
		t.Errorf("applied %v, want Deployment dev/fleet", r.Applied)
	}
	if len(said) != 4 {
		t.Errorf("progress %q, want 4 steps", said)
	}
	if _, err := e.Clientset.AppsV1().Deployments("dev").Get(context.Background(), "fleet", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the solution was not removed: %v", err)
	}
}

// A solution the API server refuses (a misspelt field) is said as such,
// with the document, and nothing is left behind.
func TestSolutionRefused(t *testing.T) {
	e := vt.NewEnv(t)
	_, l := labWith(t, strings.Replace(vt.FleetSpec{}.YAML(), "replicas: 3", "replica: 3", 1))
	r := labtest.Test(context.Background(), l, e.Client, labtest.Options{})
	if r.Err == nil || r.Broken || !strings.Contains(r.Err.Error(), "apply Deployment dev/fleet (document 1 of ") || !strings.Contains(r.Err.Error(), "replica") {
		t.Fatalf("err %v, broken %v; want the refused apply named", r.Err, r.Broken)
	}
	if _, err := e.Clientset.AppsV1().Deployments("dev").Get(context.Background(), "fleet", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("something was left behind: %v", err)
	}
}

// Work lab did not make in the lab's namespaces is a used environment: a
// *NotFreshError naming it, and nothing is applied.
func TestNotFresh(t *testing.T) {
	e := vt.NewEnv(t)
	file, l := labWith(t, vt.Solution(t))
	e.Apply("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: notes\n  namespace: dev\n")
	r := labtest.Test(context.Background(), l, e.Client, labtest.Options{Reset: &reset.Options{Owner: resource.NewOwner(file)}})
	var nf *labtest.NotFreshError
	if !errors.As(r.Err, &nf) || len(nf.Stray) != 1 || nf.Stray[0].String() != "ConfigMap dev/notes" {
		t.Fatalf("err %v, want a NotFreshError naming ConfigMap dev/notes", r.Err)
	}
	if r.Before != nil || len(r.Applied) != 0 {
		t.Errorf("lab test went on: before %v, applied %v", r.Before, r.Applied)
	}
	if _, err := e.Clientset.CoreV1().ConfigMaps("dev").Get(context.Background(), "notes", metav1.GetOptions{}); err != nil {
		t.Errorf("the learner's ConfigMap is gone: %v", err)
	}
}

func TestCLITestProvesShippedLab(t *testing.T) {
	e := vt.NewEnv(t)
	cfg, _ := vt.ShippedLabs(t)
	out, errOut, code := vt.RunLab(t, cfg.File, nil, "test", "deploy-fleet")
	if code != 0 || !strings.Contains(out, "✓ deploy-fleet: fails on a fresh environment, passes with its solution") {
		t.Fatalf("lab test: exit %d\n%s%s", code, out, errOut)
	}
	// The solution is gone again.
	if _, err := e.Clientset.AppsV1().Deployments("dev").Get(context.Background(), "fleet", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the solution was not removed: %v", err)
	}

	// Not a fresh environment: refuse, touch nothing.
	e.Apply(vt.FleetSpec{Replicas: 4}.YAML())
	out, _, code = vt.RunLab(t, cfg.File, nil, "test", "deploy-fleet")
	if code != 2 || !strings.Contains(out, "already exists, so this is not a fresh environment") {
		t.Errorf("lab test on a used environment: exit %d\n%s", code, out)
	}
	if d, err := e.Clientset.AppsV1().Deployments("dev").Get(context.Background(), "fleet", metav1.GetOptions{}); err != nil || *d.Spec.Replicas != 4 {
		t.Errorf("lab test touched the learner's Deployment: %v", err)
	}
}

func TestCLITestReportsBrokenLabs(t *testing.T) {
	vt.NewEnv(t)
	dir := t.TempDir()
	vt.Write(t, filepath.Join(dir, "sol.yaml"), vt.FleetSpec{}.YAML())
	vt.Write(t, filepath.Join(dir, "labs.hcl"), `
lab "too-weak" {
  solution   = "sol.yaml"
  namespaces = ["dev"]
  check "anything" {
    select "pods" {
      api_version = "v1"
      kind        = "Pod"
      namespace   = "dev"
    }
    assert {
      condition     = length(pods) >= 0
      error_message = "never"
    }
  }
}

lab "too-strict" {
  solution   = "sol.yaml"
  namespaces = ["dev"]
  timeout    = "2s"
  check "replicas" {
    select "fleet" {
      api_version = "apps/v1"
      kind        = "Deployment"
      namespace   = "dev"
      name        = "fleet"
    }
    assert {
      condition     = fleet.spec.replicas >= 10
      error_message = "wants 10"
    }
  }
}
`)
	out, errOut, code := vt.RunLab(t, filepath.Join(dir, "labs.hcl"), nil, "test")
	if code != 1 || !strings.Contains(out, "✗ too-weak is broken: every check passes before the solution") ||
		!strings.Contains(out, "✗ too-strict is broken: checks fail on the reference solution") || !strings.Contains(out, "wants 10") {
		t.Errorf("lab test of broken labs: exit %d\n%s%s", code, out, errOut)
	}
}
