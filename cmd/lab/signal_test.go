package main

import (
	"strings"
	"syscall"
	"testing"
	"time"

	"labs.dev/lab/lab/resource"
)

func lineHas(s string) func(event) bool {
	return func(e event) bool { return strings.Contains(e.Message, s) }
}

// TestSignals interrupts lab up and lab down on one simulated cluster:
// a first SIGINT, SIGTERM or SIGHUP lets the calls in flight finish,
// starts nothing more, saves state, says what was and was not done and
// exits 130, 143 or 129; a second one exits at once with the state still
// valid.
func TestSignals(t *testing.T) {
	needCluster(t)
	d := newLabDir(t, helperBinaries(t), nil)
	inState := func(addrs ...string) {
		t.Helper()
		st := d.assertState()
		var got []string
		for _, r := range st.Resources {
			got = append(got, r.Addr.String())
		}
		if strings.Join(got, " ") != strings.Join(addrs, " ") {
			t.Errorf("state holds %v, want %v", got, addrs)
		}
	}

	// SIGINT while the cluster starts: the cluster start finishes and is
	// recorded; nothing that depends on it begins.
	r := d.startText("up")
	if _, ok := r.until(lineHas("kind_cluster.kind: Waiting for the API server")); !ok {
		t.Fatalf("lab up ended before the cluster start; stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	}
	_ = r.cmd.Process.Signal(syscall.SIGINT)
	if code := r.wait(t); code != 130 {
		t.Errorf("lab up after SIGINT exited %d, want 130", code)
	}
	d.recordPIDs()
	out, errOut := r.stdout.String(), r.stderr.String()
	for _, want := range []string{"kind_cluster.kind: created", "Not done because the run was interrupted: ", "namespace.dev", "helm_release.fleet_staging", "Interrupted. Resources: 1 added, 0 changed, 0 destroyed before stopping."} {
		if !strings.Contains(out, want) {
			t.Errorf("lab up interrupted: stdout lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(errOut, "letting the operations in flight finish") {
		t.Errorf("lab up interrupted: stderr does not say it is stopping:\n%s", errOut)
	}
	if strings.Contains(out, "namespace.dev: creating") {
		t.Errorf("a namespace was started after the interrupt:\n%s", out)
	}
	inState("kind_cluster.kind")

	// SIGTERM while helm waits: the releases in flight finish.
	r = d.startText("up")
	if _, ok := r.until(lineHas("helm_release.fleet_staging: waiting for")); !ok {
		t.Fatalf("lab up ended before helm waited; stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	}
	_ = r.cmd.Process.Signal(syscall.SIGTERM)
	if code := r.wait(t); code != 143 {
		t.Errorf("lab up after SIGTERM exited %d, want 143", code)
	}
	out = r.stdout.String()
	for _, want := range []string{"helm_release.fleet_staging: created", "Interrupted."} {
		if !strings.Contains(out, want) {
			t.Errorf("lab up terminated: stdout lacks %q:\n%s", want, out)
		}
	}
	if _, ok := d.assertState().Get(resource.Addr{Type: "helm_release", Name: "fleet_staging"}); !ok {
		t.Error("the release that finished after SIGTERM is not in state")
	}
	d.mustRun(0, "up")
	if _, _, code := d.run("plan", "-detailed-exitcode"); code != 0 {
		t.Errorf("plan after the interrupted runs exited %d, want 0", code)
	}

	// SIGHUP (the terminal was closed) while lab down deletes: like
	// SIGINT, what is in flight finishes and state is saved; exit 129.
	r = d.startText("down")
	if _, ok := r.until(lineHas(": destroying...")); !ok {
		t.Fatalf("lab down ended before destroying anything; stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	}
	_ = r.cmd.Process.Signal(syscall.SIGHUP)
	if code := r.wait(t); code != 129 {
		t.Errorf("lab down after SIGHUP exited %d, want 129", code)
	}
	if out := r.stdout.String(); !strings.Contains(out, "Interrupted. Resources: ") {
		t.Errorf("lab down after SIGHUP: stdout does not say it was interrupted:\n%s", out)
	}
	if errOut := r.stderr.String(); !strings.Contains(errOut, "letting the operations in flight finish") {
		t.Errorf("lab down after SIGHUP: stderr does not say it is stopping:\n%s", errOut)
	}
	if _, ok := d.assertState().Get(resource.Addr{Type: "kind_cluster", Name: "kind"}); !ok {
		t.Error("the cluster left after SIGHUP is not in state")
	}

	// Two SIGINTs while the cluster stops: lab exits at once.
	d.recordPIDs()
	r = d.startText("down")
	if _, ok := r.until(lineHas("kind_cluster.kind: Stopping and deleting")); !ok {
		t.Fatalf("lab down ended before the cluster stopped; stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	}
	_ = r.cmd.Process.Signal(syscall.SIGINT)
	time.Sleep(20 * time.Millisecond)
	_ = r.cmd.Process.Signal(syscall.SIGINT)
	if code := r.wait(t); code != 130 {
		t.Errorf("lab down after two SIGINTs exited %d, want 130", code)
	}
	d.assertState()
	d.mustRun(0, "down")
	d.assertGone()
}
