package simulated

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/tools/clientcmd"
)

func stepNames(steps []step) []string {
	var names []string
	for _, s := range steps {
		names = append(names, s.name)
	}
	return names
}

// What runs for a new cluster, a restart on its data, a partial restart
// and a running cluster.
func TestPlan(t *testing.T) {
	const (
		orphans   = "ending processes left from a removed cluster"
		certs     = "generating certificates"
		oldCtx    = "removing the context from the old kubeconfig"
		stopRest  = "stopping the components still running"
		ports     = "choosing ports"
		configs   = "writing configuration"
		startProc = "starting processes"
		api       = "waiting for the API server"
		addons    = "installing kind's kube-system add-ons"
		usable    = "waiting for node(s) Ready"
		ready     = "recording the cluster ready"
		merge     = "merging the kubeconfig context"
	)
	for _, tc := range []struct {
		name  string
		found situation
		want  []string
	}{
		{"new cluster", situation{Fresh: true, Down: components},
			[]string{orphans, certs, ports, configs, startProc, api, addons, usable, ready, merge}},
		{"stopped (Stop, or a reboot)", situation{Down: components, Ready: true, ContextCurrent: false},
			[]string{ports, configs, startProc, api, usable, ready, merge}},
		{"API server killed: the rest restart with it", situation{Down: []string{"kube-apiserver"}, Ready: true},
			[]string{stopRest, ports, configs, startProc, api, usable, ready, merge}},
		{"etcd killed", situation{Down: []string{"etcd", "kwok"}, Ready: true},
			[]string{stopRest, ports, configs, startProc, api, usable, ready, merge}},
		{"scheduler killed: only it starts, on the same ports", situation{Down: []string{"kube-scheduler"}, Ready: true},
			[]string{configs, startProc, api, usable, ready, merge}},
		{"running, context in place: the lab up no-op", situation{Ready: true, ContextCurrent: true},
			[]string{api, usable, ready}},
		{"running, context missing or stale", situation{Ready: true},
			[]string{api, usable, ready, merge}},
		{"running, kubeconfig moved", situation{Ready: true, ContextCurrent: true, MovedFrom: "/old/config"},
			[]string{oldCtx, api, usable, ready, merge}},
		{"running, a node added", situation{Ready: true, ContextCurrent: true, AddNodes: true},
			[]string{api, addons, usable, ready}},
		{"a creation cut off before it was usable, all down", situation{Down: components},
			[]string{ports, configs, startProc, api, addons, usable, ready, merge}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &creation{found: tc.found}
			if got := stepNames(c.plan()); !slices.Equal(got, tc.want) {
				t.Errorf("steps:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(tc.want, "\n  "))
			}
		})
	}
}

// inspect tells a new cluster from one on its data, says which
// components are down and where the context was, and refuses a
// directory that is not this cluster's.
func TestInspect(t *testing.T) {
	bins := map[string]string{"etcd": "/opt/bin/etcd"}
	base := t.TempDir()
	dir := filepath.Join(base, "cluster")
	kc := filepath.Join(base, "kubeconfig")
	o := Options{Name: "kind", Dir: dir, Kubeconfig: kc, Nodes: 1}

	c, err := inspect(o, bins)
	if err != nil {
		t.Fatal(err)
	}
	if !c.found.Fresh || !slices.Equal(c.found.Down, components) || c.rec.Name != "kind" || c.rec.Kubeconfig != kc || c.rec.Binaries != "/opt/bin" {
		t.Fatalf("empty directory: found %+v, record %+v; want a new cluster with everything down", c.found, c.rec)
	}

	p := pki{dir: filepath.Join(dir, "pki")}
	rec := &record{Name: "kind", Nodes: 1, Kubeconfig: filepath.Join(base, "old"), Ready: true, Ports: ports{APIServer: freeTestPort(t)}}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := writeRecord(dir, rec); err != nil {
		t.Fatal(err)
	}
	if _, err := inspect(o, bins); err == nil || !strings.Contains(err.Error(), "certificates missing") {
		t.Fatalf("record without certificates: %v; want certificates missing", err)
	}
	if err := p.generate(); err != nil {
		t.Fatal(err)
	}
	if _, err := inspect(Options{Name: "other", Dir: dir, Kubeconfig: kc, Nodes: 1}, bins); err == nil || !strings.Contains(err.Error(), `holds simulated cluster "kind", not "other"`) {
		t.Fatalf("another cluster's directory: %v", err)
	}

	// Two components run (as after kube-apiserver, etcd and kcm died).
	s := starter{dir: dir}
	for _, name := range []string{"kube-scheduler", "kwok"} {
		pr, err := s.start(name, "/bin/sh", []string{"-c", "sleep 300", dir + "/x"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = stopProc(context.Background(), dir, pr) })
	}
	c, err = inspect(Options{Name: "kind", Dir: dir, Kubeconfig: kc, Nodes: 2}, bins)
	if err != nil {
		t.Fatal(err)
	}
	want := situation{Down: []string{"etcd", "kube-apiserver", "kube-controller-manager"}, Ready: true, AddNodes: true, MovedFrom: filepath.Join(base, "old")}
	if !slices.Equal(c.found.Down, want.Down) || c.found.Fresh || !c.found.Ready || !c.found.AddNodes || c.found.MovedFrom != want.MovedFrom || c.found.ContextCurrent {
		t.Errorf("found %+v, want %+v", c.found, want)
	}
	if c.procs["kwok"] == nil || c.procs["kube-scheduler"] == nil || c.procs["etcd"] != nil {
		t.Errorf("processes found: %v; want kube-scheduler and kwok", c.procs)
	}
	if c.rec.Kubeconfig != kc {
		t.Errorf("record's kubeconfig %s, want the new %s", c.rec.Kubeconfig, kc)
	}
}

// choosePorts keeps a recorded port that is free and moves one another
// program took (after a reboot).
func TestChoosePorts(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	takenPort := taken.Addr().(*net.TCPAddr).Port
	free := freeTestPort(t)
	c := &creation{rec: &record{Ports: ports{Etcd: free, EtcdPeer: 0, APIServer: takenPort}}}
	if err := c.choosePorts(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := c.rec.Ports
	if got.Etcd != free {
		t.Errorf("etcd port moved from %d to %d although it was free", free, got.Etcd)
	}
	if got.APIServer == takenPort || got.APIServer == 0 {
		t.Errorf("API server port %d; want a new one, %d is taken", got.APIServer, takenPort)
	}
	if got.EtcdPeer == 0 {
		t.Error("no etcd peer port chosen")
	}
}

// When the kubeconfig moved, the context leaves the old file (the other
// contexts stay) and is merged into the new one, current.
func TestKubeconfigMove(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "cluster")
	old, moved := filepath.Join(base, "old"), filepath.Join(base, "new")
	p := pki{dir: filepath.Join(dir, "pki")}
	if err := p.generate(); err != nil {
		t.Fatal(err)
	}
	if err := mergeKubeconfig(old, "other", "https://127.0.0.1:1", p); err != nil {
		t.Fatal(err)
	}
	if err := mergeKubeconfig(old, "kind-kind", "https://127.0.0.1:2", p); err != nil {
		t.Fatal(err)
	}
	c := &creation{
		o:     Options{Name: "kind", Dir: dir, Kubeconfig: moved},
		pki:   p,
		rec:   &record{Name: "kind", Kubeconfig: moved, Ports: ports{APIServer: 3}},
		found: situation{MovedFrom: old},
	}
	if err := c.removeOldContext(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := c.mergeContext(context.Background()); err != nil {
		t.Fatal(err)
	}
	cfg, err := clientcmd.LoadFromFile(old)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Contexts["kind-kind"] != nil || cfg.Clusters["kind-kind"] != nil || cfg.Contexts["other"] == nil || cfg.CurrentContext != "" {
		t.Errorf("old kubeconfig: contexts %v, current %q; want only other, none current", cfg.Contexts, cfg.CurrentContext)
	}
	cfg, err = clientcmd.LoadFromFile(moved)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.CurrentContext != "kind-kind" || cfg.Clusters["kind-kind"] == nil || cfg.Clusters["kind-kind"].Server != "https://127.0.0.1:3" {
		t.Errorf("new kubeconfig: current %q, clusters %v; want kind-kind at https://127.0.0.1:3", cfg.CurrentContext, cfg.Clusters)
	}
}

// A partial restart starts only what is down and leaves the rest
// running; a restart of etcd or the API server stops the rest first.
func TestStartOnlyWhatIsDown(t *testing.T) {
	dir := t.TempDir()
	bins := fakeBinaries(t, "")
	c := &creation{
		o:       Options{Name: "kind", Dir: dir, Log: slog.New(slog.DiscardHandler)},
		bins:    bins,
		pki:     pki{dir: filepath.Join(dir, "pki")},
		rec:     &record{Name: "kind", Ports: ports{Etcd: 1, EtcdPeer: 2, APIServer: 3}},
		starter: starter{dir: dir},
		procs:   map[string]*proc{},
	}
	t.Cleanup(func() { _ = stopProcs(context.Background(), dir, c.procs) })
	for _, name := range []string{"etcd", "kube-apiserver"} {
		p, err := c.starter.start(name, bins[name], args(name, dir, c.pki, c.rec))
		if err != nil {
			t.Fatal(err)
		}
		c.procs[name] = p
	}
	before := map[string]*proc{"etcd": c.procs["etcd"], "kube-apiserver": c.procs["kube-apiserver"]}
	if got := c.sayStarting(); !strings.HasPrefix(got, ": kube-controller-manager, kube-scheduler, kwok (") {
		t.Errorf("progress %q; want the three that are down", got)
	}
	if err := c.startProcesses(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, name := range components {
		p := c.procs[name]
		if p == nil || p.exited(dir) {
			t.Fatalf("%s not running after the start", name)
		}
		if b := before[name]; b != nil && b != p {
			t.Errorf("%s was started again although it ran", name)
		}
		if pid, ok := running(dir, name); !ok || pid != p.pid {
			t.Errorf("%s: recorded PID %d (%v), want %d", name, pid, ok, p.pid)
		}
	}

	all := maps.Clone(c.procs)
	c.procs["kube-apiserver"] = nil // as if it had died
	if err := stopProc(context.Background(), dir, all["kube-apiserver"]); err != nil {
		t.Fatal(err)
	}
	if err := c.stopTheRest(context.Background()); err != nil {
		t.Fatal(err)
	}
	for name, p := range all {
		// stop saw the process gone from /proc; the goroutine that
		// reaps our child closes exit a moment later.
		select {
		case <-p.exit:
		case <-time.After(10 * time.Second):
			t.Errorf("%s still runs after stopping the rest", name)
		}
		if c.procs[name] != nil {
			t.Errorf("%s still counted as running", name)
		}
	}
}

// A new cluster that fails is removed but for its logs, processes
// included; with Retain it stays as it was. A restart on its data never
// removes it.
func TestFailedCreateIsRemovedUnlessRetained(t *testing.T) {
	bins := fakeBinaries(t, "kwok")
	t.Setenv("LAB_BIN_DIR", filepath.Dir(bins["etcd"]))
	for _, retain := range []bool{false, true} {
		t.Run(fmt.Sprintf("retain=%v", retain), func(t *testing.T) {
			base := t.TempDir()
			o := Options{Name: "broken", Dir: filepath.Join(base, "cluster"), Kubeconfig: filepath.Join(base, "kubeconfig"), Wait: time.Minute, Retain: retain}
			t.Cleanup(func() { _ = Delete(context.Background(), o) })
			_, err := Create(context.Background(), o)
			if err == nil {
				t.Fatal("Create with a kwok that exits succeeded")
			}
			t.Logf("Create: %v", err)
			for _, want := range []string{"simulated cluster broken: waiting for the API server: kwok exited during start (exit status 1)", "simulated failure"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error lacks %q: %v", want, err)
				}
			}
			entries, _ := os.ReadDir(o.Dir)
			var left []string
			for _, e := range entries {
				left = append(left, e.Name())
			}
			if _, err := os.Stat(o.Kubeconfig); !os.IsNotExist(err) {
				t.Errorf("kubeconfig written for a cluster that never came up: %v", err)
			}
			if !retain {
				if !strings.Contains(err.Error(), "the unfinished cluster was removed; its logs are in "+filepath.Join(o.Dir, "logs")) {
					t.Errorf("error does not say the cluster was removed and where its logs are: %v", err)
				}
				if !slices.Equal(left, []string{".lock", "logs"}) {
					t.Errorf("left in the directory: %v; want only .lock and logs", left)
				}
				if pids := processesOf(o.Dir); len(pids) > 0 {
					t.Errorf("processes of the removed cluster still run: %v", pids)
				}
				return
			}
			for _, want := range []string{"cluster.json", "pki", "run", "logs"} {
				if !slices.Contains(left, want) {
					t.Errorf("retained cluster lacks %s: %v", want, left)
				}
			}
			if pids := processesOf(o.Dir); len(pids) != 4 {
				t.Errorf("retained cluster runs %d processes, want the 4 that did not exit", len(pids))
			}
			// Again, now on its data: it fails the same way and keeps it.
			o.Retain = false
			if _, err := Create(context.Background(), o); err == nil || !strings.Contains(err.Error(), "kwok exited during start") || strings.Contains(err.Error(), "was removed") {
				t.Errorf("restart of a retained cluster: %v; want kwok's exit and nothing removed", err)
			}
			if _, err := os.Stat(recordPath(o.Dir)); err != nil {
				t.Errorf("a restart removed the cluster's data: %v", err)
			}
		})
	}
}

// fakeBinaries writes the five server binaries as shell scripts that run
// until stopped, their arguments (which name the cluster directory) on
// their command line; the one named failing exits 1 at once.
func fakeBinaries(t *testing.T, failing string) map[string]string {
	t.Helper()
	dir := t.TempDir()
	bins := map[string]string{}
	for _, name := range serverBinaries {
		script := "#!/bin/sh\nsleep 300 &\nwait\n"
		if name == failing {
			script = "#!/bin/sh\necho \"" + name + ": cannot start: simulated failure\" >&2\nexit 1\n"
		}
		bins[name] = filepath.Join(dir, name)
		if err := os.WriteFile(bins[name], []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return bins
}

// processesOf lists the processes with a path inside dir as an argument.
func processesOf(dir string) []int {
	var pids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err == nil && names(cmdline, dir) {
			pids = append(pids, pid)
		}
	}
	return pids
}

func freeTestPort(t *testing.T) int {
	t.Helper()
	n, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	return n
}
