package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"labs.dev/lab/providers/kind/host"
)

// testEngine is a container engine ready for kind on this machine.
//
// It stands in for providers/kind/enginetest (branch nodeimage), which
// installs and configures the engines for this VM; once that package is
// on this branch, startEngine is enginetest.Start and TestMain calls
// enginetest.Main.
type testEngine struct {
	Env       []string
	NodeImage string
	Network   string
}

// startEngine returns the engine's environment: for podman a
// containers.conf with what this VM needs (runc, which accepts its
// hybrid cgroups, and explicit ulimits, since it lacks CAP_SYS_RESOURCE),
// for docker the caller's DOCKER_HOST; and a kind network of this test
// process's own. It skips outside CI when the engine or lab's node
// image is missing, and fails under CI=true.
func startEngine(t *testing.T, cli string) *testEngine {
	t.Helper()
	unavailable := func(format string, args ...any) {
		t.Helper()
		if os.Getenv("CI") == "true" {
			t.Fatalf(format, args...)
		}
		t.Skipf(format, args...)
	}
	e := &testEngine{NodeImage: host.OfflineImage, Network: fmt.Sprintf("lab-e2e-%d", os.Getpid())}
	if cli == "podman" {
		conf := filepath.Join(t.TempDir(), "containers.conf")
		if err := os.WriteFile(conf, []byte("[containers]\ndefault_ulimits = [\"nofile=20000:20000\", \"nproc=32768:32768\"]\n[engine]\nruntime = \"runc\"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		e.Env = append(e.Env, "CONTAINERS_CONF="+conf)
	}
	e.Env = append(e.Env, "KIND_EXPERIMENTAL_"+map[string]string{"podman": "PODMAN", "docker": "DOCKER"}[cli]+"_NETWORK="+e.Network)
	for _, kv := range e.Env {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	if _, f := host.Real().CheckEngine(context.Background(), cli); f.Status != host.OK {
		unavailable("%s", f)
	}
	if exec.Command(cli, "inspect", "--type=image", e.NodeImage).Run() != nil {
		unavailable("%s has no %s: run make node-image", cli, e.NodeImage)
	}
	t.Cleanup(func() { _ = exec.Command(cli, "network", "rm", e.Network).Run() })
	return e
}
