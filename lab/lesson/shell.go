package lesson

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// The shell reads each command as a NUL-terminated string from fd 3 and
// evals it, so variables and functions carry over from one command to
// the next as in the learner's terminal. After each command it prints a
// sentinel, NUL + nonce + status + NUL, which splits the one output
// stream into per-command outputs. The command itself cannot read fd 3
// (closed for it) and reads stdin from /dev/null, so a command that
// waits for input ends at once instead of hanging.
const loop = `__lab_nonce=$1
while IFS= read -r -d '' __lab_cmd <&3; do
  eval "$__lab_cmd" 3<&-
  printf '\0%s %d\0' "$__lab_nonce" "$?"
done
`

// shell is one bash process running a lesson's commands.
type shell struct {
	cmd     *exec.Cmd
	script  *os.File // our end of fd 3
	out     *os.File // stdout and stderr of the shell, merged
	marker  []byte
	chunks  chan []byte
	pending []byte
	limit   int
	// exited is closed when bash has exited. It is not reaped until
	// stop, so its pid, which is the process group's id, cannot be
	// reused by another process while we may still signal the group.
	exited  chan struct{}
	stopped bool
	waitErr error
}

// Exec is the outcome of one command.
type Exec struct {
	Output []byte
	// Total is how many bytes the command printed; more than len(Output)
	// when it printed more than the limit.
	Total    int64
	Status   int
	Duration time.Duration
}

// errTimeout and errShellGone end a shell: after either, no command runs.
var (
	errTimeout   = errors.New("timed out")
	errShellGone = errors.New("the shell exited")
)

// startShell starts bash in a session of its own, without a terminal (a
// command cannot wait on /dev/tty either) and leading its own process
// group, so stop can end it and everything it started.
func startShell(bash, dir string, env []string, limit int) (*shell, error) {
	nonce := make([]byte, 12)
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	n := "LAB" + hex.EncodeToString(nonce)
	scriptR, scriptW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		scriptR.Close()
		scriptW.Close()
		return nil, err
	}
	cmd := exec.Command(bash, "--noprofile", "--norc", "-c", loop, "lab-doc-test", n)
	cmd.Dir = dir
	cmd.Env = env
	cmd.Stdin = nil // /dev/null
	cmd.Stdout, cmd.Stderr = outW, outW
	cmd.ExtraFiles = []*os.File{scriptR}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	err = cmd.Start()
	scriptR.Close()
	outW.Close()
	if err != nil {
		scriptW.Close()
		outR.Close()
		return nil, fmt.Errorf("start %s: %w", bash, err)
	}
	s := &shell{
		cmd: cmd, script: scriptW, out: outR,
		marker: []byte("\x00" + n + " "),
		chunks: make(chan []byte, 16),
		limit:  limit,
		exited: make(chan struct{}),
	}
	go s.read()
	go s.watch()
	return s, nil
}

func (s *shell) read() {
	defer close(s.chunks)
	for {
		buf := make([]byte, 64<<10)
		n, err := s.out.Read(buf)
		if n > 0 {
			s.chunks <- buf[:n]
		}
		if err != nil {
			return
		}
	}
}

// watch waits for bash to exit without reaping it.
func (s *shell) watch() {
	defer close(s.exited)
	var si unix.Siginfo
	for {
		err := unix.Waitid(unix.P_PID, s.cmd.Process.Pid, &si, unix.WEXITED|unix.WNOWAIT, nil)
		if err != unix.EINTR {
			return
		}
	}
}

// run sends one command and collects its output until the sentinel.
// On a timeout or cancellation it stops the shell (errTimeout or the
// context's error); when the shell exits by itself, errShellGone.
func (s *shell) run(ctx context.Context, command string, timeout time.Duration) (Exec, error) {
	began := time.Now()
	var ex Exec
	keep := func(b []byte) {
		ex.Total += int64(len(b))
		if room := s.limit - len(ex.Output); room > 0 {
			ex.Output = append(ex.Output, b[:min(room, len(b))]...)
		}
	}
	done := func(err error) (Exec, error) {
		keep(s.pending)
		s.pending = nil
		ex.Duration = time.Since(began)
		s.stop()
		if err == errShellGone {
			ex.Status = exitStatus(s.waitErr)
		}
		return ex, err
	}
	if _, err := s.script.Write(append([]byte(command), 0)); err != nil {
		return done(errShellGone)
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	exited := s.exited
	for {
		if i := bytes.Index(s.pending, s.marker); i >= 0 {
			rest := s.pending[i+len(s.marker):]
			if j := bytes.IndexByte(rest, 0); j >= 0 {
				keep(s.pending[:i])
				ex.Status, _ = strconv.Atoi(string(rest[:j]))
				s.pending = append([]byte(nil), rest[j+1:]...)
				ex.Duration = time.Since(began)
				return ex, nil
			}
		} else if cut := len(s.pending) - len(s.marker); cut > 0 {
			// Everything but a possible start of the marker is output.
			keep(s.pending[:cut])
			s.pending = s.pending[cut:]
		}
		select {
		case b, ok := <-s.chunks:
			if !ok {
				return done(errShellGone)
			}
			s.pending = append(s.pending, b...)
		case <-exited:
			// bash is gone; what it started in the background may still
			// hold the pipe. End them, then read what is left.
			exited = nil
			s.kill()
		case <-timer.C:
			return done(errTimeout)
		case <-ctx.Done():
			return done(ctx.Err())
		}
	}
}

// kill signals the shell's process group: bash and every process it
// started that stayed in it. bash leads the group and is not reaped
// before stop, so the group's id is still ours.
func (s *shell) kill() {
	_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
}

// stop ends the shell and everything in its process group, reaps bash
// and releases the pipes. After the last command it ends the background
// jobs a lesson started (kubectl port-forward &) too.
func (s *shell) stop() {
	if s.stopped {
		return
	}
	s.stopped = true
	s.kill()
	s.waitErr = s.cmd.Wait()
	s.script.Close()
	// A process that left the group may still hold the output pipe:
	// closing our end ends the reader without waiting for it.
	s.out.Close()
	for range s.chunks {
	}
}

func exitStatus(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}
