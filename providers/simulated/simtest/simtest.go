// Package simtest gives a test package one simulated cluster, started
// from TestMain and always torn down:
//
//	func TestMain(m *testing.M) { os.Exit(simtest.Main(m)) }
//
//	func TestSomething(t *testing.T) {
//		c := simtest.Get(t) // *simulated.Cluster; c.Config, c.Kubeconfig, c.Context
//	}
//
// The cluster is named "kind" (node kind-control-plane, context
// kind-kind) and lives in a temporary directory with its own kubeconfig;
// $KUBECONFIG points there for the whole test binary, so a developer's
// kubeconfig is never touched. When the control-plane binaries are
// missing, tests that call Get skip, saying how to build them; under
// CI=true the package fails instead.
package simtest

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"labs.dev/lab/providers/simulated"
)

// reaperEnv marks the re-executed test binary that tears the cluster down.
const reaperEnv = "LAB_TESTCLUSTER_REAPER"

var (
	cluster *simulated.Cluster
	skip    string
	tmpDir  string // the watchdog removes it when the test process ends
)

// Main starts the cluster, runs the tests and tears the cluster down. The
// teardown runs in a watchdog process (this test binary, re-executed),
// which waits for this process to end however it ends (tests pass, fail,
// panic, time out, or the process is killed) and then deletes the cluster.
func Main(m *testing.M) int {
	if tmp := os.Getenv(reaperEnv); tmp != "" {
		return reap(tmp)
	}
	if !flag.Parsed() {
		flag.Parse() // for testing.Verbose; m.Run would parse them anyway
	}
	// go test -fuzz runs this binary as a coordinator and as one worker
	// per core; none fuzzes a cluster, and a cluster per process would
	// eat the machine.
	if f := flag.Lookup("test.fuzz"); f != nil && f.Value.String() != "" {
		skip = "no cluster while fuzzing (-fuzz)"
		return m.Run()
	}
	tmp, err := os.MkdirTemp("", "lab-simtest-")
	tmpDir = tmp
	if err != nil {
		fmt.Fprintln(os.Stderr, "simtest:", err)
		return 1
	}
	kubeconfig := filepath.Join(tmp, "kubeconfig")
	os.Setenv("KUBECONFIG", kubeconfig)

	// Start the watchdog before the cluster, so no process can outlive us.
	done, err := startReaper(tmp)
	if err != nil {
		fmt.Fprintln(os.Stderr, "simtest:", err)
		os.RemoveAll(tmp)
		return 1
	}
	defer done()

	began := time.Now()
	c, err := simulated.Create(context.Background(), options(tmp))
	switch {
	case err == nil:
		cluster = c
		if testing.Verbose() {
			fmt.Fprintf(os.Stderr, "simtest: simulated cluster %s up in %.1fs at %s\n", c.Name, time.Since(began).Seconds(), c.Endpoint)
		}
	case simulated.IsMissingBinaries(err) && os.Getenv("CI") != "true":
		skip = err.Error()
		fmt.Fprintln(os.Stderr, "simtest: tests needing a cluster will skip:", err)
	default:
		fmt.Fprintln(os.Stderr, "simtest: cannot start the simulated cluster:", err)
		return 1
	}
	return m.Run()
}

func options(tmp string) simulated.Options {
	return simulated.Options{
		Name:       "kind",
		Dir:        filepath.Join(tmp, "cluster"),
		Kubeconfig: filepath.Join(tmp, "kubeconfig"),
		Wait:       2 * time.Minute,
	}
}

// Get returns the package's cluster. It skips the test when the binaries
// are missing (outside CI) and fails it when Main was not used.
func Get(t testing.TB) *simulated.Cluster {
	t.Helper()
	if cluster != nil {
		return cluster
	}
	if skip != "" {
		t.Skip(skip)
	}
	t.Fatal("simtest: no cluster; call simtest.Main from TestMain: func TestMain(m *testing.M) { os.Exit(simtest.Main(m)) }")
	return nil
}

var (
	binOnce sync.Once
	binDir  string
	binErr  error
)

// LabBinaries is a directory holding lab and lab-helm, for tests that run
// the command end to end: $LAB_BIN_DIR when it has both (make test builds
// them first), else built once per test binary (beside the cluster when
// Main runs, so its watchdog removes them).
func LabBinaries(t testing.TB) string {
	t.Helper()
	binOnce.Do(func() {
		if d := os.Getenv("LAB_BIN_DIR"); d != "" {
			_, e1 := os.Stat(filepath.Join(d, "lab"))
			_, e2 := os.Stat(filepath.Join(d, "lab-helm"))
			if e1 == nil && e2 == nil {
				binDir = d
				return
			}
		}
		dir := filepath.Join(tmpDir, "bin")
		if tmpDir == "" {
			dir, binErr = os.MkdirTemp("", "lab-simtest-bin-")
		} else {
			binErr = os.MkdirAll(dir, 0o755)
		}
		if binErr != nil {
			return
		}
		for _, pkg := range []string{"lab", "lab-helm"} {
			out, err := exec.Command("go", "build", "-o", filepath.Join(dir, pkg), "labs.dev/lab/cmd/"+pkg).CombinedOutput()
			if err != nil {
				binErr = fmt.Errorf("build %s: %v\n%s", pkg, err, out)
				return
			}
		}
		binDir = dir
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binDir
}

// startReaper re-executes this binary as the watchdog, in its own session
// so Ctrl-C reaches it only through our exit. It holds the read end of a
// pipe whose write end only we hold; done closes it and waits.
func startReaper(tmp string) (done func(), err error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), reaperEnv+"="+tmp)
	cmd.Stdin = r
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		r.Close()
		w.Close()
		return nil, fmt.Errorf("start teardown watchdog: %w", err)
	}
	r.Close()
	return func() {
		w.Close()
		_ = cmd.Wait()
	}, nil
}

// reap waits for the test process to end (stdin reaches EOF), then
// deletes the cluster and the temporary directory.
func reap(tmp string) int {
	_, _ = io.Copy(io.Discard, os.Stdin)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := simulated.Delete(ctx, options(tmp)); err != nil {
		fmt.Fprintln(os.Stderr, "simtest: teardown:", err)
		return 1
	}
	if err := os.RemoveAll(tmp); err != nil {
		fmt.Fprintln(os.Stderr, "simtest: teardown:", err)
		return 1
	}
	return 0
}
