package simulated

import (
	"bytes"
	"context"
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

// stopGrace is how long a component gets to exit after SIGTERM.
const stopGrace = 10 * time.Second

func pidFile(dir, name string) string { return filepath.Join(dir, "run", name+".pid") }
func logFile(dir, name string) string { return filepath.Join(dir, "logs", name+".log") }

// start launches one component detached in its own session (and so its
// own process group), with output appended to its log, and records its
// PID. The process outlives the caller; while the caller lives, a
// goroutine reaps it so a dead child never lingers as a zombie.
func start(dir, name, bin string, args []string) (int, error) {
	for _, d := range []string{filepath.Join(dir, "run"), filepath.Join(dir, "logs")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return 0, fmt.Errorf("start %s: %w", name, err)
		}
	}
	logf, err := os.OpenFile(logFile(dir, name), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return 0, fmt.Errorf("start %s: open log: %w", name, err)
	}
	defer logf.Close()
	fmt.Fprintf(logf, "\n==== %s: %s %s\n", time.Now().Format(time.RFC3339), bin, strings.Join(args, " "))
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	// Components must not inherit a learner's proxy settings: they only
	// talk to 127.0.0.1.
	cmd.Env = append(os.Environ(), "NO_PROXY=127.0.0.1,localhost", "no_proxy=127.0.0.1,localhost")
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("start %s (%s): %w", name, bin, err)
	}
	pid := cmd.Process.Pid
	go func() { _ = cmd.Wait() }()
	if err := os.WriteFile(pidFile(dir, name), []byte(strconv.Itoa(pid)+"\n"), 0o600); err != nil {
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		return 0, fmt.Errorf("start %s: record PID: %w", name, err)
	}
	return pid, nil
}

// running returns the PID of the component if its recorded process is
// alive and is ours: after a reboot the PID may belong to anything, so
// the process's command line must name the cluster's directory.
func running(dir, name string) (int, bool) {
	b, err := os.ReadFile(pidFile(dir, name))
	if err != nil {
		return 0, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 1 {
		return 0, false
	}
	return pid, ours(pid, dir)
}

func ours(pid int, dir string) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the parenthesised command name; Z and X are dead.
	if i := bytes.LastIndexByte(stat, ')'); i > 0 && i+2 < len(stat) {
		if s := stat[i+2]; s == 'Z' || s == 'X' {
			return false
		}
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return false
	}
	return bytes.Contains(cmdline, []byte(dir))
}

// stop ends a component: SIGTERM to its process group, SIGKILL after the
// grace period. It removes the PID file once the process is gone.
func stop(ctx context.Context, dir, name string) error {
	pid, ok := running(dir, name)
	if !ok {
		_ = os.Remove(pidFile(dir, name))
		return nil
	}
	_ = syscall.Kill(-pid, syscall.SIGTERM)
	if !waitGone(ctx, pid, dir, stopGrace) {
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		if !waitGone(ctx, pid, dir, 5*time.Second) {
			return fmt.Errorf("stop %s: process %d did not exit after SIGKILL", name, pid)
		}
	}
	if err := os.Remove(pidFile(dir, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("stop %s: %w", name, err)
	}
	return nil
}

func waitGone(ctx context.Context, pid int, dir string, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if !ours(pid, dir) {
			return true
		}
		select {
		case <-ctx.Done():
			return !ours(pid, dir)
		case <-time.After(50 * time.Millisecond):
		}
	}
	return !ours(pid, dir)
}
