package kind

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
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
	"labs.dev/lab/providers/kind/host"
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
	nodes    map[string][]node // node containers by cluster
	calls    []string
	created  chan struct{} // closed by Create when set, then Create blocks
}

func (f *fakeEngine) List() ([]string, error) {
	if f.down != nil {
		return nil, f.down
	}
	var n []string
	for k := range f.nodes {
		n = append(n, k)
	}
	return n, nil
}

func (f *fakeEngine) Create(name string, cfg *v1alpha4.Cluster, wait time.Duration, kubeconfig string) error {
	f.calls = append(f.calls, "create "+name+" wait="+wait.String())
	f.clusters[name] = cfg
	var roles []string
	for _, n := range cfg.Nodes {
		roles = append(roles, string(n.Role))
	}
	var ns []node
	for i, n := range expectedNodes(name, roles) {
		ns = append(ns, node{Name: n, Role: roles[i], State: "running", Image: cfg.Nodes[i].Image})
	}
	f.nodes[name] = ns
	return f.ExportKubeConfig(name, kubeconfig)
}

func (f *fakeEngine) ExportKubeConfig(name, kubeconfig string) error {
	f.calls = append(f.calls, "export "+name)
	cfg, err := clientcmd.LoadFromFile(kubeconfig)
	if err != nil {
		cfg = clientcmdapi.NewConfig()
	}
	cfg.Clusters["kind-"+name] = &clientcmdapi.Cluster{Server: "https://127.0.0.1:6443"}
	cfg.AuthInfos["kind-"+name] = &clientcmdapi.AuthInfo{Token: "x"}
	cfg.Contexts["kind-"+name] = &clientcmdapi.Context{Cluster: "kind-" + name, AuthInfo: "kind-" + name}
	return clientcmd.WriteToFile(*cfg, kubeconfig)
}

func (f *fakeEngine) Delete(name, kubeconfig string) error {
	f.calls = append(f.calls, "delete "+name)
	delete(f.clusters, name)
	delete(f.nodes, name)
	return nil
}

func (f *fakeEngine) Nodes(_ context.Context, name string) ([]node, error) {
	return f.nodes[name], nil
}

func (f *fakeEngine) Start(_ context.Context, nodes []node) error {
	for _, n := range nodes {
		f.calls = append(f.calls, "start "+n.Name)
		for c, ns := range f.nodes {
			for i := range ns {
				if ns[i].Name == n.Name {
					f.nodes[c][i].State = "running"
				}
			}
		}
	}
	return nil
}

func (f *fakeEngine) KubeVersion(_ context.Context, name string) (string, error) {
	if len(f.nodes[name]) == 0 {
		return "", errors.New("no nodes")
	}
	return "v1.35.4", nil
}

// setState sets the state of one node container.
func (f *fakeEngine) setState(cluster, name, state string) {
	for i, n := range f.nodes[cluster] {
		if n.Name == name {
			f.nodes[cluster][i].State = state
		}
	}
}

// fakeHost is a machine whose engines, images, registry, files and ports
// the test sets.
type fakeHost struct {
	engines map[string]string // engine → `info` answer; absent: not installed
	images  map[string]bool   // "podman <ref>"
	online  bool
	taken   map[string]bool // "tcp 0.0.0.0:8080"
	root    string
}

func (h *fakeHost) host() host.Host {
	return host.Host{
		Root: h.root,
		Run: func(ctx context.Context, name string, args ...string) ([]byte, error) {
			out, ok := h.engines[name]
			if !ok {
				return nil, fmt.Errorf("exec: %q: %w", name, exec.ErrNotFound)
			}
			if out == "" {
				return nil, errors.New("exit status 1: Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?")
			}
			if args[0] == "inspect" {
				if h.images[name+" "+args[len(args)-1]] {
					return []byte("[{}]"), nil
				}
				return nil, errors.New("exit status 125: image not known")
			}
			return []byte(out), nil
		},
		Bind: func(network, address string) error {
			if h.taken[network+" "+address] {
				return &os.SyscallError{Syscall: "bind", Err: syscall.EADDRINUSE}
			}
			return nil
		},
		Free: func(string) (uint64, error) { return 50 << 30, nil },
		Reach: func(context.Context, string) error {
			if h.online {
				return nil
			}
			return errors.New("dial tcp: lookup registry-1.docker.io: no such host")
		},
	}
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
	host     *fakeHost
	env      resource.Env
	progress []string
	waited   []string // nodes waited for after a start
}

func newFixture(t *testing.T) *fixture {
	dir := t.TempDir()
	t.Setenv("KUBECONFIG", filepath.Join(dir, "kubeconfig"))
	f := &fixture{
		engine: &fakeEngine{clusters: map[string]*v1alpha4.Cluster{}, nodes: map[string][]node{}},
		sim:    &fakeSim{status: simulated.ClusterStatus{State: simulated.Absent}},
		host:   &fakeHost{engines: map[string]string{}, images: map[string]bool{}, taken: map[string]bool{}, root: t.TempDir()},
	}
	// A cgroup v2 host with kind's inotify limits and /lib/modules.
	for p, content := range map[string]string{
		"sys/fs/cgroup/cgroup.controllers":       "cpu memory\n",
		"proc/sys/fs/inotify/max_user_watches":   "524288\n",
		"proc/sys/fs/inotify/max_user_instances": "512\n",
		"lib/modules/.keep":                      "",
	} {
		writeFile(t, filepath.Join(f.host.root, p), content)
	}
	f.kind = &clusterKind{
		engine: func(string, *slog.Logger) engine { return f.engine },
		host:   f.host.host(),
		sim:    f.sim,
		ready: func(_ context.Context, _, _ string, nodes []string, _ time.Time, _ time.Duration) error {
			f.waited = append(f.waited, nodes...)
			return nil
		},
	}
	f.env = resource.Env{Dir: dir, StateDir: filepath.Join(dir, ".lab"), Log: slog.New(slog.DiscardHandler),
		Progress: func(p resource.Progress) { f.progress = append(f.progress, p.Msg) }}
	return f
}

// docker makes docker answer, with the images given present.
func (f *fixture) docker(images ...string) {
	f.host.engines["docker"] = "28.2.2|2|/var/lib/docker|name=seccomp,\n"
	for _, i := range images {
		f.host.images["docker "+i] = true
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
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
	f.docker(host.PublishedImage)
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
	f.host.engines["docker"] = ""
	_, err := f.kind.Plan(context.Background(), resource.PlanRequest{Env: f.env, Addr: addr, Config: decode(t, "name = \"kind\"\nruntime = \"docker\""), Prior: prior})
	for _, want := range []string{"cannot make the new cluster on docker; nothing was changed", "✗ docker is installed but not running", "fix: sudo systemctl start docker", `Or keep runtime = "simulated".`, "-var runtime=simulated"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("replace onto a docker that does not answer: %v; want it to say %q", err, want)
		}
	}
	if len(f.sim.deleted) != 0 {
		t.Errorf("the simulated cluster was deleted: %+v", f.sim.deleted)
	}

	// auto keeps the backend the cluster has, even once Docker answers.
	f.docker(host.PublishedImage)
	if ch := f.plan(t, decode(t, `name = "kind"`), prior); ch.Action == resource.Replace {
		t.Errorf("runtime auto replaced a simulated cluster: %+v", ch)
	}
}

func TestDockerCreatesOnceAndBuildsKindConfig(t *testing.T) {
	f := newFixture(t)
	f.docker("kindest/node:v1.35.0", "kindest/node:v1.36.0")
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
	nodes := f.engine.nodes["kind"]
	delete(f.engine.nodes, "kind")
	if ch := f.plan(t, cfg, out); ch.Action != resource.Create || ch.Reason != "deleted outside lab" {
		t.Fatalf("cluster deleted by hand plans %+v", ch)
	}
	f.engine.nodes["kind"] = nodes
	if err := f.kind.Delete(context.Background(), resource.DeleteRequest{Env: f.env, Addr: addr, Prior: out}); err != nil {
		t.Fatal(err)
	}
	if _, ok := f.engine.nodes["kind"]; ok {
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
