package kind

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/zclconf/go-cty/cty"

	"labs.dev/lab/lab/resource"
	"labs.dev/lab/providers/kube"
	"labs.dev/lab/providers/simulated"
)

func needBinaries(t *testing.T) {
	t.Helper()
	if _, err := simulated.BinDir(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
}

// The whole life of a simulated kind_cluster through the Kind, on real
// processes: create, no-op, a killed API server planned as drift and
// restarted, delete leaving nothing.
func TestSimulatedRuntimeEndToEnd(t *testing.T) {
	needBinaries(t)
	dir := t.TempDir()
	t.Setenv("KUBECONFIG", filepath.Join(dir, "kubeconfig"))
	env := resource.Env{Dir: dir, StateDir: filepath.Join(dir, ".lab"), Log: slog.New(slog.DiscardHandler),
		Progress: func(p resource.Progress) { t.Log(p.Msg) }}
	k := New(kube.NewConnections())
	cfg := decode(t, `
name    = "e2e"
runtime = "simulated"
wait    = "2m"
`)
	ctx := context.Background()
	plan := func(prior cty.Value) *resource.Change {
		t.Helper()
		ch, err := k.Plan(ctx, resource.PlanRequest{Env: env, Addr: addr, Config: cfg, Prior: prior})
		if err != nil {
			t.Fatal(err)
		}
		return ch
	}
	ch := plan(cty.NilVal)
	if ch.Action != resource.Create {
		t.Fatalf("plan = %+v", ch)
	}
	out, err := k.Apply(ctx, resource.ApplyRequest{Env: env, Addr: addr, Config: cfg, Change: ch})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k.Delete(context.Background(), resource.DeleteRequest{Env: env, Addr: addr, Prior: out}) })
	if out.GetAttr("context").AsString() != "kind-e2e" || out.GetAttr("kubeconfig").AsString() != os.Getenv("KUBECONFIG") {
		t.Fatalf("attributes = %#v", out)
	}
	if ch := plan(out); ch.Action != resource.NoOp {
		t.Fatalf("plan after apply = %+v", ch)
	}

	cdir := filepath.Join(env.StateDir, "clusters", "e2e")
	st, _ := simulated.Status(cdir)
	_ = syscall.Kill(st.PIDs["kube-apiserver"], syscall.SIGKILL)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if st, _ := simulated.Status(cdir); st.State == simulated.Stopped {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("killed API server still counted as running")
		}
		time.Sleep(50 * time.Millisecond)
	}
	ch = plan(out)
	if ch.Action != resource.Update || !ch.Drift {
		t.Fatalf("plan with a killed API server = %+v", ch)
	}
	restarted, err := k.Apply(ctx, resource.ApplyRequest{Env: env, Addr: addr, Config: cfg, Prior: out, Change: ch})
	if err != nil {
		t.Fatal(err) // the cleanup above still deletes the cluster
	}
	out = restarted
	if ch := plan(out); ch.Action != resource.NoOp {
		t.Fatalf("plan after restart = %+v", ch)
	}

	st, _ = simulated.Status(cdir)
	if err := k.Delete(ctx, resource.DeleteRequest{Env: env, Addr: addr, Prior: out}); err != nil {
		t.Fatal(err)
	}
	for c, pid := range st.PIDs {
		if _, err := os.Stat(filepath.Join("/proc", itoa(pid))); err == nil {
			if b, _ := os.ReadFile(filepath.Join("/proc", itoa(pid), "cmdline")); len(b) > 0 {
				t.Errorf("%s (PID %d) alive after Delete", c, pid)
			}
		}
	}
	if has, _ := contextIn(os.Getenv("KUBECONFIG"), "kind-e2e"); has {
		t.Error("context kind-e2e left in the kubeconfig")
	}
	if ch := plan(out); ch.Action != resource.Create || ch.Reason != "deleted outside lab" {
		t.Fatalf("plan after delete = %+v", ch)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }
