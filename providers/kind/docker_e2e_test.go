package kind

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"labs.dev/lab/lab/resource"
	"labs.dev/lab/providers/kind/host"
	"labs.dev/lab/providers/kube"
)

// A real kind cluster on Docker, through kind's library. Opt-in: it needs
// a running Docker engine and network access to pull kindest/node (about
// a minute on a warm machine).
func TestDockerEndToEnd(t *testing.T) {
	if os.Getenv("LAB_E2E_DOCKER") != "1" {
		t.Skip("set LAB_E2E_DOCKER=1 to run: needs a running Docker engine and network access to pull the kindest/node image")
	}
	ctx := context.Background()
	if _, f := host.Real().CheckEngine(ctx, Docker); f.Status != host.OK {
		t.Fatal("LAB_E2E_DOCKER=1 but `docker info` does not answer within 2 s: start the Docker engine")
	}
	dir := t.TempDir()
	env := resource.Env{Dir: dir, StateDir: filepath.Join(dir, ".lab"), Log: slog.New(slog.DiscardHandler),
		Progress: func(p resource.Progress) { t.Log(p.Msg) }}
	k := New(kube.NewConnections())
	cfg := decode(t, `
name            = "lab-e2e"
runtime         = "docker"
kubeconfig_path = "kubeconfig"
`)
	ch, err := k.Plan(ctx, resource.PlanRequest{Env: env, Addr: addr, Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	out, err := k.Apply(ctx, resource.ApplyRequest{Env: env, Addr: addr, Config: cfg, Change: ch})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k.Delete(context.Background(), resource.DeleteRequest{Env: env, Addr: addr, Prior: out}) })
	if has, _ := contextIn(filepath.Join(dir, "kubeconfig"), "kind-lab-e2e"); !has || out.GetAttr("endpoint").AsString() == "" {
		t.Fatalf("attributes = %#v", out)
	}
	if ch, err := k.Plan(ctx, resource.PlanRequest{Env: env, Addr: addr, Config: cfg, Prior: out}); err != nil || ch.Action != resource.NoOp {
		t.Fatalf("second plan = %+v, %v", ch, err)
	}
	if err := k.Delete(ctx, resource.DeleteRequest{Env: env, Addr: addr, Prior: out}); err != nil {
		t.Fatal(err)
	}
}
