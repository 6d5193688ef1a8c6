package helm

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"k8s.io/client-go/rest"

	"labs.dev/lab/providers/simulated/simtest"
)

// TestMain points LAB_BIN_DIR at a directory for lab-helm, as `make build`
// puts it beside lab, and starts the package's simulated cluster.
func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

var workerDir string

func testMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "lab-helm-test-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	// LAB_BIN_DIR also names where the simulated runtime's binaries are:
	// keep those reachable from the new directory.
	if prev := os.Getenv("LAB_BIN_DIR"); prev != "" {
		entries, _ := os.ReadDir(prev)
		for _, e := range entries {
			if e.Name() != WorkerName {
				os.Symlink(filepath.Join(prev, e.Name()), filepath.Join(dir, e.Name()))
			}
		}
	}
	os.Setenv("LAB_BIN_DIR", dir)
	workerDir = dir
	return simtest.Main(m)
}

var (
	buildOnce sync.Once
	buildErr  error
)

// needWorker builds lab-helm once per test binary, on first need (not in
// TestMain: simtest re-executes the test binary as its watchdog).
func needWorker(t testing.TB) {
	t.Helper()
	buildOnce.Do(func() {
		out, err := exec.Command("go", "build", "-o", filepath.Join(workerDir, WorkerName), "labs.dev/lab/cmd/lab-helm").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("build lab-helm: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
}

func cluster(t testing.TB) (kubeconfig, context string, cfg *rest.Config) {
	t.Helper()
	c := simtest.Get(t)
	needWorker(t)
	return c.Kubeconfig, c.Context, c.Config
}
