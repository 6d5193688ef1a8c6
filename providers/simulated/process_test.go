package simulated

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// A lab killed between starting a component and recording its PID leaves
// a process only its marker tells of; the next start or stop ends it, and
// nothing that does not name this cluster's directory.
func TestUnrecordedProcessIsReaped(t *testing.T) {
	dir, other := t.TempDir(), t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "run"), 0o700); err != nil {
		t.Fatal(err)
	}
	orphan, decoy := sleeper(t, dir+"/x"), sleeper(t, other+"/x")
	exited := make(chan error, 1)
	go func() { exited <- orphan.Wait() }()

	// No marker: nothing is touched.
	reapUnrecorded(dir, "etcd")
	select {
	case err := <-exited:
		t.Fatalf("a process was killed without a marker: %v", err)
	case <-time.After(200 * time.Millisecond):
	}

	if err := os.WriteFile(startingFile(dir, "etcd"), []byte("/bin/sh"), 0o600); err != nil {
		t.Fatal(err)
	}
	reapUnrecorded(dir, "etcd")
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		t.Fatal("the unrecorded process still runs")
	}
	if err := syscall.Kill(decoy.Process.Pid, 0); err != nil {
		t.Fatalf("a process of another directory was killed: %v", err)
	}
	if _, err := os.Stat(startingFile(dir, "etcd")); !os.IsNotExist(err) {
		t.Fatalf("marker left behind: %v", err)
	}

	// A normal start leaves a PID file and no marker.
	p, err := (starter{dir: dir}).start("kwok", "/bin/sh", []string{"-c", "sleep 300", dir + "/x"})
	if err != nil {
		t.Fatal(err)
	}
	pid := p.pid
	t.Cleanup(func() { _ = syscall.Kill(-pid, syscall.SIGKILL) })
	if _, err := os.Stat(startingFile(dir, "kwok")); !os.IsNotExist(err) {
		t.Fatalf("marker left after a start: %v", err)
	}
	if got, ok := running(dir, "kwok"); !ok || got != pid {
		t.Fatalf("running = %d, %v; want %d", got, ok, pid)
	}
}

// After .lab was removed under a running cluster, the next create ends
// the processes still running from that directory, and only those.
func TestOrphansOfARemovedDirectoryAreReaped(t *testing.T) {
	base := t.TempDir()
	dir, sibling := filepath.Join(base, "kind"), filepath.Join(base, "kind2")
	orphan, decoy := sleeper(t, dir+"/etcd"), sleeper(t, sibling+"/etcd")
	// Its path inside another one (/var/tmp/lab against /tmp/lab) is not it.
	nested := sleeper(t, filepath.Join(base, "x")+dir+"/etcd")
	exited := make(chan error, 1)
	go func() { exited <- orphan.Wait() }()
	reapOrphans(dir, []string{"sh"})
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		t.Fatal("the orphan still runs")
	}
	for _, c := range []*exec.Cmd{decoy, nested} {
		if err := syscall.Kill(c.Process.Pid, 0); err != nil {
			t.Fatalf("the process of another directory (%s) was killed: %v", c.Args[len(c.Args)-1], err)
		}
	}
}

// sleeper starts /bin/sh in its own session with path as its $0, so its
// command line names path, as a component's names its cluster directory.
func sleeper(t *testing.T, path string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("/bin/sh", "-c", "sleep 300", path)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); _ = cmd.Wait() })
	return cmd
}

// Delete refuses up front when the kubeconfig it must clean cannot be
// read, so the cluster is not gone while state still holds it.
func TestDeleteWithBrokenKubeconfigChangesNothing(t *testing.T) {
	base := t.TempDir()
	dir, kc := filepath.Join(base, "cluster"), filepath.Join(base, "kubeconfig")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(kc, []byte("clusters: [:\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := Delete(context.Background(), Options{Name: "kind", Dir: dir, Kubeconfig: kc})
	if err == nil || !strings.Contains(err.Error(), "cannot be read") || !strings.Contains(err.Error(), "nothing was deleted") {
		t.Fatalf("Delete with a broken kubeconfig: %v", err)
	}
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("the cluster directory went: %v", err)
	}
}

// "Exited" means exited. A component whose start has not written its PID
// file yet, or that the kernel is still exec'ing (its /proc cmdline is
// empty for that moment, longer on a busy machine), runs; one that ended
// has exited. Reading the PID file and /proc took both for deaths:
// `kwok exited during start` 115 ms into a `lab up` while kwok ran.
func TestExitedMeansExited(t *testing.T) {
	dir := t.TempDir()
	var beforeRecord []bool
	s := starter{dir: dir, beforeRecord: func(p *proc) {
		beforeRecord = append(beforeRecord, p.exited(dir))
	}}
	stopLoad := cpuLoad()
	var last *proc
	for i := range 20 {
		p, err := s.start(fmt.Sprintf("c%d", i), "/bin/sh", []string{"-c", "sleep 300", dir + "/x"})
		if err != nil {
			stopLoad()
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = syscall.Kill(-p.pid, syscall.SIGKILL) })
		if p.exited(dir) {
			t.Errorf("start %d: the process was taken for dead right after its start", i)
		}
		last = p
	}
	stopLoad()
	for i, dead := range beforeRecord {
		if dead {
			t.Errorf("start %d: the process was taken for dead before its PID file was written", i)
		}
	}
	if len(beforeRecord) != 20 {
		t.Fatalf("the hook ran %d times, want 20", len(beforeRecord))
	}

	// A death is still seen.
	if err := syscall.Kill(-last.pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !last.exited(dir) {
		if time.Now().After(deadline) {
			t.Fatal("a killed process is still reported running")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// cpuLoad keeps every CPU busy until the returned func is called.
func cpuLoad() (stop func()) {
	var done atomic.Bool
	for range 2 * runtime.NumCPU() {
		go func() {
			for !done.Load() {
			}
		}()
	}
	return func() { done.Store(true) }
}
