package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"labs.dev/lab/lab/state"
	"labs.dev/lab/providers/simulated"
	"labs.dev/lab/providers/simulated/simtest"
)

// The scripts in testdata/script drive the real lab command end to end.
// Those that make a cluster with kind_cluster run it on one of their
// own; those that only use one get the package's simulated cluster
// (simtest), as an existing cluster, through $SHARED_KUBECONFIG and
// $SHARED_CONTEXT.

var helperBinDir string

func TestMain(m *testing.M) {
	testscript.Main(withCluster{m}, map[string]func(){
		"lab": func() { os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) },
	})
}

// withCluster runs the tests with the package's simulated cluster. The
// test binary run as the lab command (testscript.Main) starts none.
type withCluster struct{ m *testing.M }

func (w withCluster) Run() int { return simtest.Main(w.m) }

func TestScripts(t *testing.T) {
	binDir := helperBinaries(t)
	var shared *simulated.Cluster
	if _, err := simulated.BinDir(); err == nil {
		shared = simtest.Get(t)
	}
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		RequireExplicitExec: true,
		Setup: func(env *testscript.Env) error {
			work := env.WorkDir
			env.Setenv("HOME", work)
			env.Setenv("KUBECONFIG", filepath.Join(work, ".kube", "config"))
			env.Setenv("NO_COLOR", "1")
			env.Setenv("LAB_BIN_DIR", binDir)
			env.Setenv("PATH", binDir+string(os.PathListSeparator)+env.Getenv("PATH"))
			if shared != nil {
				env.Setenv("SHARED_KUBECONFIG", shared.Kubeconfig)
				env.Setenv("SHARED_CONTEXT", shared.Context)
			}
			// A script that fails before its lab down leaves its cluster
			// running: stop every one it made, by their recorded PIDs.
			env.Defer(func() {
				for _, pattern := range []string{".lab/clusters/*", "*/.lab/clusters/*"} {
					dirs, _ := filepath.Glob(filepath.Join(work, pattern))
					for _, d := range dirs {
						_ = simulated.Stop(context.Background(), d)
					}
				}
			})
			return nil
		},
		Condition: func(cond string) (bool, error) {
			switch cond {
			case "cluster":
				// A script that needs a cluster must run: under CI it is a
				// failure when the binaries are missing, so say true there.
				if _, err := simulated.BinDir(); err != nil {
					return os.Getenv("CI") == "true", nil
				}
				return true, nil
			}
			return false, fmt.Errorf("unknown condition %q", cond)
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"exitcode": exitCode,
			"savepids": savePIDs,
			"killpids": killPIDs,
			"waitexit": waitExit,
			"holdlock": holdLock,
			"shipped":  shipped,
			"onejson":  oneJSON,
		},
	})
}

// helperBinaries puts lab-helm and the control-plane binaries (kubectl
// among them) into one directory for the scripts.
func helperBinaries(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if d := os.Getenv("LAB_BIN_DIR"); d != "" {
		if _, err := os.Stat(filepath.Join(d, "lab-helm")); err == nil {
			link(t, filepath.Join(d, "lab-helm"), filepath.Join(dir, "lab-helm"))
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "lab-helm")); err != nil {
		out, err := exec.Command("go", "build", "-o", filepath.Join(dir, "lab-helm"), "labs.dev/lab/cmd/lab-helm").CombinedOutput()
		if err != nil {
			t.Fatalf("build lab-helm: %v\n%s", err, out)
		}
	}
	if cp, err := simulated.BinDir(); err == nil {
		entries, _ := os.ReadDir(cp)
		for _, e := range entries {
			link(t, filepath.Join(cp, e.Name()), filepath.Join(dir, e.Name()))
		}
	} else if os.Getenv("CI") == "true" {
		t.Fatalf("control-plane binaries missing under CI: %v", err)
	}
	return dir
}

func link(t *testing.T, from, to string) {
	if err := os.Symlink(from, to); err != nil && !os.IsExist(err) {
		t.Fatal(err)
	}
}

// shipped: copies the repository's shipped lab (labs.hcl, charts/,
// manifests/) into the script's working directory.
func shipped(ts *testscript.TestScript, neg bool, args []string) {
	root, err := filepath.Abs("../..")
	if err != nil {
		ts.Fatalf("%v", err)
	}
	for _, name := range []string{"labs.hcl", "charts", "manifests"} {
		if err := os.CopyFS(ts.MkAbs(name), os.DirFS(filepath.Join(root, name))); err != nil && name != "labs.hcl" {
			ts.Fatalf("copy %s: %v", name, err)
		}
	}
	b, err := os.ReadFile(filepath.Join(root, "labs.hcl"))
	if err != nil {
		ts.Fatalf("%v", err)
	}
	_ = os.RemoveAll(ts.MkAbs("labs.hcl"))
	if err := os.WriteFile(ts.MkAbs("labs.hcl"), b, 0o644); err != nil {
		ts.Fatalf("%v", err)
	}
}

// onejson FILE: checks FILE (stdout, say) holds exactly one JSON value,
// as a machine reading it with one json.load needs.
func oneJSON(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: onejson FILE")
	}
	dec := json.NewDecoder(strings.NewReader(ts.ReadFile(args[0])))
	var v any
	err := dec.Decode(&v)
	if err == nil {
		if _, more := dec.Token(); more != io.EOF {
			err = fmt.Errorf("more after the first JSON value (at byte %d)", dec.InputOffset())
		}
	}
	if (err == nil) == neg {
		if neg {
			ts.Fatalf("%s is one JSON value", args[0])
		}
		ts.Fatalf("%s is not one JSON value: %v", args[0], err)
	}
}

// exitcode N PROG ARGS...: runs PROG and checks its exit code is N.
func exitCode(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 2 {
		ts.Fatalf("usage: exitcode N PROG [ARGS...]")
	}
	want, err := strconv.Atoi(args[0])
	if err != nil {
		ts.Fatalf("exitcode: %v", err)
	}
	err = ts.Exec(args[1], args[2:]...)
	got := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		got = ee.ExitCode()
	} else if err != nil {
		ts.Fatalf("exitcode: %v", err)
	}
	if got != want {
		ts.Fatalf("%s exited %d, want %d", strings.Join(args[1:], " "), got, want)
	}
}

// savepids DIR FILE: records the PIDs in the *.pid files below DIR.
func savePIDs(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: savepids DIR FILE")
	}
	var pids []string
	_ = filepath.Walk(ts.MkAbs(args[0]), func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() && strings.HasSuffix(p, ".pid") {
			b, _ := os.ReadFile(p)
			if pid := strings.TrimSpace(string(b)); pid != "" {
				pids = append(pids, pid)
			}
		}
		return nil
	})
	if len(pids) == 0 {
		ts.Fatalf("no pid files below %s", args[0])
	}
	if err := os.WriteFile(ts.MkAbs(args[1]), []byte(strings.Join(pids, "\n")+"\n"), 0o644); err != nil {
		ts.Fatalf("%v", err)
	}
}

// killpids FILE: SIGKILLs each PID listed in FILE, as a power cut would.
func killPIDs(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: killpids FILE")
	}
	b, err := os.ReadFile(ts.MkAbs(args[0]))
	if err != nil {
		ts.Fatalf("%v", err)
	}
	for _, pid := range strings.Fields(string(b)) {
		if n, _ := strconv.Atoi(pid); n > 0 {
			_ = syscall.Kill(n, syscall.SIGKILL)
		}
	}
}

// waitexit FILE: checks that no PID listed in FILE is alive, allowing
// ten seconds for them to exit.
func waitExit(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: waitexit FILE")
	}
	b, err := os.ReadFile(ts.MkAbs(args[0]))
	if err != nil {
		ts.Fatalf("%v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		var alive []string
		for _, pid := range strings.Fields(string(b)) {
			n, _ := strconv.Atoi(pid)
			if n > 0 && syscall.Kill(n, 0) == nil {
				alive = append(alive, pid)
			}
		}
		if len(alive) == 0 {
			return
		}
		if time.Now().After(deadline) {
			ts.Fatalf("processes still alive: %v", alive)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// holdlock DIR: takes the state lock of the lab in DIR, as another lab
// process would; "! holdlock DIR" releases it.
func holdLock(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: holdlock DIR")
	}
	if neg {
		locksMu.Lock()
		l := locks[ts]
		delete(locks, ts)
		locksMu.Unlock()
		if l == nil {
			ts.Fatalf("! holdlock: no lock held")
		}
		_ = l.Unlock()
		return
	}
	l, err := state.Lock(ts.MkAbs(args[0]), state.LockInfo{Command: "lab up", PID: os.Getpid()}, 0)
	if err != nil {
		ts.Fatalf("%v", err)
	}
	locksMu.Lock()
	locks[ts] = l
	locksMu.Unlock()
	ts.Defer(func() { _ = l.Unlock() })
}

var (
	locksMu sync.Mutex
	locks   = map[*testscript.TestScript]*state.HeldLock{}
)
