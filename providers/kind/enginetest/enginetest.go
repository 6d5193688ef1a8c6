// Package enginetest gives tests a real container engine to make kind
// clusters on, with lab's offline node image loaded: rootful podman, or a
// private dockerd this package starts. It installs what is missing from
// Debian's packages and configures the engines as this project's CI VM
// needs (see ../../../../shared/KIND-OFFLINE.md and README's "Air-gapped /
// offline node image"): a containers.conf with runc and explicit ulimits
// for podman; for docker, its own socket, data root and exec root and a
// runc wrapper that drops CAP_SYS_RESOURCE, which the VM cannot grant.
// None of this belongs in the product: it is test code.
//
// Outside CI the tests that use it skip unless LAB_ENGINE_TESTS=1 (they
// install packages as root, build a 1 GB image once and create clusters);
// under CI=true they never skip: whatever is missing fails the test.
//
// A package whose tests use it declares
//
//	func TestMain(m *testing.M) { os.Exit(enginetest.Main(m)) }
//
// so one dockerd serves all its tests and everything started is stopped
// at the end, by PID.
package enginetest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Engines tests can ask for.
const (
	Podman = "podman"
	Docker = "docker"
)

// Engine is a container engine ready for kind, with lab's node image loaded.
type Engine struct {
	Name string // Podman or Docker
	// Env (KEY=VALUE) points the engine's CLI, kind's library and lab
	// subprocesses at this engine: for podman CONTAINERS_CONF, and
	// KIND_EXPERIMENTAL_PODMAN_NETWORK so kind's network is this test
	// process's own (podman is shared with other processes); for docker
	// DOCKER_HOST, the private dockerd, whose "kind" network is its own.
	Env []string
	// NodeImage is lab's offline node image, loaded into the engine.
	NodeImage string
	// Network is the kind network clusters made with Env join.
	Network string
}

// Environ is os.Environ() with Env applied, for subprocesses.
func (e *Engine) Environ() []string {
	return mergeEnv(os.Environ(), e.Env)
}

// Setenv applies Env to the test process for the length of t, for kind's
// library, which runs the engine's CLI with the process's environment.
func (e *Engine) Setenv(t testing.TB) {
	t.Helper()
	for _, kv := range e.Env {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
}

// Command runs the engine's CLI with Env.
func (e *Engine) Command(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, e.Name, args...)
	cmd.Env = e.Environ()
	return cmd
}

// ClusterName is a kind cluster name for this test process: prefix
// lt<pid>-, which the next run's janitor uses to delete clusters a killed
// test process left behind.
func ClusterName(base string) string {
	return fmt.Sprintf("lt%d-%s", os.Getpid(), base)
}

var leftoverName = regexp.MustCompile(`^lt([0-9]+)-`)

// Start returns the engine name ready for kind, starting and installing
// what it must. Outside CI it skips t unless LAB_ENGINE_TESTS=1; under
// CI=true any missing piece fails t.
func Start(t testing.TB, name string) *Engine {
	t.Helper()
	if os.Getenv("CI") != "true" && os.Getenv("LAB_ENGINE_TESTS") != "1" {
		t.Skip("real-engine test: set LAB_ENGINE_TESTS=1 to run it (as root it installs podman, docker.io and debootstrap from Debian, builds lab's offline node image once, ≈15 min, and creates kind clusters); CI runs it always")
	}
	if name != Podman && name != Docker {
		t.Fatalf("enginetest: unknown engine %q (podman or docker)", name)
	}
	mu.Lock()
	defer mu.Unlock()
	if r := started[name]; r != nil {
		if r.err != nil {
			unavailable(t, "%s: %v", name, r.err)
		}
		return r.engine
	}
	if os.Geteuid() != 0 {
		unavailable(t, "real-engine tests need root (apt-get, rootful podman, dockerd); this process runs as uid %d", os.Geteuid())
	}
	if err := install(t); err != nil {
		unavailable(t, "%v", err)
	}
	start := startPodman
	if name == Docker {
		start = startDocker
	}
	r, err := start()
	if err != nil {
		unavailable(t, "%s: %v", name, err)
	}
	started[name] = r
	// Without enginetest.Main the engine lives as long as this test.
	if !managed {
		t.Cleanup(func() {
			mu.Lock()
			defer mu.Unlock()
			delete(started, name)
			if err := r.stop(); err != nil {
				t.Errorf("enginetest: stopping %s: %v", name, err)
			}
		})
	}
	if err := r.sweep(); err != nil {
		r.err = fmt.Errorf("removing what killed test runs left: %v", err)
		unavailable(t, "%s: %v", name, r.err)
	}
	img, err := loadNodeImage(t, r.engine)
	if err != nil {
		r.err = err
		unavailable(t, "%s: %v", name, err)
	}
	r.engine.NodeImage = img
	return r.engine
}

// Main runs the package's tests, then stops every engine they started and
// removes their networks. A failure to clean up fails the run.
func Main(m *testing.M) int {
	managed = true
	code := m.Run()
	mu.Lock()
	defer mu.Unlock()
	for name, r := range started {
		if err := r.stop(); err != nil {
			fmt.Fprintf(os.Stderr, "enginetest: stopping %s: %v\n", name, err)
			if code == 0 {
				code = 1
			}
		}
	}
	return code
}

var (
	mu      sync.Mutex
	started = map[string]*running{}
	managed bool
)

// running is an engine this process made ready, and how to undo it.
type running struct {
	engine *Engine
	// sweep removes clusters and networks of dead test processes.
	sweep func() error
	// stop deletes what this process left in the engine (clusters named
	// by ClusterName, its network) and stops what it started.
	stop func() error
	// err is why the engine could not be made ready; later tests fail
	// (or skip) with it too.
	err error
}

func unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := "enginetest: " + fmt.Sprintf(format, args...)
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// packages the real-engine tests need, by the command that shows each is
// there.
var packages = []struct{ pkg, probe string }{
	{"podman", "/usr/bin/podman"},
	{"runc", "/usr/sbin/runc"},
	{"netavark", "/usr/lib/podman/netavark"},
	{"aardvark-dns", "/usr/lib/podman/aardvark-dns"},
	{"docker.io", "/usr/sbin/dockerd"},
	{"jq", "/usr/bin/jq"},
	{"debootstrap", "/usr/sbin/debootstrap"},
}

var installOnce struct {
	sync.Once
	err error
}

// install puts in what is missing with apt-get, once per process.
func install(t testing.TB) error {
	installOnce.Do(func() {
		var missing []string
		for _, p := range packages {
			if _, err := os.Stat(p.probe); err != nil {
				missing = append(missing, p.pkg)
			}
		}
		if len(missing) == 0 {
			return
		}
		t.Logf("enginetest: installing %s from Debian", strings.Join(missing, " "))
		installOnce.err = aptInstall(missing)
	})
	if installOnce.err != nil {
		return installOnce.err
	}
	// kind mounts /lib/modules into every node; this VM has none.
	return os.MkdirAll("/lib/modules", 0o755)
}

func aptInstall(pkgs []string) error {
	// A package's postinst must not start a system dockerd or containerd:
	// the tests start their own.
	const policy = "/usr/sbin/policy-rc.d"
	if _, err := os.Stat(policy); errors.Is(err, os.ErrNotExist) {
		if err := os.WriteFile(policy, []byte("#!/bin/sh\n# written by lab's enginetest while it installs packages\nexit 101\n"), 0o755); err != nil {
			return err
		}
		defer os.Remove(policy)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	env := append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	for _, args := range [][]string{
		{"-o", "DPkg::Lock::Timeout=600", "update", "-q"},
		append([]string{"-o", "DPkg::Lock::Timeout=600", "install", "-y", "-q", "--no-install-recommends"}, pkgs...),
	} {
		cmd := exec.CommandContext(ctx, "apt-get", args...)
		cmd.Env = env
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("apt-get %s: %v\n%s", strings.Join(args, " "), err, tail(out, 30))
		}
	}
	return nil
}

// loadNodeImage builds lab's node image if needed and loads it into the
// engine, through tools/nodeimage/build.sh (a second call with nothing
// changed takes seconds).
func loadNodeImage(t testing.TB, e *Engine) (string, error) {
	root, err := repoRoot()
	if err != nil {
		return "", err
	}
	logf, err := os.CreateTemp("", "lab-node-image-*.log")
	if err != nil {
		return "", err
	}
	defer os.Remove(logf.Name())
	defer logf.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Minute)
	defer cancel()
	start := time.Now()
	cmd := exec.CommandContext(ctx, "bash", filepath.Join(root, "tools/nodeimage/build.sh"))
	cmd.Env = append(e.Environ(), "LAB_NODE_IMAGE_ENGINES="+e.Name)
	cmd.Stderr = logf
	out, err := cmd.Output()
	log, _ := os.ReadFile(logf.Name())
	if err != nil {
		return "", fmt.Errorf("tools/nodeimage/build.sh: %v\n%s", err, tail(log, 40))
	}
	t.Logf("enginetest: node image on %s in %s: %s", e.Name, time.Since(start).Round(time.Second), lastLine(log))
	return strings.TrimSpace(lastLine(out)), nil
}

func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := dir; ; d = filepath.Dir(d) {
		if b, err := os.ReadFile(filepath.Join(d, "go.mod")); err == nil && strings.HasPrefix(string(b), "module labs.dev/lab\n") {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no labs.dev/lab go.mod above %s", dir)
		}
	}
}

// cacheDir is where lab's tools keep their caches, as the build scripts
// compute it.
func cacheDir() string {
	if d := os.Getenv("LAB_CACHE_DIR"); d != "" {
		return d
	}
	base := os.Getenv("XDG_CACHE_HOME")
	if base == "" {
		home, _ := os.UserHomeDir()
		base = filepath.Join(home, ".cache")
	}
	return filepath.Join(base, "lab")
}

// deadOwner reports whether name was made by ClusterName (or the network
// naming) of a process that no longer runs.
func deadOwner(name string, re *regexp.Regexp) bool {
	m := re.FindStringSubmatch(name)
	if m == nil {
		return false
	}
	pid, err := strconv.Atoi(m[1])
	if err != nil || pid == os.Getpid() {
		return false
	}
	return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}

func mergeEnv(base, over []string) []string {
	keys := map[string]bool{}
	for _, kv := range over {
		k, _, _ := strings.Cut(kv, "=")
		keys[k] = true
	}
	out := make([]string, 0, len(base)+len(over))
	for _, kv := range base {
		k, _, _ := strings.Cut(kv, "=")
		if !keys[k] {
			out = append(out, kv)
		}
	}
	return append(out, over...)
}

func tail(b []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func lastLine(b []byte) string {
	var last string
	sc := bufio.NewScanner(strings.NewReader(string(b)))
	for sc.Scan() {
		if strings.TrimSpace(sc.Text()) != "" {
			last = sc.Text()
		}
	}
	return last
}
