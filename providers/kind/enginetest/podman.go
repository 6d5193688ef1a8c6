package enginetest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// containersConf is podman's configuration for this VM, passed with
// CONTAINERS_CONF (nothing under /etc/containers changes):
//   - runc, not crun: crun 1.8 refuses this host's cgroup v1 with a
//     cgroup2 mount ("cgroups in hybrid mode not supported");
//   - default_ulimits no higher than what conmon (podman's monitor) runs
//     with: podman's root default raises them, which needs
//     CAP_SYS_RESOURCE, which the VM lacks. conmon has this process's
//     open-files limit and at most 32768 processes (seen on Debian's
//     podman 4.3: runc fails to set 65536);
//   - cgroupfs and file events: no systemd runs here.
func containersConf() string {
	var nofile, nproc unix.Rlimit
	_ = unix.Getrlimit(unix.RLIMIT_NOFILE, &nofile)
	_ = unix.Getrlimit(unix.RLIMIT_NPROC, &nproc)
	nproc.Cur, nproc.Max = min(nproc.Cur, 32768), min(nproc.Max, 32768)
	return fmt.Sprintf(`# written by lab's enginetest (test harness), see providers/kind/enginetest
[containers]
default_ulimits = ["nofile=%d:%d", "nproc=%d:%d"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
`, nofile.Cur, nofile.Max, nproc.Cur, nproc.Max)
}

func startPodman() (*running, error) {
	dir := filepath.Join(cacheDir(), "enginetest")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	conf := filepath.Join(dir, fmt.Sprintf("containers-%d.conf", os.Getpid()))
	if err := os.WriteFile(conf, []byte(containersConf()), 0o644); err != nil {
		return nil, err
	}
	network := fmt.Sprintf("lt%d-kind", os.Getpid())
	e := &Engine{
		Name:    Podman,
		Env:     []string{"CONTAINERS_CONF=" + conf, "KIND_EXPERIMENTAL_PODMAN_NETWORK=" + network},
		Network: network,
	}
	if out, err := run(e, 30*time.Second, "info"); err != nil {
		return nil, fmt.Errorf("podman info: %v\n%s", err, out)
	}
	return &running{
		engine: e,
		sweep: func() error {
			if err := removeContainers(e, func(n string) bool { return deadOwner(n, leftoverName) }); err != nil {
				return err
			}
			if err := removeNetworks(e, func(n string) bool { return deadOwner(n, leftoverNetwork) }); err != nil {
				return err
			}
			removeStaleConfs(dir)
			return nil
		},
		stop: func() error {
			mine := fmt.Sprintf("lt%d-", os.Getpid())
			err := removeContainers(e, func(n string) bool { return strings.HasPrefix(n, mine) })
			if err == nil {
				err = removeNetworks(e, func(n string) bool { return n == network })
			}
			os.Remove(conf)
			return err
		},
	}, nil
}

var leftoverNetwork = regexp.MustCompile(`^lt([0-9]+)-kind$`)

// removeStaleConfs deletes containers.conf files of dead test processes.
func removeStaleConfs(dir string) {
	confs, _ := filepath.Glob(filepath.Join(dir, "containers-*.conf"))
	re := regexp.MustCompile(`containers-([0-9]+)\.conf$`)
	for _, c := range confs {
		if deadOwner(filepath.Base(c), re) {
			os.Remove(c)
		}
	}
}

// removeContainers force-removes the containers (with their anonymous
// volumes) whose names match, as kind's delete does.
func removeContainers(e *Engine, match func(string) bool) error {
	out, err := run(e, time.Minute, "ps", "-a", "--format", "{{.Names}}")
	if err != nil {
		return fmt.Errorf("%s ps: %v\n%s", e.Name, err, out)
	}
	var names []string
	for _, n := range strings.Fields(out) {
		if match(n) {
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		return nil
	}
	if out, err := run(e, 5*time.Minute, append([]string{"rm", "-f", "-v"}, names...)...); err != nil {
		return fmt.Errorf("%s rm -f -v %s: %v\n%s", e.Name, strings.Join(names, " "), err, out)
	}
	return nil
}

func removeNetworks(e *Engine, match func(string) bool) error {
	out, err := run(e, time.Minute, "network", "ls", "--format", "{{.Name}}")
	if err != nil {
		return fmt.Errorf("%s network ls: %v\n%s", e.Name, err, out)
	}
	for _, n := range strings.Fields(out) {
		if !match(n) {
			continue
		}
		if out, err := run(e, time.Minute, "network", "rm", n); err != nil {
			return fmt.Errorf("%s network rm %s: %v\n%s", e.Name, n, err, out)
		}
	}
	return nil
}

// run runs the engine's CLI with e.Env and returns its combined output.
func run(e *Engine, timeout time.Duration, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	out, err := e.Command(ctx, args...).CombinedOutput()
	return string(out), err
}
