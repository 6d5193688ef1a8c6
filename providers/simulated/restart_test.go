package simulated_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"labs.dev/lab/providers/simulated"
	"labs.dev/lab/providers/simulated/simtest"
)

func optionsOf(c *simulated.Cluster) simulated.Options {
	return simulated.Options{Name: c.Name, Dir: c.Dir, Kubeconfig: c.Kubeconfig, Wait: 2 * time.Minute}
}

func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	return err == nil && !zombie(b)
}

func zombie(stat []byte) bool {
	for i := len(stat) - 1; i > 0; i-- {
		if stat[i] == ')' && i+2 < len(stat) {
			return stat[i+2] == 'Z' || stat[i+2] == 'X'
		}
	}
	return false
}

func waitDown(t *testing.T, dir string, component string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		st, err := simulated.Status(dir)
		if err != nil {
			t.Fatal(err)
		}
		if slices.Contains(st.Down, component) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s still up after SIGKILL", component)
}

// A learner's machine kills a control-plane process; the next `lab up`
// (Create) starts what is down and the cluster works again.
func TestKilledProcessIsRestartedByCreate(t *testing.T) {
	c := simtest.Get(t)
	ctx := context.Background()
	for _, victim := range []string{"kube-scheduler", "kube-apiserver"} {
		st, err := simulated.Status(c.Dir)
		if err != nil || st.State != simulated.Running {
			t.Fatalf("Status = %+v, %v; want running", st, err)
		}
		pid := st.PIDs[victim]
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		waitDown(t, c.Dir, victim)
		if st, _ := simulated.Status(c.Dir); st.State != simulated.Stopped {
			t.Fatalf("after killing %s Status is %s, want stopped", victim, st.State)
		}
		began := time.Now()
		again, err := simulated.Create(ctx, optionsOf(c))
		if err != nil {
			t.Fatalf("Create after killing %s: %v", victim, err)
		}
		t.Logf("restarted after killing %s in %v", victim, time.Since(began))
		if again.Endpoint != c.Endpoint {
			t.Errorf("endpoint moved from %s to %s although the port was free", c.Endpoint, again.Endpoint)
		}
		st, err = simulated.Status(c.Dir)
		if err != nil || st.State != simulated.Running {
			t.Fatalf("after restart Status = %+v, %v; want running", st, err)
		}
		if st.PIDs[victim] == pid {
			t.Errorf("%s has its old PID %d", victim, pid)
		}
		if _, err := clientset(t, again).CoreV1().ServiceAccounts("default").Get(ctx, "default", metav1.GetOptions{}); err != nil {
			t.Fatalf("cluster unusable after restarting %s: %v", victim, err)
		}
	}
}

// Stop (as after `lab down` of processes, or a reboot) then Create starts
// the same cluster on its data: what was in it is still there.
func TestStopThenCreateKeepsData(t *testing.T) {
	c := simtest.Get(t)
	ctx := context.Background()
	cs := clientset(t, c)
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "survivor", Namespace: "default"}, Data: map[string]string{"k": "v"}}
	if _, err := cs.CoreV1().ConfigMaps("default").Create(ctx, cm, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	before, _ := simulated.Status(c.Dir)
	if err := simulated.Stop(ctx, c.Dir); err != nil {
		t.Fatal(err)
	}
	st, err := simulated.Status(c.Dir)
	if err != nil || st.State != simulated.Stopped || len(st.Down) != 5 {
		t.Fatalf("after Stop Status = %+v, %v; want stopped with all five down", st, err)
	}
	for comp, pid := range before.PIDs {
		if alive(pid) {
			t.Errorf("%s (PID %d) still alive after Stop", comp, pid)
		}
	}
	if err := simulated.Stop(ctx, c.Dir); err != nil {
		t.Fatalf("second Stop: %v", err)
	}

	again, err := simulated.Create(ctx, optionsOf(c))
	if err != nil {
		t.Fatal(err)
	}
	got, err := clientset(t, again).CoreV1().ConfigMaps("default").Get(ctx, "survivor", metav1.GetOptions{})
	if err != nil || got.Data["k"] != "v" {
		t.Fatalf("ConfigMap made before Stop: %v, %v", got, err)
	}
	_ = cs.CoreV1().ConfigMaps("default").Delete(ctx, "survivor", metav1.DeleteOptions{})
}

// A second cluster with a worker: kind's node names, a DaemonSet pod per
// node, the kubeconfig merged beside other contexts and removed again by
// Delete, and no process left behind.
func TestTwoNodeClusterCreateAndDelete(t *testing.T) {
	simtest.Get(t) // skips like the others when binaries are missing
	if testing.Short() {
		t.Skip("starts a second cluster")
	}
	ctx := context.Background()
	dir := t.TempDir()
	kubeconfig := filepath.Join(dir, "kubeconfig")
	other := clientcmdapi.NewConfig()
	other.Clusters["other"] = &clientcmdapi.Cluster{Server: "https://example.invalid"}
	other.AuthInfos["other"] = &clientcmdapi.AuthInfo{Token: "t"}
	other.Contexts["other"] = &clientcmdapi.Context{Cluster: "other", AuthInfo: "other"}
	other.CurrentContext = "other"
	if err := clientcmd.WriteToFile(*other, kubeconfig); err != nil {
		t.Fatal(err)
	}
	o := simulated.Options{Name: "two", Dir: filepath.Join(dir, "cluster"), Kubeconfig: kubeconfig, Nodes: 2, Wait: 2 * time.Minute}
	t.Cleanup(func() { _ = simulated.Delete(context.Background(), o) })
	c, err := simulated.Create(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	cs := clientset(t, c)
	for _, n := range []string{"two-control-plane", "two-worker"} {
		if _, err := cs.CoreV1().Nodes().Get(ctx, n, metav1.GetOptions{}); err != nil {
			t.Errorf("node %s: %v", n, err)
		}
	}
	ds, err := cs.AppsV1().DaemonSets("kube-system").Get(ctx, "kube-proxy", metav1.GetOptions{})
	if err != nil || ds.Status.NumberReady != 2 {
		t.Errorf("kube-proxy DaemonSet: %+v, %v; want 2 ready", ds.Status, err)
	}
	cfg, err := clientcmd.LoadFromFile(kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.CurrentContext != "kind-two" || cfg.Contexts["other"] == nil || cfg.Contexts["kind-two"] == nil {
		t.Errorf("kubeconfig: current %q, contexts %v; want kind-two current and other kept", cfg.CurrentContext, keys(cfg.Contexts))
	}
	if fi, _ := os.Stat(kubeconfig); fi.Mode().Perm() != 0o600 {
		t.Errorf("kubeconfig mode %v, want 0600", fi.Mode().Perm())
	}

	// After a reboot another program may hold the API server's port:
	// the restart takes a new one and rewrites the kubeconfig.
	if err := simulated.Stop(ctx, o.Dir); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", strings.TrimPrefix(c.Endpoint, "https://"))
	if err != nil {
		t.Fatal(err)
	}
	moved, err := simulated.Create(ctx, o)
	l.Close()
	if err != nil {
		t.Fatal(err)
	}
	if moved.Endpoint == c.Endpoint {
		t.Fatalf("endpoint stayed %s although its port was taken", c.Endpoint)
	}
	cfg, _ = clientcmd.LoadFromFile(kubeconfig)
	if got := cfg.Clusters["kind-two"].Server; got != moved.Endpoint {
		t.Errorf("kubeconfig server %s, want the new endpoint %s", got, moved.Endpoint)
	}

	st, _ := simulated.Status(o.Dir)
	if err := simulated.Delete(ctx, o); err != nil {
		t.Fatal(err)
	}
	for comp, pid := range st.PIDs {
		if alive(pid) {
			t.Errorf("%s (PID %d) alive after Delete", comp, pid)
		}
	}
	if _, err := os.Stat(o.Dir); !os.IsNotExist(err) {
		t.Errorf("cluster directory still there: %v", err)
	}
	cfg, _ = clientcmd.LoadFromFile(kubeconfig)
	if cfg.Contexts["kind-two"] != nil || cfg.Clusters["kind-two"] != nil || cfg.AuthInfos["kind-two"] != nil || cfg.Contexts["other"] == nil {
		t.Errorf("after Delete kubeconfig contexts %v; want only other", keys(cfg.Contexts))
	}
	if err := simulated.Delete(ctx, o); err != nil {
		t.Errorf("second Delete: %v", err)
	}
	if st, _ := simulated.Status(o.Dir); st.State != simulated.Absent {
		t.Errorf("Status after Delete = %s, want absent", st.State)
	}
}

func keys[V any](m map[string]V) []string {
	var k []string
	for n := range m {
		k = append(k, n)
	}
	slices.Sort(k)
	return k
}

// A component that dies at start fails Create at once, with its log.
func TestComponentDyingAtStartFailsFast(t *testing.T) {
	simtest.Get(t)
	real, err := simulated.BinDir()
	if err != nil {
		skipUnlessCI(t, err)
	}
	bin := t.TempDir()
	for _, b := range []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"} {
		if err := os.Symlink(filepath.Join(real, b), filepath.Join(bin, b)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(bin, "kwok"), []byte("#!/bin/sh\necho 'kwok: cannot start: simulated failure' >&2\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("LAB_BIN_DIR", bin)
	dir := t.TempDir()
	o := simulated.Options{Name: "broken", Dir: filepath.Join(dir, "cluster"), Kubeconfig: filepath.Join(dir, "kubeconfig"), Wait: time.Minute}
	t.Cleanup(func() { _ = simulated.Delete(context.Background(), o) })
	began := time.Now()
	_, err = simulated.Create(context.Background(), o)
	if err == nil || !strings.Contains(err.Error(), "kwok exited during start") || !strings.Contains(err.Error(), "simulated failure") {
		t.Fatalf("Create error = %v; want kwok's exit and its log", err)
	}
	if d := time.Since(began); d > 20*time.Second {
		t.Errorf("failure took %v; want it at once, not at the end of the wait", d)
	}
}

// A second cluster of the same name from another directory (or from this
// one after .lab was removed) is refused while the first runs, naming
// the first's processes; nothing is started and the context is kept.
func TestSameNameRunningElsewhereIsRefused(t *testing.T) {
	c := simtest.Get(t)
	dir := filepath.Join(t.TempDir(), "cluster")
	_, err := simulated.Create(context.Background(), simulated.Options{Name: c.Name, Dir: dir, Kubeconfig: c.Kubeconfig})
	if err == nil {
		_ = simulated.Delete(context.Background(), simulated.Options{Name: c.Name, Dir: dir, Kubeconfig: c.Kubeconfig})
		t.Fatal("a second cluster of the same name was created while the first runs")
	}
	for _, want := range []string{"already running at " + c.Endpoint, "kube-apiserver", "lab down"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "run")); !os.IsNotExist(err) {
		t.Errorf("processes were started for the refused cluster: %v", err)
	}
	if st, err := simulated.Status(c.Dir); err != nil || st.State != simulated.Running {
		t.Errorf("the first cluster after the refusal: %+v, %v", st, err)
	}
}
