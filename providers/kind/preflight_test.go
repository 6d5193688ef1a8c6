package kind

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"labs.dev/lab/lab/resource"
	"labs.dev/lab/providers/kind/host"
)

// Defect 1 of issue 8: podman answered, no node image could be had, and
// runtime auto chose kind on podman anyway; the pull failed after 10 s.
// auto must fall back to the simulated runtime and say why in one line.
func TestAutoNeedsANodeImage(t *testing.T) {
	f := newFixture(t)
	f.host.engines["podman"] = "4.3.1|v2|/var/lib/containers/storage|false\n"
	cfg := decode(t, `name = "kind"`)
	ch := f.plan(t, cfg, cty.NilVal)
	var p private
	_ = json.Unmarshal(ch.Private, &p)
	if p.Backend != Simulated {
		t.Fatalf("auto chose %q with no node image to be had; want the simulated runtime", p.Backend)
	}
	if len(f.progress) != 1 || strings.Contains(f.progress[0], "\n") {
		t.Fatalf("progress = %q, want one line", f.progress)
	}
	for _, want := range []string{"using the simulated runtime", "docker is not installed", "podman answers, but no node image", "make node-image"} {
		if !strings.Contains(f.progress[0], want) {
			t.Errorf("progress %q does not say %q", f.progress[0], want)
		}
	}

	// With lab's offline image on podman, auto takes podman and says
	// which image.
	f.progress = nil
	f.host.images["podman "+host.OfflineImage] = true
	ch = f.plan(t, cfg, cty.NilVal)
	_ = json.Unmarshal(ch.Private, &p)
	if p.Backend != Podman || p.Image != host.OfflineImage || p.ImageSource != host.FromOffline {
		t.Fatalf("private = %+v, want podman with the offline image", p)
	}
	if !strings.Contains(strings.Join(f.progress, "\n"), "using kind on podman with node image "+host.OfflineImage+" (lab's offline build, present)") {
		t.Errorf("progress = %q", f.progress)
	}
	f.apply(t, cfg, cty.NilVal, ch)
	if img := f.engine.clusters["kind"].Nodes[0].Image; img != host.OfflineImage {
		t.Errorf("created with node image %q", img)
	}

	// Online, kind's published image wins.
	f2 := newFixture(t)
	f2.host.engines["podman"] = "4.3.1|v2|/var/lib/containers/storage|false\n"
	f2.host.images["podman "+host.OfflineImage] = true
	f2.host.online = true
	ch = f2.plan(t, cfg, cty.NilVal)
	_ = json.Unmarshal(ch.Private, &p)
	if p.Backend != Podman || p.Image != host.PublishedImage {
		t.Fatalf("online: private = %+v, want kind's published image", p)
	}
	if !strings.Contains(strings.Join(f2.progress, "\n"), "kind's published image, pulled on first use") {
		t.Errorf("progress = %q", f2.progress)
	}
}

// An explicit engine with no image to be had fails at plan, with the
// reason and the ways out, and creates nothing.
func TestExplicitEngineWithoutImageFails(t *testing.T) {
	f := newFixture(t)
	f.host.engines["podman"] = "4.3.1|v2|/var/lib/containers/storage|false\n"
	_, err := f.kind.Plan(context.Background(), resource.PlanRequest{Env: f.env, Addr: addr, Config: decode(t, "name = \"kind\"\nruntime = \"podman\"")})
	if err == nil {
		t.Fatal("plan succeeded with no node image")
	}
	for _, want := range []string{"kind_cluster.kind: cannot create kind cluster kind on podman; nothing was changed", "✗ no node image", "fix: make node-image", "-var runtime=simulated"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if len(f.engine.calls) != 0 {
		t.Errorf("engine calls %v", f.engine.calls)
	}
	// Not running is said as such.
	f.host.engines["podman"] = ""
	_, err = f.kind.Plan(context.Background(), resource.PlanRequest{Env: f.env, Addr: addr, Config: decode(t, "name = \"kind\"\nruntime = \"podman\"")})
	if err == nil || !strings.Contains(err.Error(), "podman is installed but not running") {
		t.Errorf("podman down: %v", err)
	}
}

// Every host check that fails is said at plan, one line each with its
// fix; notes and warnings are progress lines, and the cgroup v1 note
// becomes the kubelet patch.
func TestHostChecksAtPlan(t *testing.T) {
	f := newFixture(t)
	f.host.engines["podman"] = "4.3.1|v1|/var/lib/containers/storage|false\n"
	f.host.images["podman "+host.OfflineImage] = true
	f.host.taken["tcp 0.0.0.0:8080"] = true
	f.host.taken["tcp 127.0.0.1:6443"] = true
	if err := os.RemoveAll(filepath.Join(f.host.root, "lib/modules")); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(f.host.root, "proc/sys/fs/inotify/max_user_instances"), "128\n")
	cfg := decode(t, `
name                = "kind"
runtime             = "podman"
api_server_port     = 6443
extra_port_mappings = [{ container_port = 30080, host_port = 8080 }, { container_port = 30081, host_port = 8081 }]
`)
	_, err := f.kind.Plan(context.Background(), resource.PlanRequest{Env: f.env, Addr: addr, Config: cfg})
	if err == nil {
		t.Fatal("plan succeeded on a host that cannot run the cluster")
	}
	lines := strings.Split(err.Error(), "\n")
	var failed []string
	for _, l := range lines {
		if strings.HasPrefix(l, "  ✗ ") {
			failed = append(failed, l)
		}
	}
	want := []string{
		"  ✗ /lib/modules does not exist, and podman refuses to mount a missing directory into the node (kind always mounts it); fix: sudo mkdir -p /lib/modules",
		"  ✗ port 0.0.0.0:8080/tcp (extra_port_mappings[0].host_port) is taken by another program; fix: sudo ss -ltnp 'sport = :8080' names the program; stop it, or choose another port",
		"  ✗ port 127.0.0.1:6443/tcp (api_server_port) is taken by another program; fix: sudo ss -ltnp 'sport = :6443' names the program; stop it, or choose another port",
	}
	if strings.Join(failed, "\n") != strings.Join(want, "\n") {
		t.Errorf("failures:\n%s\nwant:\n%s", strings.Join(failed, "\n"), strings.Join(want, "\n"))
	}

	// Fixed: the plan goes on, saying the note and the warning.
	writeFile(t, filepath.Join(f.host.root, "lib/modules/.keep"), "")
	delete(f.host.taken, "tcp 0.0.0.0:8080")
	delete(f.host.taken, "tcp 127.0.0.1:6443")
	ch := f.plan(t, cfg, cty.NilVal)
	said := strings.Join(f.progress, "\n")
	for _, want := range []string{"cgroup v1 (as on Amazon Linux 2): kubelet 1.35+ refuses it by default, so lab sets failCgroupV1: false", "max_user_instances 128, under kind's 524288 and 512"} {
		if !strings.Contains(said, want) {
			t.Errorf("progress %q does not say %q", said, want)
		}
	}
	f.apply(t, cfg, cty.NilVal, ch)
	kc := f.engine.clusters["kind"]
	if len(kc.KubeadmConfigPatches) != 1 || !strings.Contains(kc.KubeadmConfigPatches[0], "failCgroupV1: false") || kc.Networking.APIServerPort != 6443 {
		t.Errorf("kind config: patches %q, API port %d", kc.KubeadmConfigPatches, kc.Networking.APIServerPort)
	}
	if !strings.Contains(strings.Join(f.progress, "\n"), "cgroup v1 host, so the kubelet runs with failCgroupV1: false") {
		t.Errorf("the create line does not say the patch: %q", f.progress)
	}
}

// The defect as a learner met it, through the real command runner: a
// podman on PATH that answers but has no image, and no docker.
func TestAutoWithARealPodmanCLIButNoImage(t *testing.T) {
	bin := t.TempDir()
	log := filepath.Join(bin, "calls")
	script := `#!/bin/sh
echo "$*" >> ` + log + `
case "$1" in
info) echo "4.3.1|v2|/var/lib/containers/storage|false" ;;
inspect) echo "Error: $3: image not known" >&2; exit 125 ;;
pull) echo "Error: initializing source docker://kindest/node: pinging container registry registry-1.docker.io" >&2; exit 125 ;;
version) echo "4.3.1" ;;
ps) ;;
*) exit 1 ;;
esac
`
	writeFile(t, filepath.Join(bin, "podman"), script)
	if err := os.Chmod(filepath.Join(bin, "podman"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin)
	f := newFixture(t)
	h := host.Real()
	h.Root = f.host.root
	h.Reach = f.host.host().Reach // offline, whatever this machine is
	f.kind.host = h
	ch := f.plan(t, decode(t, `name = "kind"`), cty.NilVal)
	var p private
	_ = json.Unmarshal(ch.Private, &p)
	if p.Backend != Simulated {
		t.Fatalf("auto chose %q", p.Backend)
	}
	if len(f.progress) != 1 || !strings.Contains(f.progress[0], "podman answers, but no node image") {
		t.Errorf("progress = %q", f.progress)
	}
	calls, _ := os.ReadFile(log)
	if strings.Contains(string(calls), "pull") {
		t.Errorf("plan pulled: %s", calls)
	}
	if !strings.Contains(string(calls), "inspect --type=image "+host.PublishedImage) || !strings.Contains(string(calls), "inspect --type=image "+host.OfflineImage) {
		t.Errorf("podman was not asked for the images: %s", calls)
	}
}
