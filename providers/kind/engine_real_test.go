package kind

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"labs.dev/lab/providers/kind/enginetest"
	"labs.dev/lab/providers/kind/host"
)

// needEngine makes the engine ready for kind on this machine through the
// test harness (installed and configured as this VM needs; under CI=true
// never skipped). These tests, named *OnReal*, run in make test's
// real-engine phase.
func needEngine(t *testing.T, name string) {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: no real container engine")
	}
	enginetest.Start(t, name).Setenv(t)
}

// sleeperImage builds a one-binary image that sleeps until stopped, so
// node containers can be made without a node image or a registry.
func sleeperImage(t *testing.T, cli string) string {
	t.Helper()
	const ref = "localhost/lab/test-sleeper:1"
	if exec.Command(cli, "inspect", "--type=image", ref).Run() == nil {
		return ref
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "main.go")
	writeFile(t, src, "package main\n\nimport (\n\t\"os\"\n\t\"os/signal\"\n\t\"syscall\"\n)\n\nfunc main() {\n\tc := make(chan os.Signal, 1)\n\tsignal.Notify(c, syscall.SIGTERM, syscall.SIGINT)\n\t<-c\n}\n")
	root := filepath.Join(dir, "root")
	build := exec.Command("go", "build", "-o", filepath.Join(root, "sleeper"), src)
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build sleeper: %v\n%s", err, out)
	}
	tar := filepath.Join(dir, "sleeper.tar")
	if out, err := exec.Command("tar", "-C", root, "-cf", tar, ".").CombinedOutput(); err != nil {
		t.Fatalf("tar: %v\n%s", err, out)
	}
	if out, err := exec.Command(cli, "import", "--change", `ENTRYPOINT ["/sleeper"]`, tar, ref).CombinedOutput(); err != nil {
		t.Fatalf("%s import: %v\n%s", cli, err, out)
	}
	return ref
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// kindEngine on a real engine: node containers labelled as kind labels
// them are listed, inspected (state, exit, image, published ports),
// stopped, paused and started again.
func TestEngineNodesOnRealPodman(t *testing.T) { testEngineNodes(t, Podman) }

func testEngineNodes(t *testing.T, cli string) {
	needEngine(t, cli)
	img := sleeperImage(t, cli)
	name := fmt.Sprintf("labtest%d", time.Now().UnixNano()%1_000_000)
	port := freePort(t)
	nodes := []string{name + "-control-plane", name + "-worker"}
	t.Cleanup(func() {
		for _, n := range nodes { // one by one: podman removes none when one is gone
			_ = exec.Command(cli, "rm", "-f", n).Run()
		}
	})
	for i, role := range []string{"control-plane", "worker"} {
		args := []string{"run", "-d", "--name", nodes[i], "--label", "io.x-k8s.kind.cluster=" + name, "--label", "io.x-k8s.kind.role=" + role}
		if role == "control-plane" {
			args = append(args, "-p", fmt.Sprintf("127.0.0.1:%d:6443", port))
		}
		if out, err := exec.Command(cli, append(args, img)...).CombinedOutput(); err != nil {
			t.Fatalf("%s run: %v\n%s", cli, err, out)
		}
	}
	ctx := context.Background()
	e := newKindEngine(cli, slog.New(slog.DiscardHandler))
	names, err := e.List()
	if err != nil || !contains(names, name) {
		t.Fatalf("List = %v, %v; want %s among them", names, err, name)
	}
	got, err := e.Nodes(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Name != nodes[0] || got[0].Role != "control-plane" || got[0].State != "running" || got[0].Image != img ||
		len(got[0].Ports) != 1 || got[0].Ports[0].Port != int32(port) || got[0].Ports[0].Address != "127.0.0.1" || got[1].Role != "worker" {
		t.Fatalf("nodes = %+v", got)
	}
	if out, err := exec.Command(cli, "stop", "-t", "1", nodes[0]).CombinedOutput(); err != nil {
		t.Fatalf("stop: %v\n%s", err, out)
	}
	if out, err := exec.Command(cli, "pause", nodes[1]).CombinedOutput(); err != nil {
		t.Fatalf("pause: %v\n%s", err, out)
	}
	got, _ = e.Nodes(ctx, name)
	h := healthOf(name, []string{"control-plane", "worker"}, got)
	if joinNames(h.stopped) != nodes[0] || joinNames(h.paused) != nodes[1] || len(h.broken) != 0 || !strings.HasPrefix(got[0].Exit, "exit code ") {
		t.Fatalf("after stop and pause: nodes %+v, health %+v", got, h)
	}
	// The stopped node's port is free again; the port check sees it so.
	if fs := host.Real().CheckPorts(cli, portsOf(h.down())); len(fs) != 1 || fs[0].Status != host.OK {
		t.Errorf("port check before the start: %+v", fs)
	}
	if err := e.Start(ctx, h.down()); err != nil {
		t.Fatal(err)
	}
	got, _ = e.Nodes(ctx, name)
	if h := healthOf(name, nil, got); len(h.down()) != 0 || len(h.broken) != 0 {
		t.Fatalf("after Start: %+v", got)
	}
	// Removed: a start cannot bring it back.
	if out, err := exec.Command(cli, "rm", "-f", nodes[1]).CombinedOutput(); err != nil {
		t.Fatalf("rm: %v\n%s", err, out)
	}
	got, _ = e.Nodes(ctx, name)
	if h := healthOf(name, []string{"control-plane", "worker"}, got); len(h.broken) != 1 || !strings.Contains(h.broken[0], nodes[1]+" is gone") {
		t.Fatalf("after rm: %+v", h)
	}
}

func TestEngineNodesOnRealDocker(t *testing.T) { testEngineNodes(t, Docker) }
