// Package simulated runs a kind-compatible Kubernetes cluster without a
// container engine: etcd, kube-apiserver, kube-controller-manager and
// kube-scheduler as local processes on 127.0.0.1, and kwok playing the
// kubelet of every node. Controllers, scheduling and rollouts are real;
// only containers are simulated (kwok reports every placed pod Running).
//
// A cluster lives in one directory (PKI, etcd data, logs, PID files,
// cluster.json); its processes run detached so they outlive the caller,
// and Create starts it again on the same data after a reboot.
package simulated

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// Options describe a cluster.
type Options struct {
	// Name is the kind cluster name: context kind-<Name>, node
	// <Name>-control-plane.
	Name string
	// Dir holds everything of the cluster (lab uses <StateDir>/clusters/<Name>).
	Dir string
	// Kubeconfig is the file the context is merged into; default the
	// first path of $KUBECONFIG, else ~/.kube/config.
	Kubeconfig string
	// Nodes is the node count, control plane included (default 1).
	Nodes int
	// Wait bounds how long Create waits for the cluster to be usable
	// (default 5m).
	Wait time.Duration
	// Log receives debug detail; nil discards it.
	Log *slog.Logger
	// Progress receives one line per long step; nil discards it.
	Progress func(msg string)
}

// Cluster is a usable cluster.
type Cluster struct {
	Name       string
	Dir        string
	Kubeconfig string // file holding Context
	Context    string // kind-<Name>
	Endpoint   string // https://127.0.0.1:<port>
	// Config connects as the cluster admin, with client-side rate
	// limiting off.
	Config *rest.Config
}

// State is what Status found.
type State string

const (
	Running State = "running" // every process is up
	Stopped State = "stopped" // data exists; some or all processes are down
	Absent  State = "absent"  // no cluster in the directory
)

// ClusterStatus describes the cluster in a directory.
type ClusterStatus struct {
	State      State
	Name       string
	Endpoint   string
	Kubeconfig string
	// Down lists the components whose process is not running.
	Down []string
	// PIDs of the running components.
	PIDs map[string]int
}

// record is cluster.json: what a restart needs to know.
type record struct {
	Name       string    `json:"name"`
	Nodes      int       `json:"nodes"`
	Kubeconfig string    `json:"kubeconfig"`
	Binaries   string    `json:"binaries"`
	Ports      ports     `json:"ports"`
	Created    time.Time `json:"created"`
	// Ready is set once the add-ons were applied and the cluster was
	// usable; until then a Create finishes the job.
	Ready bool `json:"ready"`
}

type ports struct {
	Etcd      int `json:"etcd"`
	EtcdPeer  int `json:"etcdPeer"`
	APIServer int `json:"apiserver"`
}

// components in start order; stop goes the other way.
var components = []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok"}

var nameRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

func (o *Options) defaults() error {
	if !nameRE.MatchString(o.Name) || len(o.Name) > 50 {
		return fmt.Errorf("simulated cluster name %q is invalid: use lower-case letters, digits and '-', at most 50 characters, like kind", o.Name)
	}
	if o.Dir == "" {
		return errors.New("simulated cluster: no directory given for its data")
	}
	dir, err := filepath.Abs(o.Dir)
	if err != nil {
		return fmt.Errorf("simulated cluster directory %s: %w", o.Dir, err)
	}
	o.Dir = dir
	if o.Nodes == 0 {
		o.Nodes = 1
	}
	if o.Nodes < 1 {
		return fmt.Errorf("simulated cluster %s: nodes must be at least 1, got %d", o.Name, o.Nodes)
	}
	if o.Wait <= 0 {
		o.Wait = 5 * time.Minute
	}
	if o.Kubeconfig == "" {
		o.Kubeconfig = DefaultKubeconfig()
	}
	if abs, err := filepath.Abs(o.Kubeconfig); err == nil {
		o.Kubeconfig = abs
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Progress == nil {
		o.Progress = func(string) {}
	}
	return nil
}

func recordPath(dir string) string { return filepath.Join(dir, "cluster.json") }

func readRecord(dir string) (*record, error) {
	b, err := os.ReadFile(recordPath(dir))
	if err != nil {
		return nil, err
	}
	var r record
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("simulated cluster record %s is corrupt: %w (delete the directory to start over)", recordPath(dir), err)
	}
	return &r, nil
}

func writeRecord(dir string, r *record) error {
	b, _ := json.MarshalIndent(r, "", "  ")
	tmp := recordPath(dir) + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", recordPath(dir), err)
	}
	if err := os.Rename(tmp, recordPath(dir)); err != nil {
		return fmt.Errorf("write %s: %w", recordPath(dir), err)
	}
	return nil
}

// lockDir serialises Create, Stop and Delete on one directory.
func lockDir(dir string) (func(), error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("simulated cluster directory %s: %w", dir, err)
	}
	f, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock simulated cluster %s: %w", dir, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock simulated cluster %s: %w", dir, err)
	}
	return func() { _ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() }, nil
}

// Status reports the cluster in dir without changing anything.
func Status(dir string) (ClusterStatus, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return ClusterStatus{}, err
	}
	r, err := readRecord(dir)
	if errors.Is(err, os.ErrNotExist) {
		return ClusterStatus{State: Absent}, nil
	}
	if err != nil {
		return ClusterStatus{}, err
	}
	st := ClusterStatus{State: Running, Name: r.Name, Endpoint: endpoint(r.Ports.APIServer), Kubeconfig: r.Kubeconfig, PIDs: map[string]int{}}
	for _, c := range components {
		if pid, ok := running(dir, c); ok {
			st.PIDs[c] = pid
		} else {
			st.Down = append(st.Down, c)
		}
	}
	if len(st.Down) > 0 {
		st.State = Stopped
	}
	return st, nil
}

func endpoint(port int) string { return "https://127.0.0.1:" + strconv.Itoa(port) }

// Create makes the cluster usable: it creates it, starts a stopped one on
// its data (only the processes that are down, unless etcd or the API
// server is among them), or returns the running one. Either way the
// kubeconfig context kind-<Name> is merged and made current.
func Create(ctx context.Context, o Options) (*Cluster, error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	bins, err := binPaths(serverBinaries)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, o.Wait)
	defer cancel()
	unlock, err := lockDir(o.Dir)
	if err != nil {
		return nil, err
	}
	defer unlock()

	began := time.Now()
	p := pki{dir: filepath.Join(o.Dir, "pki")}
	r, err := readRecord(o.Dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		// A cluster of this directory whose record is gone cannot be
		// used again (its data went with it): end what still runs.
		reapOrphans(o.Dir, components)
		if err := runningElsewhere(o, ""); err != nil {
			return nil, err
		}
		o.Progress(fmt.Sprintf("Creating simulated cluster %q (etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok on 127.0.0.1)", o.Name))
		if err := p.generate(); err != nil {
			return nil, fmt.Errorf("simulated cluster %s: generate certificates: %w", o.Name, err)
		}
		r = &record{Name: o.Name, Nodes: o.Nodes, Kubeconfig: o.Kubeconfig, Created: time.Now().UTC()}
	case err != nil:
		return nil, err
	case r.Name != o.Name:
		return nil, fmt.Errorf("directory %s holds simulated cluster %q, not %q: delete that one first or use another directory", o.Dir, r.Name, o.Name)
	}
	if !p.exists() {
		return nil, fmt.Errorf("simulated cluster %s: certificates missing in %s (the directory was damaged; delete it and create again)", o.Name, p.dir)
	}
	r.Binaries = filepath.Dir(bins["etcd"])
	kubeconfigMoved := r.Kubeconfig != o.Kubeconfig
	if kubeconfigMoved && r.Kubeconfig != "" {
		_ = removeKubeconfig(r.Kubeconfig, "kind-"+o.Name)
	}
	r.Kubeconfig = o.Kubeconfig

	st, err := Status(o.Dir)
	if err != nil {
		return nil, err
	}
	down := map[string]bool{}
	for _, c := range st.Down {
		down[c] = true
	}
	if st.State == Absent {
		for _, c := range components {
			down[c] = true
		}
		st.State = Stopped
	}
	procs := map[string]*proc{}
	if st.State == Stopped && down["kube-apiserver"] && r.Ports.APIServer != 0 {
		if err := runningElsewhere(o, endpoint(r.Ports.APIServer)); err != nil {
			return nil, err
		}
	}
	if st.State == Stopped {
		if r.Ports.APIServer != 0 {
			o.Progress(fmt.Sprintf("Restarting simulated cluster %q on its existing data (down: %s)", o.Name, strings.Join(st.Down, ", ")))
		}
		// etcd and the API server carry the ports; restart everything
		// when either is down so the others reconnect to the new ones.
		if down["etcd"] || down["kube-apiserver"] {
			for _, c := range components {
				if !down[c] {
					if err := stop(ctx, o.Dir, c); err != nil {
						return nil, err
					}
					down[c] = true
				}
			}
			if err := r.Ports.choose(); err != nil {
				return nil, fmt.Errorf("simulated cluster %s: %w", o.Name, err)
			}
		}
		if err := writeRecord(o.Dir, r); err != nil {
			return nil, err
		}
		if err := writeConfigs(o.Dir, p, r); err != nil {
			return nil, err
		}
		for _, c := range components {
			if !down[c] {
				continue
			}
			pr, err := (starter{dir: o.Dir}).start(c, bins[c], args(c, o.Dir, p, r))
			if err != nil {
				return nil, fmt.Errorf("simulated cluster %s: %w", o.Name, err)
			}
			o.Log.Debug("started", "component", c, "pid", pr.pid)
			procs[c] = pr
		}
		o.Log.Debug("processes started", "after", time.Since(began))
	}
	for _, c := range components {
		if procs[c] == nil {
			procs[c], _ = found(o.Dir, c)
		}
	}

	cl, err := o.cluster(r, p)
	if err != nil {
		return nil, err
	}
	if err := o.waitUsable(ctx, cl, r, procs); err != nil {
		return nil, o.withLogs(err)
	}
	r.Ready = true // and waitUsable may have added nodes
	if err := writeRecord(o.Dir, r); err != nil {
		return nil, err
	}
	if kubeconfigMoved || st.State == Stopped || !kubeconfigHas(o.Kubeconfig, cl.Context, cl.Endpoint) {
		if err := mergeKubeconfig(o.Kubeconfig, cl.Context, cl.Endpoint, p); err != nil {
			return nil, err
		}
	}
	o.Log.Debug("cluster usable", "name", o.Name, "after", time.Since(began))
	return cl, nil
}

func (o *Options) cluster(r *record, p pki) (*Cluster, error) {
	ep := endpoint(r.Ports.APIServer)
	cfg := &rest.Config{
		Host: ep,
		TLSClientConfig: rest.TLSClientConfig{
			CAFile:   p.path("ca.crt"),
			CertFile: p.path("admin.crt"),
			KeyFile:  p.path("admin.key"),
		},
		QPS:       -1,
		Burst:     -1,
		UserAgent: "lab-simulated",
	}
	return &Cluster{Name: r.Name, Dir: o.Dir, Kubeconfig: o.Kubeconfig, Context: "kind-" + r.Name, Endpoint: ep, Config: cfg}, nil
}

// choose picks free ports for those not set or no longer free.
func (pt *ports) choose() error {
	for _, p := range []*int{&pt.Etcd, &pt.EtcdPeer, &pt.APIServer} {
		if *p != 0 && portFree(*p) {
			continue
		}
		n, err := freePort()
		if err != nil {
			return fmt.Errorf("no free port on 127.0.0.1: %w", err)
		}
		*p = n
	}
	return nil
}

func portFree(port int) bool {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return false
	}
	l.Close()
	return true
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func confPath(dir, user string) string { return filepath.Join(dir, "conf", user+".kubeconfig") }

// writeConfigs writes the components' kubeconfigs (they carry the API
// server's port) and kwok's stages.
func writeConfigs(dir string, p pki, r *record) error {
	if err := os.MkdirAll(filepath.Join(dir, "conf"), 0o700); err != nil {
		return err
	}
	for _, user := range []string{"controller-manager", "scheduler", "kwok"} {
		if err := clientcmd.WriteToFile(*componentKubeconfig(endpoint(r.Ports.APIServer), p, user), confPath(dir, user)); err != nil {
			return fmt.Errorf("write %s kubeconfig: %w", user, err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "conf", "kwok.yaml"), kwokStages, 0o600); err != nil {
		return fmt.Errorf("write kwok configuration: %w", err)
	}
	return nil
}

func args(component, dir string, p pki, r *record) []string {
	etcdURL := "http://127.0.0.1:" + strconv.Itoa(r.Ports.Etcd)
	peerURL := "http://127.0.0.1:" + strconv.Itoa(r.Ports.EtcdPeer)
	switch component {
	case "etcd":
		return []string{
			"--name=default",
			"--data-dir=" + filepath.Join(dir, "etcd"),
			"--listen-client-urls=" + etcdURL,
			"--advertise-client-urls=" + etcdURL,
			"--listen-peer-urls=" + peerURL,
			"--initial-advertise-peer-urls=" + peerURL,
			"--initial-cluster=default=" + peerURL,
			"--listen-metrics-urls=",
			"--log-level=warn",
		}
	case "kube-apiserver":
		return []string{
			"--advertise-address=127.0.0.1",
			"--bind-address=127.0.0.1",
			"--secure-port=" + strconv.Itoa(r.Ports.APIServer),
			"--etcd-servers=" + etcdURL,
			"--client-ca-file=" + p.path("ca.crt"),
			"--tls-cert-file=" + p.path("apiserver.crt"),
			"--tls-private-key-file=" + p.path("apiserver.key"),
			"--kubelet-client-certificate=" + p.path("apiserver-kubelet-client.crt"),
			"--kubelet-client-key=" + p.path("apiserver-kubelet-client.key"),
			"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
			"--service-account-key-file=" + p.path("sa.pub"),
			"--service-account-signing-key-file=" + p.path("sa.key"),
			"--service-cluster-ip-range=10.96.0.0/16",
			"--authorization-mode=Node,RBAC",
			"--enable-admission-plugins=NodeRestriction",
			"--allow-privileged=true",
			"--profiling=false",
			"--cert-dir=" + filepath.Join(dir, "pki"),
		}
	case "kube-controller-manager":
		return []string{
			"--kubeconfig=" + confPath(dir, "controller-manager"),
			"--bind-address=127.0.0.1",
			"--secure-port=0",
			"--leader-elect=false",
			// Each controller as its own ServiceAccount, as in kind. It costs
			// ≈4 s of start (a token per controller before any starts), but
			// kube-system then holds the ServiceAccounts a kind cluster has.
			"--use-service-account-credentials=true",
			"--service-account-private-key-file=" + p.path("sa.key"),
			"--root-ca-file=" + p.path("ca.crt"),
			"--cluster-signing-cert-file=" + p.path("ca.crt"),
			"--cluster-signing-key-file=" + p.path("ca.key"),
			"--allocate-node-cidrs=true",
			"--cluster-cidr=10.244.0.0/16",
			"--service-cluster-ip-range=10.96.0.0/16",
			"--cluster-name=" + r.Name,
			"--controllers=*,bootstrapsigner,tokencleaner",
			"--profiling=false",
		}
	case "kube-scheduler":
		return []string{
			"--kubeconfig=" + confPath(dir, "scheduler"),
			"--bind-address=127.0.0.1",
			"--secure-port=0",
			"--leader-elect=false",
			"--profiling=false",
		}
	case "kwok":
		return []string{
			"--kubeconfig=" + confPath(dir, "kwok"),
			"--config=" + filepath.Join(dir, "conf", "kwok.yaml"),
			"--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
			"--node-lease-duration-seconds=40",
			"--cidr=10.244.0.0/16",
			"--node-ip=172.18.0.2",
		}
	}
	return nil
}

// waitUsable waits for /readyz, applies the add-ons if this cluster never
// got them, then waits for the nodes Ready, the default ServiceAccount
// and the kube-system workloads.
func (o *Options) waitUsable(ctx context.Context, cl *Cluster, r *record, procs map[string]*proc) error {
	cs, err := kubernetes.NewForConfig(cl.Config)
	if err != nil {
		return fmt.Errorf("simulated cluster %s: %w", o.Name, err)
	}
	dyn, err := dynamic.NewForConfig(cl.Config)
	if err != nil {
		return fmt.Errorf("simulated cluster %s: %w", o.Name, err)
	}
	o.Progress("Waiting for the API server at " + cl.Endpoint)
	if err := poll(ctx, "the API server's /readyz", func() (bool, error) {
		if err := exited(o.Dir, procs); err != nil {
			return false, err
		}
		_, err := cs.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		return err == nil, nil
	}); err != nil {
		return err
	}

	data := newAddonData(o.Name, max(r.Nodes, o.Nodes))
	if !r.Ready || o.Nodes > r.Nodes {
		o.Progress("Installing kind's kube-system add-ons (kindnet, kube-proxy, coredns) and node(s)")
		objs, err := renderAddons("[0-2]", data)
		if err != nil {
			return err
		}
		if err := applyAll(ctx, o.Log, dyn, objs); err != nil {
			return fmt.Errorf("simulated cluster %s: %w", o.Name, err)
		}
		for _, n := range data.Nodes {
			if err := applyNodeStatus(ctx, dyn, n.Name); err != nil {
				return fmt.Errorf("simulated cluster %s: %w", o.Name, err)
			}
		}
		r.Nodes = max(r.Nodes, o.Nodes)
	}
	// Static-pod lookalikes name their node as owner, so they need its UID.
	node, err := cs.CoreV1().Nodes().Get(ctx, data.ControlPlane, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("simulated cluster %s: node %s: %w", o.Name, data.ControlPlane, err)
	}
	data.ControlPlaneUID = string(node.UID)
	if !r.Ready {
		objs, err := renderAddons("30-", data)
		if err != nil {
			return err
		}
		if err := applyAll(ctx, o.Log, dyn, objs); err != nil {
			return fmt.Errorf("simulated cluster %s: %w", o.Name, err)
		}
	}

	o.Progress("Waiting for node(s) Ready and the default ServiceAccount")
	// The three waits run together; the first failure ends the others.
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	waits := []struct {
		what string
		f    func() (bool, error)
	}{
		{"node(s) Ready", func() (bool, error) {
			for _, n := range data.Nodes {
				node, err := cs.CoreV1().Nodes().Get(wctx, n.Name, metav1.GetOptions{})
				if err != nil || !nodeReady(node) {
					return false, nil
				}
			}
			return true, nil
		}},
		{"ServiceAccount default/default (created by kube-controller-manager)", func() (bool, error) {
			if err := exited(o.Dir, procs); err != nil {
				return false, err
			}
			_, err := cs.CoreV1().ServiceAccounts("default").Get(wctx, "default", metav1.GetOptions{})
			return err == nil, nil
		}},
		{"kube-system pods Running", func() (bool, error) {
			return systemReady(wctx, cs, len(data.Nodes))
		}},
	}
	errs := make([]error, len(waits))
	var wg sync.WaitGroup
	for i, w := range waits {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if errs[i] = poll(wctx, w.what, w.f); errs[i] != nil {
				cancel()
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil && !errors.Is(err, context.Canceled) {
			return err
		}
	}
	return errors.Join(errs...)
}

func nodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// systemReady: coredns available, both DaemonSets on every node, and the
// four control-plane pods Running.
func systemReady(ctx context.Context, cs kubernetes.Interface, nodes int) (bool, error) {
	d, err := cs.AppsV1().Deployments("kube-system").Get(ctx, "coredns", metav1.GetOptions{})
	if err != nil || d.Status.AvailableReplicas < 2 || d.Status.UpdatedReplicas < 2 {
		return false, nil
	}
	for _, name := range []string{"kindnet", "kube-proxy"} {
		ds, err := cs.AppsV1().DaemonSets("kube-system").Get(ctx, name, metav1.GetOptions{})
		if err != nil || ds.Status.NumberReady < int32(nodes) || ds.Status.DesiredNumberScheduled < int32(nodes) {
			return false, nil
		}
	}
	pods, err := cs.CoreV1().Pods("kube-system").List(ctx, metav1.ListOptions{LabelSelector: "tier=control-plane"})
	if err != nil || len(pods.Items) < 4 {
		return false, nil
	}
	for _, p := range pods.Items {
		if p.Status.Phase != corev1.PodRunning {
			return false, nil
		}
	}
	return true, nil
}

// poll calls f every 100 ms until it is true or ctx ends.
func poll(ctx context.Context, what string, f func() (bool, error)) error {
	for {
		ok, err := f()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("timed out waiting for %s: %w", what, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// exited reports a component that died while the cluster was starting,
// with the end of its log, so a bad start fails at once rather than at
// the end of the wait. procs holds each component's process: started by
// this run, found running, or nil when it was neither.
func exited(dir string, procs map[string]*proc) error {
	for _, c := range components {
		p := procs[c]
		if p != nil && !p.exited(dir) {
			continue
		}
		how := ""
		if p != nil && p.err != nil {
			how = " (" + p.err.Error() + ")"
		}
		return fmt.Errorf("%s exited during start%s; the end of %s:\n%s", c, how, logFile(dir, c), tail(logFile(dir, c), 15))
	}
	return nil
}

func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// withLogs points at the logs when the cluster did not come up.
func (o *Options) withLogs(err error) error {
	return fmt.Errorf("simulated cluster %s did not become usable: %w (logs: %s)", o.Name, err, filepath.Join(o.Dir, "logs"))
}

// Stop stops the cluster's processes by their recorded PIDs and keeps
// its data. Stopping a stopped or absent cluster does nothing.
func Stop(ctx context.Context, dir string) error {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	unlock, err := lockDir(dir)
	if err != nil {
		return err
	}
	defer unlock()
	return stopAll(ctx, dir)
}

func stopAll(ctx context.Context, dir string) error {
	// Clients first, so none of them logs a storm of errors while the
	// API server goes; then the API server, then etcd.
	var errs []error
	for _, group := range [][]string{{"kwok", "kube-scheduler", "kube-controller-manager"}, {"kube-apiserver"}, {"etcd"}} {
		var wg sync.WaitGroup
		var mu sync.Mutex
		for _, c := range group {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := stop(ctx, dir, c); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
	}
	return errors.Join(errs...)
}

// Delete stops the cluster, removes its directory and its kubeconfig
// context, cluster and user. Deleting an absent cluster is not an error.
func Delete(ctx context.Context, o Options) error {
	if o.Dir == "" {
		return errors.New("simulated cluster: no directory given")
	}
	dir, err := filepath.Abs(o.Dir)
	if err != nil {
		return err
	}
	name, kubeconfig := o.Name, o.Kubeconfig
	if r, err := readRecord(dir); err == nil {
		name = r.Name
		if kubeconfig == "" {
			kubeconfig = r.Kubeconfig
		}
	}
	if kubeconfig == "" {
		kubeconfig = DefaultKubeconfig()
	}
	// The context is removed last; a kubeconfig that cannot be read would
	// fail that after the cluster is gone, leaving state behind it.
	if _, err := clientcmd.LoadFromFile(kubeconfig); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("delete simulated cluster %s: kubeconfig %s cannot be read: %w (fix or move it, then run again; nothing was deleted)", name, kubeconfig, err)
	}
	if _, err := os.Stat(dir); err == nil {
		unlock, err := lockDir(dir)
		if err != nil {
			return err
		}
		err = stopAll(ctx, dir)
		unlock()
		if err != nil {
			return fmt.Errorf("delete simulated cluster %s: %w", name, err)
		}
		if err := os.RemoveAll(dir); err != nil {
			return fmt.Errorf("delete simulated cluster %s: remove %s: %w", name, dir, err)
		}
	}
	if name != "" {
		if err := removeKubeconfig(kubeconfig, "kind-"+name); err != nil {
			return fmt.Errorf("delete simulated cluster %s: %w", name, err)
		}
	}
	return nil
}

func isConnErr(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, syscall.ECONNREFUSED) || apierrors.IsUnexpectedServerError(err)
}
