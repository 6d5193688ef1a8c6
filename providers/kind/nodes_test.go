package kind

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"labs.dev/lab/lab/resource"
	"labs.dev/lab/providers/kind/host"
)

func (f *fixture) up(t *testing.T, src string) (cty.Value, cty.Value) {
	t.Helper()
	cfg := decode(t, src)
	out := f.apply(t, cfg, cty.NilVal, f.plan(t, cfg, cty.NilVal))
	return cfg, out
}

// A node container that stopped (a reboot, a hibernated instance) is
// planned as a start, named, and apply starts it and waits for it; what
// is in the cluster stays, since nothing is deleted.
func TestStoppedNodesComeBack(t *testing.T) {
	f := newFixture(t)
	f.docker(host.PublishedImage)
	cfg, out := f.up(t, `
name    = "kind"
runtime = "docker"
nodes   = [{ role = "control-plane" }, { role = "worker" }]
`)
	// kind waits for the control plane only; lab waits for every node
	// and kube-system, as the lesson's first outputs show them ready.
	if strings.Join(f.waited, ",") != "kind-control-plane,kind-worker" {
		t.Errorf("after the create, waited for %q", f.waited)
	}
	f.waited = nil
	if ch := f.plan(t, cfg, out); ch.Action != resource.NoOp || ch.Reason != "kind on docker, node image "+host.PublishedImage+", Kubernetes v1.35.4" {
		t.Fatalf("healthy cluster plans %+v; want a no-op whose reason is the status line", ch)
	}
	f.engine.setState("kind", "kind-control-plane", "exited")
	f.engine.nodes["kind"][0].Exit = "exit code 137 at 2026-12-01 10:04:00"
	f.engine.setState("kind", "kind-worker", "paused")
	ch := f.plan(t, cfg, out)
	if ch.Action != resource.Update || !ch.Drift || !strings.HasPrefix(ch.Reason, "node container(s) kind-control-plane, kind-worker stopped") {
		t.Fatalf("stopped nodes plan %+v", ch)
	}
	want := []resource.FieldDiff{
		{Path: "node kind-control-plane", Old: "exited (exit code 137 at 2026-12-01 10:04:00)", New: "running"},
		{Path: "node kind-worker", Old: "paused", New: "running"},
	}
	if len(ch.Fields) != 2 || ch.Fields[0] != want[0] || ch.Fields[1] != want[1] {
		t.Fatalf("fields = %+v", ch.Fields)
	}
	f.engine.calls = nil
	out = f.apply(t, cfg, out, ch)
	if got := strings.Join(f.engine.calls, ";"); got != "start kind-control-plane;start kind-worker;export kind;export kind" {
		t.Errorf("engine calls %q: want the nodes started, nothing created or deleted", got)
	}
	if strings.Join(f.waited, ",") != "kind-control-plane,kind-worker" {
		t.Errorf("waited for %q", f.waited)
	}
	if ch := f.plan(t, cfg, out); ch.Action != resource.NoOp {
		t.Errorf("plan after the start = %+v", ch)
	}

	// A port the stopped node publishes is taken: the start would fail,
	// so plan says so.
	f.engine.setState("kind", "kind-control-plane", "exited")
	f.engine.nodes["kind"][0].Ports = []host.Port{{Address: "127.0.0.1", Port: 41234, Protocol: "TCP", What: "published by node kind-control-plane for 6443/tcp"}}
	f.host.taken["tcp 127.0.0.1:41234"] = true
	_, err := f.kind.Plan(context.Background(), resource.PlanRequest{Env: f.env, Addr: addr, Config: cfg, Prior: out})
	if err == nil || !strings.Contains(err.Error(), "cannot start the stopped node(s) kind-control-plane on docker") || !strings.Contains(err.Error(), "port 127.0.0.1:41234/tcp (published by node kind-control-plane for 6443/tcp) is taken") {
		t.Errorf("start onto a taken port: %v", err)
	}
}

// Nodes that a start cannot bring back make a replace that says why; a
// cluster lab did not make is not deleted.
func TestNodesThatCannotComeBack(t *testing.T) {
	f := newFixture(t)
	f.docker(host.PublishedImage)
	cfg, out := f.up(t, `
name    = "kind"
runtime = "docker"
nodes   = [{ role = "control-plane" }, { role = "worker" }, { role = "worker" }]
`)
	f.engine.nodes["kind"] = f.engine.nodes["kind"][:2] // kind-worker2 removed
	f.engine.setState("kind", "kind-worker", "dead")
	ch := f.plan(t, cfg, out)
	if ch.Action != resource.Replace || !ch.Drift ||
		ch.Reason != "node container kind-worker is dead; node container kind-worker2 is gone (kind cannot add a node to a cluster); starting it cannot bring the cluster back, so it is deleted and created again (its workloads are lost)" {
		t.Fatalf("plan = %+v", ch)
	}
	// Not lab's: said, and left alone.
	_, err := f.kind.Plan(context.Background(), resource.PlanRequest{Env: f.env, Addr: addr, Config: cfg})
	if err == nil || !strings.Contains(err.Error(), "lab did not make it, so lab will not delete it") || !strings.Contains(err.Error(), "kind delete cluster --name kind") {
		t.Errorf("a broken cluster lab did not make: %v", err)
	}
}

// lab killed while kind created the cluster leaves node containers and
// the mark; the next run deletes them and creates the cluster again.
func TestInterruptedCreateIsMadeAgain(t *testing.T) {
	f := newFixture(t)
	f.docker(host.PublishedImage)
	cfg := decode(t, `
name    = "kind"
runtime = "docker"
`)
	ch := f.plan(t, cfg, cty.NilVal)
	// As if lab died inside kind's Create: the mark stands and the node
	// is there, half made.
	mark := creatingMark(f.env.StateDir, "kind")
	writeFile(t, mark, "lab (pid 1) creating\n")
	f.engine.nodes["kind"] = []node{{Name: "kind-control-plane", Role: "control-plane", State: "running"}}

	ch = f.plan(t, cfg, cty.NilVal)
	if ch.Action != resource.Create || !strings.Contains(ch.Reason, "an earlier lab run was stopped while it created kind cluster \"kind\" on docker; lab deletes what it left and creates it again") {
		t.Fatalf("plan = %+v", ch)
	}
	f.engine.calls = nil
	f.apply(t, cfg, cty.NilVal, ch)
	if got := strings.Join(f.engine.calls, ";"); !strings.HasPrefix(got, "delete kind;create kind") {
		t.Errorf("engine calls %q, want the leftover deleted, then a create", got)
	}
	if _, err := os.Stat(mark); err == nil {
		t.Error("the mark outlived a finished create")
	}
}

func TestHealthOf(t *testing.T) {
	nodes := []node{
		{Name: "kind-control-plane", State: "running"},
		{Name: "kind-worker", State: "exited"},
		{Name: "kind-worker2", State: "created"},
		{Name: "kind-worker3", State: "removing"},
	}
	h := healthOf("kind", []string{"control-plane", "worker", "worker", "worker", "worker"}, nodes)
	if joinNames(h.stopped) != "kind-worker, kind-worker2" || strings.Join(h.broken, "; ") != "node container kind-worker3 is removing; node container kind-worker4 is gone (kind cannot add a node to a cluster)" {
		t.Errorf("health = %+v", h)
	}
	if h := healthOf("kind", nil, nil); len(h.broken) != 1 {
		t.Errorf("no containers at all: %+v", h)
	}
}

func TestParseInspect(t *testing.T) {
	// docker writes the name with a leading slash; podman without.
	out := `[{"Name":"/kind-control-plane","State":{"Status":"exited","ExitCode":137,"FinishedAt":"2026-12-01T10:04:00.123456789Z"},
"Config":{"Image":"kindest/node:v1.35.8","Labels":{"io.x-k8s.kind.role":"control-plane","io.x-k8s.kind.cluster":"kind"}},
"HostConfig":{"PortBindings":{"6443/tcp":[{"HostIp":"127.0.0.1","HostPort":"41234"}],"30080/tcp":[{"HostIp":"","HostPort":"8080"}]}}},
{"Name":"kind-worker","State":{"Status":"running"},"Config":{"Labels":{"io.x-k8s.kind.role":"worker"}},"HostConfig":{"PortBindings":{}}}]`
	nodes, err := parseInspect([]byte(out))
	if err != nil {
		t.Fatal(err)
	}
	if len(nodes) != 2 || nodes[0].Name != "kind-control-plane" || nodes[0].Role != "control-plane" || nodes[0].State != "exited" ||
		!strings.HasPrefix(nodes[0].Exit, "exit code 137 at ") || nodes[0].Image != "kindest/node:v1.35.8" || nodes[1].Name != "kind-worker" {
		t.Fatalf("nodes = %+v", nodes)
	}
	ps := nodes[0].Ports
	if len(ps) != 2 || ps[0].Port != 8080 || ps[0].Protocol != "TCP" || ps[1] != (host.Port{Address: "127.0.0.1", Port: 41234, Protocol: "TCP", What: "published by node kind-control-plane for 6443/tcp"}) {
		t.Errorf("ports = %+v", ps)
	}
}
