package main

import (
	"bufio"
	"bytes"
	"encoding/json"
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
	"testing"
	"time"

	"labs.dev/lab/lab/state"
	"labs.dev/lab/providers/simulated"
)

// The reliability tests drive the real lab command (this test binary,
// installed on PATH as "lab" by testscript.Main) against simulated
// clusters, killing it, signalling it and breaking its cluster on the way.

// labDir is one lab directory with its own HOME and kubeconfig.
type labDir struct {
	t    *testing.T
	dir  string
	env  []string
	lab  string
	kctl string

	mu   sync.Mutex
	pids map[int]bool // cluster processes seen, by PID
	cmds []*exec.Cmd  // lab processes started, each in its own group
}

// needCluster skips (or, under CI, fails) when the control-plane
// binaries are missing, and in -short mode.
func needCluster(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts simulated clusters; not in -short mode")
	}
	if _, err := simulated.BinDir(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("control-plane binaries missing under CI: %v", err)
		}
		t.Skipf("needs the control-plane binaries (make control-plane): %v", err)
	}
}

// newLabDir makes a lab directory holding files (the shipped lab when
// files is nil) and stops, when the test ends, every process the test
// started there. binDir is from helperBinaries.
func newLabDir(t *testing.T, binDir string, files map[string]string) *labDir {
	t.Helper()
	lab, err := exec.LookPath("lab")
	if err != nil {
		t.Fatalf("lab is not on PATH (testscript.Main puts it there): %v", err)
	}
	dir := t.TempDir()
	d := &labDir{t: t, dir: dir, lab: lab, kctl: filepath.Join(binDir, "kubectl"), pids: map[int]bool{}}
	if files == nil {
		root, _ := filepath.Abs("../..")
		for _, name := range []string{"charts", "manifests"} {
			if err := os.CopyFS(filepath.Join(dir, name), os.DirFS(filepath.Join(root, name))); err != nil {
				t.Fatal(err)
			}
		}
		b, err := os.ReadFile(filepath.Join(root, "labs.hcl"))
		if err != nil {
			t.Fatal(err)
		}
		files = map[string]string{"labs.hcl": string(b)}
	}
	for name, content := range files {
		p := filepath.Join(dir, name)
		_ = os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	d.env = append(os.Environ(),
		"HOME="+dir,
		"KUBECONFIG="+filepath.Join(dir, ".kube", "config"),
		"NO_COLOR=1",
		"LAB_BIN_DIR="+binDir,
		"PATH="+binDir+string(os.PathListSeparator)+os.Getenv("PATH"),
		"LAB_VAR_runtime=simulated",
	)
	t.Cleanup(d.stopAll)
	return d
}

func (d *labDir) path(elem ...string) string {
	return filepath.Join(append([]string{d.dir}, elem...)...)
}

func (d *labDir) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.Dir = d.dir
	cmd.Env = d.env
	// Its own group, so the test can stop what lab left behind (a helm
	// worker outlives a lab killed with SIGKILL) without touching others.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	return cmd
}

// run runs lab to the end, within five minutes.
func (d *labDir) run(args ...string) (stdout, stderr string, code int) {
	d.t.Helper()
	return d.runProg(d.lab, args...)
}

func (d *labDir) kubectl(args ...string) (stdout, stderr string, code int) {
	d.t.Helper()
	return d.runProg(d.kctl, append([]string{"--context", "kind-kind"}, args...)...)
}

func (d *labDir) runProg(prog string, args ...string) (string, string, int) {
	d.t.Helper()
	cmd := d.command(prog, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		d.t.Fatalf("start %s: %v", prog, err)
	}
	d.track(cmd)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(5 * time.Minute):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		d.t.Fatalf("%s %s did not end within 5 minutes\nstdout:\n%s\nstderr:\n%s", filepath.Base(prog), strings.Join(args, " "), out.String(), errb.String())
	}
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			code = 128 + int(ws.Signal())
		}
	} else if err != nil {
		d.t.Fatalf("%s: %v", prog, err)
	}
	return out.String(), errb.String(), code
}

// mustRun runs lab and fails the test unless it exits with want.
func (d *labDir) mustRun(want int, args ...string) (string, string) {
	d.t.Helper()
	out, errOut, code := d.run(args...)
	if code != want {
		d.t.Fatalf("lab %s exited %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, want, out, errOut)
	}
	return out, errOut
}

func (d *labDir) track(cmd *exec.Cmd) {
	d.mu.Lock()
	d.cmds = append(d.cmds, cmd)
	d.mu.Unlock()
}

// event is one line of lab's -o json event stream.
type event struct {
	Type    string `json:"type"`
	Addr    string `json:"addr"`
	Message string `json:"message"`
	Error   string `json:"error"`
}

func (e event) String() string {
	return strings.TrimSpace(fmt.Sprintf("%s %s %s%s", e.Type, e.Addr, e.Message, e.Error))
}

// running is a lab process whose event stream the test reads.
type running struct {
	cmd    *exec.Cmd
	events chan event
	stdout *syncBuffer
	stderr *syncBuffer
	done   chan struct{}
	err    error
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// start starts lab with -o json and streams its events (on stderr).
func (d *labDir) start(args ...string) *running {
	d.t.Helper()
	return d.startOutput(true, args...)
}

// startText starts lab with text output; each line of it is an event of
// type "line" whose Message is the line.
func (d *labDir) startText(args ...string) *running {
	d.t.Helper()
	return d.startOutput(false, args...)
}

func (d *labDir) startOutput(jsonOut bool, args ...string) *running {
	d.t.Helper()
	if jsonOut {
		args = append(args, "-o", "json")
	}
	cmd := d.command(d.lab, args...)
	r := &running{cmd: cmd, events: make(chan event, 1000), stdout: &syncBuffer{}, stderr: &syncBuffer{}, done: make(chan struct{})}
	// Text goes to stdout; with -o json the events go to stderr, one a
	// line, and stdout keeps only the final document.
	pipe, keep := cmd.StdoutPipe, r.stdout
	cmd.Stderr = r.stderr
	if jsonOut {
		pipe, keep = cmd.StderrPipe, r.stderr
		cmd.Stderr, cmd.Stdout = nil, r.stdout
	}
	out, err := pipe()
	if err != nil {
		d.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		d.t.Fatalf("start lab: %v", err)
	}
	d.track(cmd)
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			keep.Write(append(sc.Bytes(), '\n'))
			var e event
			if !jsonOut {
				e = event{Type: "line", Message: sc.Text()}
			} else if json.Unmarshal(sc.Bytes(), &e) != nil {
				continue
			}
			if e.Type != "" {
				select {
				case r.events <- e:
				default: // nobody reads any more; stdout keeps the line
				}
			}
		}
		close(r.events)
		r.err = cmd.Wait()
		close(r.done)
	}()
	return r
}

// until reads events until one matches, within five minutes; it returns
// the events seen and whether one matched before lab ended.
func (r *running) until(match func(event) bool) ([]event, bool) {
	var seen []event
	timeout := time.After(5 * time.Minute)
	for {
		select {
		case e, ok := <-r.events:
			if !ok {
				return seen, false
			}
			seen = append(seen, e)
			if match(e) {
				return seen, true
			}
		case <-timeout:
			return seen, false
		}
	}
}

// wait waits for lab to end and returns its exit code (128+signal when
// a signal ended it).
func (r *running) wait(t *testing.T) int {
	t.Helper()
	for range r.events {
	}
	select {
	case <-r.done:
	case <-time.After(5 * time.Minute):
		t.Fatalf("lab did not end within 5 minutes after the events ended; stderr:\n%s", r.stderr.String())
	}
	var ee *exec.ExitError
	if errors.As(r.err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return ee.ExitCode()
	}
	return 0
}

// recordPIDs notes the cluster processes now recorded in PID files, so
// assertGone can check each of them by PID.
func (d *labDir) recordPIDs() {
	files, _ := filepath.Glob(d.path(".lab", "clusters", "*", "run", "*.pid"))
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, f := range files {
		b, _ := os.ReadFile(f)
		if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 1 {
			d.pids[pid] = true
		}
	}
}

// ourProcess reports whether pid is alive and was started for this lab
// directory (a PID may be reused once its process ended).
func (d *labDir) ourProcess(pid int) bool {
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return false
	}
	stat, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if i := bytes.LastIndexByte(stat, ')'); i > 0 && bytes.HasPrefix(bytes.TrimSpace(stat[i+1:]), []byte("Z")) {
		return false // a zombie has ended
	}
	return bytes.Contains(cmdline, []byte(d.dir))
}

// alivePIDs lists recorded cluster processes still running.
func (d *labDir) alivePIDs() []int {
	d.recordPIDs()
	d.mu.Lock()
	defer d.mu.Unlock()
	var alive []int
	for pid := range d.pids {
		if d.ourProcess(pid) {
			alive = append(alive, pid)
		}
	}
	slices.Sort(alive)
	return alive
}

// assertState checks the state file parses (or is absent) and returns it.
func (d *labDir) assertState() *state.State {
	d.t.Helper()
	st, err := state.Load(d.path(".lab", state.FileName))
	if err != nil {
		d.t.Fatalf("state is not valid: %v", err)
	}
	return st
}

// assertGone checks lab left nothing: no cluster process (by recorded
// PID), no kubeconfig context, no cluster directory, no resource in state.
func (d *labDir) assertGone() {
	d.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	alive := d.alivePIDs()
	for len(alive) > 0 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
		alive = d.alivePIDs()
	}
	if len(alive) > 0 {
		d.t.Errorf("cluster processes still running after lab down: PIDs %v", alive)
	}
	if b, err := os.ReadFile(d.path(".kube", "config")); err == nil && strings.Contains(string(b), "kind-kind") {
		d.t.Errorf("kubeconfig still has the kind-kind context:\n%s", b)
	}
	if _, err := os.Stat(d.path(".lab", "clusters", "kind")); err == nil {
		d.t.Errorf("cluster directory %s still exists", d.path(".lab", "clusters", "kind"))
	}
	if st := d.assertState(); len(st.Resources) > 0 {
		d.t.Errorf("state still holds %d resource(s) after lab down", len(st.Resources))
	}
}

// stopAll stops what the test left: lab processes by group, and cluster
// processes by recorded PID (only those started for this directory).
func (d *labDir) stopAll() {
	d.mu.Lock()
	cmds := slices.Clone(d.cmds)
	d.mu.Unlock()
	for _, c := range cmds {
		if c.Process != nil {
			_ = syscall.Kill(-c.Process.Pid, syscall.SIGKILL)
		}
	}
	for _, pid := range d.alivePIDs() {
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
}
