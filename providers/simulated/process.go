package simulated

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// stopGrace is how long a component gets to exit after SIGTERM.
const stopGrace = 10 * time.Second

func pidFile(dir, name string) string { return filepath.Join(dir, "run", name+".pid") }
func logFile(dir, name string) string { return filepath.Join(dir, "logs", name+".log") }

// proc is a component's process. For one this run started, exit closes
// when the starter's Wait returns: only that tells death for certain,
// where the PID file is not written yet and /proc/<pid>/cmdline is empty
// while the kernel is still exec'ing. One found running is not our child
// and is watched through /proc.
type proc struct {
	name string
	pid  int
	exit chan struct{} // nil for a process found running
	err  error         // how it ended; set before exit closes
}

// starter starts the components of the cluster in dir.
type starter struct {
	dir string
	// beforeRecord, set only by tests, runs between a process's start
	// and the write of its PID file.
	beforeRecord func(*proc)
}

// exited reports whether the component's process has ended.
func (p *proc) exited(dir string) bool {
	if p.exit == nil {
		return !ours(p.pid, dir)
	}
	select {
	case <-p.exit:
		return true
	default:
		return false
	}
}

// runningProc is the component's recorded process if it runs.
func runningProc(dir, name string) (*proc, bool) {
	pid, ok := running(dir, name)
	if !ok {
		return nil, false
	}
	return &proc{name: name, pid: pid}, true
}

// start launches one component detached in its own session (and so its
// own process group), with output appended to its log, and records its
// PID. The process outlives the caller; while the caller lives, a
// goroutine reaps it, so a dead child never lingers as a zombie, and
// closes its exit.
func (s starter) start(name, bin string, args []string) (*proc, error) {
	dir := s.dir
	for _, d := range []string{filepath.Join(dir, "run"), filepath.Join(dir, "logs")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("start %s: %w", name, err)
		}
	}
	logf, err := os.OpenFile(logFile(dir, name), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("start %s: open log: %w", name, err)
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
	// Between Start and the PID file, a killed lab would leave a process
	// nobody knows of; the marker lets the next run find and end it.
	reapUnrecorded(dir, name)
	if err := os.WriteFile(startingFile(dir, name), []byte(bin), 0o600); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	if err := cmd.Start(); err != nil {
		_ = os.Remove(startingFile(dir, name))
		return nil, fmt.Errorf("start %s (%s): %w", name, bin, err)
	}
	p := &proc{name: name, pid: cmd.Process.Pid, exit: make(chan struct{})}
	go func() { p.err = cmd.Wait(); close(p.exit) }()
	if s.beforeRecord != nil {
		s.beforeRecord(p)
	}
	if err := os.WriteFile(pidFile(dir, name), []byte(strconv.Itoa(p.pid)+"\n"), 0o600); err != nil {
		_ = syscall.Kill(-p.pid, syscall.SIGKILL)
		return nil, fmt.Errorf("start %s: record PID: %w", name, err)
	}
	_ = os.Remove(startingFile(dir, name))
	return p, nil
}

func startingFile(dir, name string) string { return filepath.Join(dir, "run", name+".starting") }

// reapUnrecorded ends the processes of a start that did not get to record
// their PID (its marker is still there): those running the marker's
// binary with this cluster's directory on their command line, other than
// the recorded one.
func reapUnrecorded(dir, name string) {
	bin, err := os.ReadFile(startingFile(dir, name))
	if err != nil || len(bin) == 0 {
		return
	}
	recorded, _ := running(dir, name)
	reap(dir, func(pid int, argv0 string) bool { return pid != recorded && argv0 == string(bin) })
	_ = os.Remove(startingFile(dir, name))
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
	return names(cmdline, dir)
}

// names reports whether one of a command line's arguments (or the value
// of a --flag=value) is a path inside dir: it starts with dir/, so
// cluster "kind" is not mistaken for "kind2", nor /tmp/lab for
// /var/tmp/lab.
func names(cmdline []byte, dir string) bool {
	prefix := dir + string(filepath.Separator)
	for _, arg := range strings.Split(string(bytes.TrimRight(cmdline, "\x00")), "\x00") {
		_, val, isFlag := strings.Cut(arg, "=")
		if strings.HasPrefix(arg, prefix) || (isFlag && strings.HasPrefix(val, prefix)) {
			return true
		}
	}
	return false
}

// reapOrphans ends the processes left running from dir after its record
// was removed (rm -rf .lab while the cluster ran): any running program
// named like one of bases (etcd, kube-apiserver...: from whichever
// binary directory it was started) with a path inside dir as an
// argument.
func reapOrphans(dir string, bases []string) {
	reap(dir, func(_ int, argv0 string) bool { return slices.Contains(bases, filepath.Base(argv0)) })
}

// reap SIGKILLs each process, other than this one, that has a path
// inside dir as an argument (so only this cluster's private directory
// can match, never another cluster's or anyone else's) and that match
// accepts, then waits until they are gone: their ports and etcd's data
// lock are free only then. Components start with Setsid, so each one's
// process group is its PID.
func reap(dir string, match func(pid int, argv0 string) bool) {
	var killed []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid <= 1 || pid == os.Getpid() {
			continue
		}
		cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil {
			continue
		}
		argv0, _, _ := bytes.Cut(cmdline, []byte{0})
		if names(cmdline, dir) && match(pid, string(argv0)) {
			_ = syscall.Kill(-pid, syscall.SIGKILL)
			_ = syscall.Kill(pid, syscall.SIGKILL)
			killed = append(killed, pid)
		}
	}
	for _, pid := range killed {
		waitExited(context.Background(), &proc{pid: pid}, dir, 5*time.Second)
	}
}

// stop ends a component by its PID file, and any start of it that was
// cut off before it wrote one.
func stop(ctx context.Context, dir, name string) error {
	reapUnrecorded(dir, name)
	p, ok := runningProc(dir, name)
	if !ok {
		_ = os.Remove(pidFile(dir, name))
		return nil
	}
	return stopProc(ctx, dir, p)
}

// stopProc ends a component's process: SIGTERM to its process group,
// SIGKILL after the grace period. It removes the PID file once the
// process is gone.
func stopProc(ctx context.Context, dir string, p *proc) error {
	_ = syscall.Kill(-p.pid, syscall.SIGTERM)
	if !waitExited(ctx, p, dir, stopGrace) {
		_ = syscall.Kill(-p.pid, syscall.SIGKILL)
		if !waitExited(ctx, p, dir, 5*time.Second) {
			return fmt.Errorf("stop %s: process %d did not exit after SIGKILL", p.name, p.pid)
		}
	}
	if err := os.Remove(pidFile(dir, p.name)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("stop %s: %w", p.name, err)
	}
	return nil
}

// stopAll stops every component of the cluster in dir by its PID file.
func stopAll(ctx context.Context, dir string) error {
	return inStopOrder(func(name string) error { return stop(ctx, dir, name) })
}

// stopProcs stops the processes in procs (nil entries are down).
func stopProcs(ctx context.Context, dir string, procs map[string]*proc) error {
	return inStopOrder(func(name string) error {
		if p := procs[name]; p != nil {
			return stopProc(ctx, dir, p)
		}
		return nil
	})
}

// inStopOrder calls stop for every component: the API server's clients
// first, together, so none logs a storm of errors while it goes; then
// the API server, then etcd.
func inStopOrder(stop func(name string) error) error {
	var errs []error
	for _, group := range [][]string{{"kwok", "kube-scheduler", "kube-controller-manager"}, {"kube-apiserver"}, {"etcd"}} {
		var wg sync.WaitGroup
		var mu sync.Mutex
		for _, c := range group {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := stop(c); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
	}
	return errors.Join(errs...)
}

// waitExited waits up to d for p to exit.
func waitExited(ctx context.Context, p *proc, dir string, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if p.exited(dir) {
			return true
		}
		select {
		case <-ctx.Done():
			return p.exited(dir)
		case <-p.exit: // nil for a process found running: never ready
			return true
		case <-time.After(50 * time.Millisecond):
		}
	}
	return p.exited(dir)
}
