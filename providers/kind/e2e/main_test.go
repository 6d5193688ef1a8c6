package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"labs.dev/lab/providers/kind/enginetest"
)

// binDir holds lab and lab-helm: $LAB_BIN_DIR when it has them (make
// test builds them there), else a build of this tree.
var binDir string

// TestMain builds lab when it must; enginetest stops the engines the
// tests started.
func TestMain(m *testing.M) {
	code, err := run(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
	os.Exit(code)
}

func run(m *testing.M) (int, error) {
	if d := os.Getenv("LAB_BIN_DIR"); d != "" {
		if _, err := os.Stat(filepath.Join(d, "lab")); err == nil {
			binDir = d
			return enginetest.Main(m), nil
		}
	}
	dir, err := os.MkdirTemp("", "lab-e2e-bin-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	for _, pkg := range []string{"lab", "lab-helm"} {
		if out, err := exec.Command("go", "build", "-o", filepath.Join(dir, pkg), "labs.dev/lab/cmd/"+pkg).CombinedOutput(); err != nil {
			return 0, fmt.Errorf("build %s: %v\n%s", pkg, err, out)
		}
	}
	binDir = dir
	return enginetest.Main(m), nil
}
