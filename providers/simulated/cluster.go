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
	"syscall"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
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
	// Progress receives a line saying whether Create makes the cluster
	// or restarts it, then one per step that takes time, starting with
	// the step's name; nil discards them.
	Progress func(msg string)
	// Retain keeps a new cluster whose creation failed, processes and
	// files, for debugging (kind's --retain). By default it is removed
	// but for its logs. A cluster restarted on its data is never removed.
	Retain bool
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
