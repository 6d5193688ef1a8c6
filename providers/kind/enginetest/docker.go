package enginetest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// runcWrapper is the private dockerd's default runtime: runc, minus
// CAP_SYS_RESOURCE in the bundle's config.json (create, run) and in the
// process JSON of `runc exec --process`. docker asks for every capability
// it knows for --privileged containers, kind's nodes are privileged, and
// this VM's bounding set lacks CAP_SYS_RESOURCE, so plain runc fails
// ("unable to apply caps: operation not permitted").
const runcWrapper = `#!/bin/bash
# written by lab's enginetest (test harness), see providers/kind/enginetest
set -euo pipefail
drop() {
  local t
  t=$(mktemp "$1.XXXXXX")
  jq 'walk(if type == "array" then map(select(. != "CAP_SYS_RESOURCE")) else . end)' "$1" >"$t"
  mv -f "$t" "$1"
}
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  case "${args[i]}" in
    --bundle|-b) drop "${args[i+1]}/config.json" ;;
    --bundle=*) drop "${args[i]#--bundle=}/config.json" ;;
    --process|-p) drop "${args[i+1]}" ;;
    --process=*) drop "${args[i]#--process=}" ;;
  esac
done
exec /usr/sbin/runc "$@"
`

// startDocker starts a dockerd of this process's own: its socket and exec
// root in a short temp dir, its data root in the cache (so the node image
// stays loaded between runs) unless another test process holds that one,
// then a temp data root.
func startDocker() (*running, error) {
	base := filepath.Join(cacheDir(), "enginetest", "docker")
	if err := os.MkdirAll(base, 0o755); err != nil {
		return nil, err
	}
	execRoot, err := os.MkdirTemp("/tmp", "labdk")
	if err != nil {
		return nil, err
	}
	d := &dockerd{execRoot: execRoot, pidFile: filepath.Join(base, "dockerd.pid")}
	ok := false
	defer func() {
		if !ok {
			d.stop()
		}
	}()
	if lock, err := os.OpenFile(filepath.Join(base, "lock"), os.O_CREATE|os.O_RDWR, 0o644); err != nil {
		return nil, err
	} else if syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) == nil {
		d.lock = lock
		d.dataRoot = filepath.Join(base, "data")
		if err := d.stopLeftover(); err != nil {
			return nil, err
		}
	} else {
		lock.Close()
		if d.dataRoot, err = os.MkdirTemp("", "lab-dockerd-data-"); err != nil {
			return nil, err
		}
		d.tempData = true
	}
	wrapper := filepath.Join(execRoot, "lab-runc")
	if err := os.WriteFile(wrapper, []byte(runcWrapper), 0o755); err != nil {
		return nil, err
	}
	d.log = filepath.Join(execRoot, "dockerd.log")
	logf, err := os.Create(d.log)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	sock := filepath.Join(execRoot, "docker.sock")
	// No default bridge and no iptables: a second dockerd on the host
	// must not touch the first one's docker0 or the host's FORWARD policy
	// (other engines' clusters use it). kind makes its own network and
	// docker-proxy publishes its ports; nodes need no outside access.
	d.cmd = exec.Command("dockerd",
		"--data-root", d.dataRoot, "--exec-root", filepath.Join(execRoot, "exec"),
		"--pidfile", filepath.Join(execRoot, "dockerd.pid"), "--host", "unix://"+sock,
		"--bridge=none", "--iptables=false", "--ip-masq=false",
		"--add-runtime", "lab-runc="+wrapper, "--default-runtime", "lab-runc",
		"--log-level", "warn")
	d.cmd.Stdout, d.cmd.Stderr = logf, logf
	// Its own process group: a Ctrl-C in the terminal reaches the test,
	// which stops dockerd in order.
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := d.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start dockerd: %v", err)
	}
	d.exited = make(chan struct{})
	go func() { _ = d.cmd.Wait(); close(d.exited) }()
	if d.lock != nil {
		_ = os.WriteFile(d.pidFile, []byte(strconv.Itoa(d.cmd.Process.Pid)), 0o644)
	}
	e := &Engine{Name: Docker, Env: []string{"DOCKER_HOST=unix://" + sock}, Network: "kind"}
	deadline := time.Now().Add(90 * time.Second)
	for {
		out, err := run(e, 10*time.Second, "info")
		if err == nil {
			break
		}
		select {
		case <-d.exited:
			return nil, fmt.Errorf("dockerd exited: %v\n%s", d.cmd.ProcessState, d.logTail())
		default:
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("dockerd does not answer on %s after 90 s: %v\n%s\n%s", sock, err, out, d.logTail())
		}
		time.Sleep(500 * time.Millisecond)
	}
	ok = true
	// Everything in this dockerd is this package's: clear what a killed
	// run left before and after.
	clear := func() error {
		if err := removeContainers(e, func(string) bool { return true }); err != nil {
			return err
		}
		if out, err := run(e, time.Minute, "network", "prune", "-f"); err != nil {
			return fmt.Errorf("docker network prune: %v\n%s", err, out)
		}
		return nil
	}
	return &running{
		engine: e,
		sweep:  clear,
		stop: func() error {
			err := clear()
			return errors.Join(err, d.stop())
		},
	}, nil
}

type dockerd struct {
	cmd      *exec.Cmd
	exited   chan struct{}
	execRoot string
	dataRoot string
	tempData bool
	lock     *os.File
	pidFile  string
	log      string
}

// stopLeftover stops a dockerd an earlier, killed test process started
// on the shared data root: the PID it recorded, if that process is still
// a dockerd on that data root.
func (d *dockerd) stopLeftover() error {
	b, err := os.ReadFile(d.pidFile)
	if err != nil {
		return nil
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return nil
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || !strings.Contains(string(cmdline), "dockerd\x00") || !strings.Contains(string(cmdline), d.dataRoot) {
		return nil
	}
	if err := terminate(pid, 60*time.Second); err != nil {
		return fmt.Errorf("stopping the dockerd (PID %d) a killed test run left on %s: %v", pid, d.dataRoot, err)
	}
	return nil
}

// terminate sends SIGTERM to pid and waits up to grace for it to go,
// then kills it.
func terminate(pid int, grace time.Duration) error {
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		return nil
	}
	for end := time.Now().Add(grace); time.Now().Before(end); time.Sleep(200 * time.Millisecond) {
		if errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) {
			return nil
		}
	}
	return syscall.Kill(pid, syscall.SIGKILL)
}

// stop stops dockerd (SIGTERM: it stops its containers and containerd)
// and removes its temp dirs.
func (d *dockerd) stop() error {
	var err error
	if d.cmd != nil && d.cmd.Process != nil {
		_ = d.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-d.exited:
		case <-time.After(90 * time.Second):
			_ = d.cmd.Process.Kill()
			<-d.exited
			err = fmt.Errorf("dockerd (PID %d) did not stop within 90 s of SIGTERM; killed it\n%s", d.cmd.Process.Pid, d.logTail())
		}
	}
	if d.lock != nil {
		os.Remove(d.pidFile)
		d.lock.Close()
	}
	dirs := []string{d.execRoot}
	if d.tempData {
		dirs = append(dirs, d.dataRoot)
	}
	for _, dir := range dirs {
		if rerr := removeAll(dir); rerr != nil {
			err = errors.Join(err, rerr)
		}
	}
	return err
}

func (d *dockerd) logTail() string {
	b, _ := os.ReadFile(d.log)
	return tail(b, 30)
}

// removeAll removes dir after unmounting whatever is still mounted below
// it (overlay and shm mounts of a dockerd that was killed).
func removeAll(dir string) error {
	mounts, _ := os.ReadFile("/proc/self/mounts")
	var below []string
	for _, l := range strings.Split(string(mounts), "\n") {
		if f := strings.Fields(l); len(f) > 1 && strings.HasPrefix(f[1], dir+"/") {
			below = append(below, f[1])
		}
	}
	for i := len(below) - 1; i >= 0; i-- {
		_ = syscall.Unmount(below[i], syscall.MNT_DETACH)
	}
	return os.RemoveAll(dir)
}
