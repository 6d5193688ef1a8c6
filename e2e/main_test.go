package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"labs.dev/lab/providers/simulated/simtest"
)

func TestMain(m *testing.M) { os.Exit(simtest.Main(m)) }

var (
	binOnce sync.Once
	binDir  string
	binErr  error
)

// labBinaries returns a directory holding lab and lab-helm: $LAB_BIN_DIR
// when it has both (make test builds them first), else built here.
func labBinaries(t *testing.T) string {
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
		dir, err := os.MkdirTemp("", "lab-hostile-bin-")
		if err != nil {
			binErr = err
			return
		}
		for _, pkg := range []string{"lab", "lab-helm"} {
			out, err := exec.Command("go", "build", "-o", filepath.Join(dir, pkg), "labs.dev/lab/cmd/"+pkg).CombinedOutput()
			if err != nil {
				binErr = &buildError{pkg, err, out}
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

type buildError struct {
	pkg string
	err error
	out []byte
}

func (e *buildError) Error() string {
	return "build " + e.pkg + ": " + e.err.Error() + "\n" + string(e.out)
}
