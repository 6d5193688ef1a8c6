package simulated

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The Go constant and build.sh must name the same cache directory, or lab
// would look for binaries where make control-plane never puts them.
func TestBinKeyMatchesBuildScript(t *testing.T) {
	cache := t.TempDir()
	t.Setenv("LAB_CACHE_DIR", cache)
	out, err := exec.Command("bash", "../../tools/controlplane/build.sh", "--print-dir").Output()
	if err != nil {
		t.Fatalf("build.sh --print-dir: %v", err)
	}
	if got, want := strings.TrimSpace(string(out)), CacheBinDir(); got != want {
		t.Fatalf("build.sh builds into %s but lab looks in %s: update BinKey", got, want)
	}
}

func TestMissingBinariesSaysHowToBuild(t *testing.T) {
	t.Setenv("LAB_CACHE_DIR", t.TempDir())
	t.Setenv("LAB_BIN_DIR", t.TempDir())
	t.Setenv("PATH", t.TempDir())
	os.WriteFile(filepath.Join(os.Getenv("LAB_BIN_DIR"), "etcd"), []byte("#!/bin/sh\n"), 0o755)
	_, err := BinDir()
	if !IsMissingBinaries(err) {
		t.Fatalf("BinDir() error = %v, want a missing-binaries error", err)
	}
	msg := err.Error()
	for _, want := range []string{"kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok", "`make control-plane`"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not mention %s", msg, want)
		}
	}
	if strings.Contains(msg, "etcd,") {
		t.Errorf("error %q names etcd, which LAB_BIN_DIR has", msg)
	}
}

func TestNodeNamesLikeKind(t *testing.T) {
	var got []string
	for _, n := range nodeNames("kind", 3) {
		got = append(got, n.Name)
	}
	if want := "kind-control-plane kind-worker kind-worker2"; strings.Join(got, " ") != want {
		t.Fatalf("nodes = %v, want %s", got, want)
	}
}

func TestAddonsRender(t *testing.T) {
	d := newAddonData("kind", 2)
	d.ControlPlaneUID = "uid"
	objs, err := renderAddons("", d)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if _, ok := gvrs[o.GroupVersionKind()]; !ok {
			t.Errorf("%s %s has no resource mapping", o.GetKind(), o.GetName())
		}
	}
}
