package lesson

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func runLesson(t *testing.T, src string, opts Options) *Result {
	t.Helper()
	l, err := Parse("l.md", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if opts.Dir == "" {
		opts.Dir = t.TempDir()
	}
	if opts.Env == nil {
		opts.Env = os.Environ()
	}
	return Run(context.Background(), l, opts)
}

func fence(cmd, out string) string {
	s := "```bash\n" + cmd + "\n```\n"
	if out != "-" {
		s += "{{< output >}}\n" + out + "{{< /output >}}\n"
	}
	return s + "\n"
}

func statuses(r *Result) string {
	var s []string
	for _, st := range r.Steps {
		s = append(s, string(st.Status))
	}
	return strings.Join(s, " ")
}

func TestOneShellForTheLesson(t *testing.T) {
	src := fence("greeting=hello\nf() { echo \"$1 from a function\"; }", "-") +
		fence("echo $greeting; f lab", "hello\nlab from a function\n") +
		"$ cd /tmp && pwd\n/tmp\n$ pwd\n/tmp\n\n" +
		fence("echo to stderr >&2; echo to stdout", "to stderr\nto stdout\n") +
		fence("printf 'no newline'", "no newline\n") +
		fence("false", "") +
		fence("read -r x; echo \"read [$x] status $?\"", "read [] status 1\n") +
		fence("cat <&3", "-")
	r := runLesson(t, src, Options{})
	if got, want := statuses(r), "passed passed passed passed passed passed passed passed failed"; got != want {
		for _, st := range r.Steps {
			t.Logf("%s: %s %q %q %s", st.Where(), st.Status, st.Actual, st.Problems, st.Reason)
		}
		t.Fatalf("statuses %s, want %s", got, want)
	}
	if r.Steps[6].Exit != 1 {
		t.Errorf("false exited %d", r.Steps[6].Exit)
	}
	// The command cannot read the script the shell is fed on.
	if last := r.Steps[8]; !strings.Contains(last.Actual, "Bad file descriptor") || last.Exit == 0 {
		t.Errorf("cat <&3: exit %d, %q", last.Exit, last.Actual)
	}
}

func TestTimeoutStopsTheShellAndItsProcesses(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "pid")
	src := fence("sleep 300 & echo $! > pid", "-") +
		"<!-- lab: timeout=300ms -->\n" + fence("sleep 300", "") +
		fence("echo after", "after\n")
	began := time.Now()
	r := runLesson(t, src, Options{Dir: dir})
	if took := time.Since(began); took > 20*time.Second {
		t.Errorf("took %s", took)
	}
	if got := statuses(r); got != "passed failed not_run" {
		t.Fatalf("statuses %s", got)
	}
	hung := r.Steps[1]
	if !hung.TimedOut || !strings.Contains(hung.Reason, "did not finish within 300ms") {
		t.Errorf("%+v", hung)
	}
	if !strings.Contains(r.Steps[2].Reason, "the shell was stopped when the command at l.md:") {
		t.Errorf("not run: %q", r.Steps[2].Reason)
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	// The background sleep was in the shell's process group: it is gone
	// (a zombie at most, until init reaps it).
	deadline := time.Now().Add(5 * time.Second)
	for alive(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("background process %d outlived the lesson", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// alive reports whether pid runs (and is not a zombie).
func alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	fields := strings.Fields(string(b)[strings.LastIndexByte(string(b), ')')+1:])
	return len(fields) > 0 && fields[0] != "Z"
}

func TestBackgroundJobsEndWithTheLesson(t *testing.T) {
	dir := t.TempDir()
	r := runLesson(t, fence("sleep 300 & echo $! > pid", "-"), Options{Dir: dir})
	if statuses(r) != "passed" {
		t.Fatal(statuses(r))
	}
	b, _ := os.ReadFile(filepath.Join(dir, "pid"))
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	deadline := time.Now().Add(5 * time.Second)
	for alive(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("background process %d outlived the lesson", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestOutputIsCapped(t *testing.T) {
	src := fence("head -c 3000000 /dev/zero | tr '\\0' y", "y\n") + fence("echo still here", "still here\n")
	r := runLesson(t, src, Options{OutputLimit: 64 << 10})
	big := r.Steps[0]
	if big.Status != Failed || !big.Truncated || big.Printed != 3000000 || len(big.Actual) != 64<<10 {
		t.Fatalf("status %s truncated %v printed %d kept %d", big.Status, big.Truncated, big.Printed, len(big.Actual))
	}
	if !strings.Contains(big.Reason, "it printed 2.9 MiB; lab kept the first 64.0 KiB") {
		t.Errorf("reason %q", big.Reason)
	}
	if r.Steps[1].Status != Passed {
		t.Errorf("the next command: %+v", r.Steps[1])
	}
}

func TestExitEndsTheShell(t *testing.T) {
	r := runLesson(t, fence("echo bye; exit 3", "bye\n")+fence("echo never", "never\n"), Options{})
	if got := statuses(r); got != "failed not_run" {
		t.Fatalf("statuses %s", got)
	}
	if s := r.Steps[0]; s.Exit != 3 || s.Actual != "bye\n" || !strings.Contains(s.Reason, "the shell exited (status 3)") {
		t.Errorf("%+v", s)
	}
}

func TestMarks(t *testing.T) {
	src := "<!-- lab: skip -->\n" + fence("touch skipped", "-") +
		"<!-- lab: ignore -->\n" + fence("echo anything; exit_code_ignored() { return 4; }; exit_code_ignored", "something else\n") +
		fence("test ! -e skipped && echo fine", "fine\n")
	r := runLesson(t, src, Options{})
	if got := statuses(r); got != "skipped ignored passed" {
		t.Fatalf("statuses %s", got)
	}
	if r.Passed != 1 || r.Skipped != 2 || r.Failed != 0 {
		t.Errorf("counts %+v", r)
	}
}

func TestLessonEndingWithALab(t *testing.T) {
	src := fence("echo hi", "hi\n") + "<!-- lab: verify=deploy-fleet -->\n"
	l, err := Parse("l.md", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	r := Run(context.Background(), l, Options{Dir: t.TempDir(), Env: os.Environ()})
	if !strings.Contains(r.Error, "l.md:8: the lesson ends with lab deploy-fleet, which cannot be proven here") {
		t.Errorf("without a prover: %q", r.Error)
	}
	called := ""
	r = Run(context.Background(), l, Options{Dir: t.TempDir(), Env: os.Environ(), Lab: func(_ context.Context, name string) LabResult {
		called = name
		return LabResult{Status: Failed, Summary: "checks fail on the reference solution"}
	}})
	if called != "deploy-fleet" || r.Lab == nil || r.Lab.Line != 8 || r.Lab.Status != Failed {
		t.Fatalf("lab %+v, called %q", r.Lab, called)
	}
	if rep := (&Report{Lessons: []*Result{r}}); rep.ExitCode() != 1 || rep.Summary() != "1 passed, 1 failed" {
		t.Errorf("exit %d, %s", rep.ExitCode(), rep.Summary())
	}
}

func TestInterrupted(t *testing.T) {
	l, err := Parse("l.md", []byte(fence("sleep 300", "")+fence("echo x", "x\n")))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(200*time.Millisecond, cancel)
	r := Run(ctx, l, Options{Dir: t.TempDir(), Env: os.Environ()})
	if got := statuses(r); got != "not_run not_run" || r.Error != "interrupted" {
		t.Fatalf("statuses %s, error %q", got, r.Error)
	}
}

func TestDiffering(t *testing.T) {
	differs := StepResult{Status: Failed, Problems: []string{"line 1 differs"}}
	for _, tc := range []struct {
		name string
		r    Report
		n    int
		only bool
	}{
		{"all passed", Report{Lessons: []*Result{{Steps: []StepResult{{Status: Passed}}}}}, 0, true},
		{"outputs differ", Report{Lessons: []*Result{{Steps: []StepResult{differs, {Status: Passed}, differs}}}}, 2, true},
		{"a command failed", Report{Lessons: []*Result{{Steps: []StepResult{differs, {Status: Failed}}}}}, 1, false},
		{"the lab failed", Report{Lessons: []*Result{{Steps: []StepResult{differs}, Lab: &LabResult{Status: Failed}}}}, 0, false},
	} {
		if n, only := tc.r.Differing(); n != tc.n || only != tc.only {
			t.Errorf("%s: Differing() = %d, %v; want %d, %v", tc.name, n, only, tc.n, tc.only)
		}
	}
}
