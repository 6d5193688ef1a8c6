package main

import (
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
)

// killPoint is where a crash test kills lab: right after the first event
// that matches. Events come from lab's own -o json stream, so the points
// are the same on every run.
type killPoint struct {
	name string
	typ  string // event type
	addr string
	msg  string // prefix of the message; "" matches any
}

func (k killPoint) match(e event) bool {
	return e.Type == k.typ && e.Addr == k.addr && strings.HasPrefix(e.Message, k.msg)
}

var upKillPoints = []killPoint{
	{"cluster-create-begins", "apply_start", "kind_cluster.kind", ""},
	{"cluster-processes-start", "progress", "kind_cluster.kind", "Creating simulated cluster"},
	{"cluster-waits-for-apiserver", "progress", "kind_cluster.kind", "Waiting for the API server"},
	{"cluster-installs-addons", "progress", "kind_cluster.kind", "Installing kind's kube-system add-ons"},
	{"cluster-waits-for-nodes", "progress", "kind_cluster.kind", "Waiting for node(s) Ready"},
	{"cluster-created", "apply_complete", "kind_cluster.kind", ""},
	{"namespace-in-flight", "apply_start", "namespace.staging", ""},
	{"between-namespaces-and-releases", "apply_complete", "namespace.test", ""},
	{"helm-install-begins", "apply_start", "helm_release.fleet_staging", ""},
	{"helm-creates-objects", "progress", "helm_release.fleet_test", "creating"},
	{"helm-waits", "progress", "helm_release.fleet_staging", "waiting for"},
	{"helm-deployed-not-recorded", "progress", "helm_release.fleet_test", "release fleet revision 1 deployed"},
}

var downKillPoints = []killPoint{
	{"down-begins", "apply_start", "namespace.dev", ""},
	{"down-release-deleted", "apply_complete", "helm_release.fleet_staging", ""},
	{"down-cluster-delete-begins", "apply_start", "kind_cluster.kind", ""},
	{"down-cluster-stopping", "progress", "kind_cluster.kind", "Stopping and deleting"},
}

// TestCrashSafety kills `lab up` with SIGKILL at each kill point, then
// `lab down` at one of its own: the state must stay valid, the next
// `lab up` must converge with nothing made twice, and `lab down` must
// leave no process, context or state behind.
func TestCrashSafety(t *testing.T) {
	needCluster(t)
	binDir := helperBinaries(t)
	var tried, converged atomic.Int32
	for i, up := range upKillPoints {
		down := downKillPoints[i%len(downKillPoints)]
		t.Run(up.name+"/"+down.name, func(t *testing.T) {
			tried.Add(1)
			d := newLabDir(t, binDir, nil)
			d.killAt(up, "up")
			// The killed run held the lock: the next one must say so, and
			// carry on since the kernel released it with the process.
			_, errOut := d.mustRun(0, "up")
			if !strings.Contains(errOut, "ended without releasing the state lock") {
				t.Errorf("lab up after a killed lab up did not report the stale lock; stderr:\n%s", errOut)
			}
			d.recordPIDs()
			d.assertConverged()

			d.killAt(down, "down")
			d.mustRun(0, "down")
			d.assertGone()
			if !t.Failed() {
				converged.Add(1)
			}
		})
	}
	t.Logf("crash safety: %d kill points tried (%d of lab up, %d of lab down), %d converged",
		tried.Load()*2, tried.Load(), tried.Load(), converged.Load()*2)
}

// killAt runs lab with args and sends it SIGKILL right after the kill
// point's event; the state must still be valid.
func (d *labDir) killAt(k killPoint, args ...string) {
	d.t.Helper()
	r := d.start(args...)
	seen, ok := r.until(k.match)
	d.recordPIDs()
	if !ok {
		code := r.wait(d.t)
		var names []string
		for _, e := range seen {
			names = append(names, e.String())
		}
		d.t.Fatalf("lab %s ended (exit %d) before the kill point %s; events:\n%s\nstderr:\n%s",
			strings.Join(args, " "), code, k.name, strings.Join(names, "\n"), r.stderr.String())
	}
	// SIGKILL to lab alone, as kill -9 would: a helm worker it started
	// lives on, as it would for a learner.
	_ = syscall.Kill(r.cmd.Process.Pid, syscall.SIGKILL)
	if code := r.wait(d.t); code != 128+int(syscall.SIGKILL) {
		d.t.Logf("lab %s ended with %d before the kill reached it", strings.Join(args, " "), code)
	}
	d.recordPIDs()
	d.assertState()
}

// assertConverged checks the shipped lab is up exactly once: plan has
// nothing to do, each release has one history, each object exists once,
// and every cluster process seen so far is either the recorded one or
// gone.
func (d *labDir) assertConverged() {
	d.t.Helper()
	if out, errOut, code := d.run("plan", "-detailed-exitcode"); code != 0 {
		d.t.Errorf("lab plan after convergence exited %d, want 0\n%s\n%s", code, out, errOut)
	}
	for _, ns := range []string{"staging", "test"} {
		out, errOut, code := d.kubectl("get", "secrets", "-n", ns, "-l", "owner=helm,name=fleet",
			"-o", `jsonpath={range .items[*]}{.metadata.labels.version} {.metadata.labels.status}{"\n"}{end}`)
		if code != 0 {
			d.t.Fatalf("kubectl get secrets -n %s: %s", ns, errOut)
		}
		var revs []int
		deployed := 0
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			f := strings.Fields(line)
			if len(f) != 2 {
				continue
			}
			n, _ := strconv.Atoi(f[0])
			revs = append(revs, n)
			if f[1] == "deployed" {
				deployed++
			}
		}
		slices.Sort(revs)
		for i, r := range revs {
			if r != i+1 {
				d.t.Errorf("release fleet in %s: revisions %v are not one sequence from 1", ns, revs)
				break
			}
		}
		if len(revs) == 0 || deployed != 1 {
			d.t.Errorf("release fleet in %s: %d revision(s), %d deployed; want one deployed:\n%s", ns, len(revs), deployed, out)
		}
		out, _, _ = d.kubectl("get", "deployments,services,replicasets", "-n", ns, "-o", "name")
		if got := strings.Fields(out); len(got) != 3 || !slices.Contains(got, "deployment.apps/fleet") || !slices.Contains(got, "service/fleet") {
			d.t.Errorf("namespace %s holds %v; want exactly deployment fleet, service fleet and one replicaset", ns, got)
		}
	}
	// One set of control-plane processes: anything started by the killed
	// run and not recorded now would be a leak.
	d.mu.Lock()
	seen := len(d.pids)
	d.mu.Unlock()
	alive := d.alivePIDs()
	if len(alive) != 5 {
		d.t.Errorf("%d cluster processes alive (%v) of %d seen; want the 5 components once", len(alive), alive, seen)
	}
}
