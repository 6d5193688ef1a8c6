package kind

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/kind/pkg/apis/config/v1alpha4"

	"labs.dev/lab/lab/resource"
	"labs.dev/lab/providers/simulated"
)

// decode evaluates a kind_cluster body the way the engine does.
func decode(t *testing.T, src string) cty.Value {
	t.Helper()
	f, diags := hclsyntax.ParseConfig([]byte(src), "labs.hcl", hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	v, diags := hcldec.Decode(f.Body, schema(), nil)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	return v
}

type fakeEngine struct {
	down     error // List's error when the engine does not answer
	clusters map[string]*v1alpha4.Cluster
	calls    []string
	kubeconf string
}

func (f *fakeEngine) List() ([]string, error) {
	if f.down != nil {
		return nil, f.down
	}
	var n []string
	for k := range f.clusters {
		n = append(n, k)
	}
	return n, nil
}

func (f *fakeEngine) Create(name string, cfg *v1alpha4.Cluster, wait time.Duration, kubeconfig string) error {
	f.calls = append(f.calls, "create "+name+" wait="+wait.String())
	f.clusters[name] = cfg
	return nil
}

func (f *fakeEngine) ExportKubeConfig(name, kubeconfig string) error {
	f.calls = append(f.calls, "export "+name)
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["kind-"+name] = &clientcmdapi.Cluster{Server: "https://127.0.0.1:6443"}
	cfg.AuthInfos["kind-"+name] = &clientcmdapi.AuthInfo{Token: "x"}
	cfg.Contexts["kind-"+name] = &clientcmdapi.Context{Cluster: "kind-" + name, AuthInfo: "kind-" + name}
	return clientcmd.WriteToFile(*cfg, kubeconfig)
}

func (f *fakeEngine) Delete(name, kubeconfig string) error {
	f.calls = append(f.calls, "delete "+name)
	delete(f.clusters, name)
	return nil
}

type fakeSim struct {
	status  simulated.ClusterStatus
	created []simulated.Options
	deleted []simulated.Options
}

func (f *fakeSim) Status(string) (simulated.ClusterStatus, error) { return f.status, nil }
func (f *fakeSim) Create(_ context.Context, o simulated.Options) (*simulated.Cluster, error) {
	f.created = append(f.created, o)
	f.status = simulated.ClusterStatus{State: simulated.Running}
	return &simulated.Cluster{Name: o.Name, Dir: o.Dir, Kubeconfig: o.Kubeconfig, Context: "kind-" + o.Name, Endpoint: "https://127.0.0.1:40000"}, nil
}
func (f *fakeSim) Delete(_ context.Context, o simulated.Options) error {
	f.deleted = append(f.deleted, o)
	f.status = simulated.ClusterStatus{State: simulated.Absent}
	return nil
}

type fixture struct {
	kind     *clusterKind
	engine   *fakeEngine
	sim      *fakeSim
	docker   bool
	env      resource.Env
	progress []string
}

func newFixture(t *testing.T) *fixture {
	dir := t.TempDir()
	t.Setenv("KUBECONFIG", filepath.Join(dir, "kubeconfig"))
	f := &fixture{engine: &fakeEngine{clusters: map[string]*v1alpha4.Cluster{}}, sim: &fakeSim{status: simulated.ClusterStatus{State: simulated.Absent}}}
	f.kind = &clusterKind{
		engine:  func(string, *slog.Logger) engine { return f.engine },
		answers: func(_ context.Context, b string) bool { return f.docker && b == Docker },
		sim:     f.sim,
	}
	f.env = resource.Env{Dir: dir, StateDir: filepath.Join(dir, ".lab"), Log: slog.New(slog.DiscardHandler),
		Progress: func(p resource.Progress) { f.progress = append(f.progress, p.Msg) }}
	return f
}

var addr = resource.Addr{Type: "kind_cluster", Name: "kind"}

func (f *fixture) plan(t *testing.T, config, prior cty.Value) *resource.Change {
	t.Helper()
	ch, err := f.kind.Plan(context.Background(), resource.PlanRequest{Env: f.env, Addr: addr, Config: config, Prior: prior})
	if err != nil {
		t.Fatal(err)
	}
	return ch
}

func (f *fixture) apply(t *testing.T, config, prior cty.Value, ch *resource.Change) cty.Value {
	t.Helper()
	v, err := f.kind.Apply(context.Background(), resource.ApplyRequest{Env: f.env, Addr: addr, Config: config, Prior: prior, Change: ch})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestAutoWithoutEngineIsSimulatedAndSaysSo(t *testing.T) {
	f := newFixture(t)
	cfg := decode(t, `name = "kind"`)
	ch := f.plan(t, cfg, cty.NilVal)
	if ch.Action != resource.Create || ch.Drift {
		t.Fatalf("plan = %+v, want a plain create", ch)
	}
	if len(f.progress) != 1 || !strings.Contains(f.progress[0], "simulated") {
		t.Fatalf("progress = %q, want one line naming the simulated runtime", f.progress)
	}
	out := f.apply(t, cfg, cty.NilVal, ch)
	if got := out.GetAttr("backend").AsString(); got != Simulated {
		t.Fatalf("backend = %s", got)
	}
	if got := out.GetAttr("context").AsString(); got != "kind-kind" {
		t.Fatalf("context = %s", got)
	}
	if got := out.GetAttr("kubeconfig").AsString(); got != os.Getenv("KUBECONFIG") {
		t.Fatalf("kubeconfig = %s, want $KUBECONFIG", got)
	}
	o := f.sim.created[0]
	if o.Dir != filepath.Join(f.env.StateDir, "clusters", "kind") || o.Nodes != 1 || o.Wait != 5*time.Minute {
		t.Fatalf("simulated options = %+v", o)
	}
}

func TestSimulatedLifecycle(t *testing.T) {
	f := newFixture(t)
	cfg := decode(t, `
name    = "kind"
runtime = "simulated"
nodes   = [{ role = "control-plane" }, { role = "worker" }]
wait    = "90s"
`)
	prior := f.apply(t, cfg, cty.NilVal, f.plan(t, cfg, cty.NilVal))
	if o := f.sim.created[0]; o.Nodes != 2 || o.Wait != 90*time.Second {
		t.Fatalf("options = %+v", o)
	}
	// The fake does not write a kubeconfig; the real runtime does.
	writeContext(t, prior.GetAttr("kubeconfig").AsString(), "kind-kind")

	if ch := f.plan(t, cfg, prior); ch.Action != resource.NoOp {
		t.Fatalf("healthy cluster plans %+v, want no-op", ch)
	}

	f.sim.status = simulated.ClusterStatus{State: simulated.Stopped, Down: []string{"etcd", "kube-apiserver"}}
	ch := f.plan(t, cfg, prior)
	if ch.Action != resource.Update || !ch.Drift || ch.Reason != "control plane stopped; will restart it on its existing data" {
		t.Fatalf("stopped cluster plans %+v", ch)
	}
	f.apply(t, cfg, prior, ch)
	if len(f.sim.created) != 2 {
		t.Fatal("apply of a stopped cluster did not start it")
	}

	f.sim.status = simulated.ClusterStatus{State: simulated.Absent}
	if ch := f.plan(t, cfg, prior); ch.Action != resource.Create || !ch.Drift || ch.Reason != "deleted outside lab" {
		t.Fatalf("deleted cluster plans %+v", ch)
	}

	if err := f.kind.Delete(context.Background(), resource.DeleteRequest{Env: f.env, Addr: addr, Prior: prior}); err != nil {
		t.Fatal(err)
	}
	if len(f.sim.deleted) != 1 || f.sim.deleted[0].Kubeconfig != prior.GetAttr("kubeconfig").AsString() {
		t.Fatalf("deleted = %+v", f.sim.deleted)
	}
}

func TestMissingContextIsDrift(t *testing.T) {
	f := newFixture(t)
	cfg := decode(t, `
name    = "kind"
runtime = "simulated"
`)
	prior := f.apply(t, cfg, cty.NilVal, f.plan(t, cfg, cty.NilVal))
	ch := f.plan(t, cfg, prior)
	if ch.Action != resource.Update || !ch.Drift || !strings.Contains(ch.Reason, "kind-kind is missing") {
		t.Fatalf("plan = %+v, want an update for the missing context", ch)
	}
	// A kubeconfig that cannot be parsed is said so, not "missing".
	if err := os.WriteFile(os.Getenv("KUBECONFIG"), []byte("apiVersion: v1\nclusters: [:\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := f.kind.Plan(context.Background(), resource.PlanRequest{Env: f.env, Addr: addr, Config: cfg, Prior: prior})
	if err == nil || !strings.Contains(err.Error(), "cannot be read") || !strings.Contains(err.Error(), "fix or move it") {
		t.Fatalf("plan with a broken kubeconfig: %v", err)
	}
}

func TestReplaceNamesTheField(t *testing.T) {
	f := newFixture(t)
	cfg := decode(t, `
name    = "kind"
runtime = "simulated"
`)
	prior := f.apply(t, cfg, cty.NilVal, f.plan(t, cfg, cty.NilVal))
	for _, tc := range []struct{ src, field, old, new string }{
		{`name = "other"
runtime = "simulated"`, "name", "kind", "other"},
		{`name = "kind"
runtime = "simulated"
nodes = [{ role = "control-plane" }, { role = "worker" }]`, "nodes", "control-plane", "control-plane, worker"},
		{`name = "kind"
runtime = "docker"`, "runtime", "simulated (simulated)", "docker"},
	} {
		ch := f.plan(t, decode(t, tc.src), prior)
		if ch.Action != resource.Replace || len(ch.Fields) != 1 || ch.Fields[0] != (resource.FieldDiff{Path: tc.field, Old: tc.old, New: tc.new}) || !strings.HasPrefix(ch.Reason, tc.field+" changed") {
			t.Errorf("%s: plan = %+v", tc.field, ch)
		}
	}
	// A replace onto an engine that does not answer would delete the
	// cluster and then fail: plan refuses it, nothing is deleted.
	f.engine.down = errors.New("Cannot connect to the Docker daemon")
	_, err := f.kind.Plan(context.Background(), resource.PlanRequest{Env: f.env, Addr: addr, Config: decode(t, "name = \"kind\"\nruntime = \"docker\""), Prior: prior})
	if err == nil || !strings.Contains(err.Error(), "docker cannot be reached") || !strings.Contains(err.Error(), "Nothing was changed") {
		t.Errorf("replace onto a docker that does not answer: %v", err)
	}
	if len(f.sim.deleted) != 0 {
		t.Errorf("the simulated cluster was deleted: %+v", f.sim.deleted)
	}
	f.engine.down = nil

	// auto keeps the backend the cluster has, even once Docker answers.
	f.docker = true
	if ch := f.plan(t, decode(t, `name = "kind"`), prior); ch.Action == resource.Replace {
		t.Errorf("runtime auto replaced a simulated cluster: %+v", ch)
	}
}

func TestDockerCreatesOnceAndBuildsKindConfig(t *testing.T) {
	f := newFixture(t)
	f.docker = true
	cfg := decode(t, `
name       = "kind"
node_image = "kindest/node:v1.35.0"
nodes      = [{ role = "control-plane" }, { role = "worker" }, { role = "worker" }]
extra_port_mappings = [{ container_port = 30080, host_port = 8080 }, { container_port = 53, host_port = 5353, protocol = "udp", listen_address = "127.0.0.1" }]
`)
	ch := f.plan(t, cfg, cty.NilVal)
	var p private
	_ = json.Unmarshal(ch.Private, &p)
	if ch.Action != resource.Create || p.Backend != Docker {
		t.Fatalf("plan = %+v (%s)", ch, ch.Private)
	}
	out := f.apply(t, cfg, cty.NilVal, ch)
	if got := out.GetAttr("endpoint").AsString(); got != "https://127.0.0.1:6443" {
		t.Fatalf("endpoint = %q", got)
	}
	kc := f.engine.clusters["kind"]
	if len(kc.Nodes) != 3 || kc.Nodes[0].Role != v1alpha4.ControlPlaneRole || kc.Nodes[2].Role != v1alpha4.WorkerRole {
		t.Fatalf("nodes = %+v", kc.Nodes)
	}
	for _, n := range kc.Nodes {
		if n.Image != "kindest/node:v1.35.0" {
			t.Errorf("node image = %q", n.Image)
		}
	}
	pm := kc.Nodes[0].ExtraPortMappings
	if len(pm) != 2 || pm[0] != (v1alpha4.PortMapping{ContainerPort: 30080, HostPort: 8080, ListenAddress: "0.0.0.0", Protocol: "TCP"}) ||
		pm[1] != (v1alpha4.PortMapping{ContainerPort: 53, HostPort: 5353, ListenAddress: "127.0.0.1", Protocol: "UDP"}) {
		t.Fatalf("port mappings = %+v", pm)
	}
	if len(kc.Nodes[1].ExtraPortMappings) != 0 {
		t.Errorf("worker got port mappings")
	}

	// kind's Create is not idempotent: a second apply must only export.
	f.engine.calls = nil
	f.apply(t, cfg, out, &resource.Change{Action: resource.Update, Private: ch.Private})
	if strings.Join(f.engine.calls, ";") != "export kind" {
		t.Fatalf("second apply calls %v, want only export", f.engine.calls)
	}
	if ch := f.plan(t, cfg, out); ch.Action != resource.NoOp {
		t.Fatalf("plan after apply = %+v", ch)
	}
	changed := decode(t, `
name       = "kind"
node_image = "kindest/node:v1.36.0"
nodes      = [{ role = "control-plane" }, { role = "worker" }, { role = "worker" }]
extra_port_mappings = [{ container_port = 30080, host_port = 8080 }, { container_port = 53, host_port = 5353, protocol = "udp", listen_address = "127.0.0.1" }]
`)
	if ch := f.plan(t, changed, out); ch.Action != resource.Replace || ch.Fields[0].Path != "node_image" {
		t.Fatalf("node image change plans %+v", ch)
	}
	delete(f.engine.clusters, "kind")
	if ch := f.plan(t, cfg, out); ch.Action != resource.Create || ch.Reason != "deleted outside lab" {
		t.Fatalf("cluster deleted by hand plans %+v", ch)
	}
	f.engine.clusters["kind"] = kc
	if err := f.kind.Delete(context.Background(), resource.DeleteRequest{Env: f.env, Addr: addr, Prior: out}); err != nil {
		t.Fatal(err)
	}
	if _, ok := f.engine.clusters["kind"]; ok {
		t.Fatal("Delete left the kind cluster")
	}
	if err := f.kind.Delete(context.Background(), resource.DeleteRequest{Env: f.env, Addr: addr, Prior: out}); err != nil {
		t.Fatalf("second Delete: %v", err)
	}
}

func TestBadConfig(t *testing.T) {
	f := newFixture(t)
	for src, want := range map[string]string{
		`name = "Kind"`: "not a valid kind cluster name",
		`name = "kind"
runtime = "lxc"`: "not one of auto, docker, podman, simulated",
		`name = "kind"
wait = "soon"`: `wait "soon"`,
		`name = "kind"
nodes = [{ role = "worker" }]`: "no control-plane node",
		`name = "kind"
nodes = [{ role = "master" }]`: `"master" is not control-plane or worker`,
		`name = "kind"
extra_port_mappings = [{ container_port = 70000 }]`: "1-65535",
	} {
		_, err := f.kind.Plan(context.Background(), resource.PlanRequest{Env: f.env, Addr: addr, Config: decode(t, src)})
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "kind_cluster.kind") {
			t.Errorf("%s: error %v, want it to name the resource and say %q", src, err, want)
		}
	}
}

func writeContext(t *testing.T, path, name string) {
	t.Helper()
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[name] = &clientcmdapi.Cluster{Server: "https://127.0.0.1:1"}
	cfg.AuthInfos[name] = &clientcmdapi.AuthInfo{Token: "x"}
	cfg.Contexts[name] = &clientcmdapi.Context{Cluster: name, AuthInfo: name}
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
}
