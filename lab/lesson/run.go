package lesson

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"time"
)

// Defaults of Options.
const (
	DefaultTimeout     = 30 * time.Second
	DefaultOutputLimit = 1 << 20
)

// Options control Run.
type Options struct {
	// Bash is the shell; "" finds bash on PATH.
	Bash string
	// Dir is where the commands run.
	Dir string
	// Env is the commands' environment (KUBECONFIG pointing at the lab's
	// cluster, PATH, ...).
	Env []string
	// Timeout is each command's limit unless a timeout= mark says
	// otherwise; 0 means DefaultTimeout.
	Timeout time.Duration
	// OutputLimit is how much of a command's output is kept; 0 means
	// DefaultOutputLimit.
	OutputLimit int
	// Lab proves the lab block a lesson ends with (verify=NAME); nil
	// reports such a lesson as one that cannot run here.
	Lab func(ctx context.Context, name string) LabResult
	// OnStep, when set, is called as each step ends, for progress.
	OnStep func(*Result, StepResult)
}

// Status is a step's outcome.
type Status string

const (
	Passed  Status = "passed"
	Failed  Status = "failed"
	Ignored Status = "ignored" // ran, not compared (ignore mark)
	Skipped Status = "skipped" // not run (skip mark)
	NotRun  Status = "not_run" // the shell was stopped before it
)

// StepResult is what one command did against what the lesson shows.
type StepResult struct {
	File    string `json:"file"`
	Line    int    `json:"line"`
	Form    Form   `json:"form"`
	Command string `json:"command"`
	Status  Status `json:"status"`
	Mode    Mode   `json:"mode,omitempty"`
	Marks   Marks  `json:"marks,omitzero"`
	// Exit is the command's exit status.
	Exit     int    `json:"exit"`
	TimedOut bool   `json:"timed_out,omitempty"`
	Expected string `json:"expected,omitempty"`
	Actual   string `json:"actual,omitempty"`
	// Printed is how many bytes the command printed; Actual holds at most
	// OutputLimit of them.
	Printed   int64    `json:"printed"`
	Truncated bool     `json:"truncated,omitempty"`
	Problems  []string `json:"problems,omitempty"`
	Diff      string   `json:"diff,omitempty"`
	// Reason says why a step failed, was skipped or did not run.
	Reason   string        `json:"reason,omitempty"`
	Duration time.Duration `json:"duration_ns"`
}

// Where is the step's place: lesson.md:LINE.
func (s StepResult) Where() string { return fmt.Sprintf("%s:%d", s.File, s.Line) }

// LabResult is the outcome of proving the lab a lesson ends with.
type LabResult struct {
	Name   string `json:"name"`
	Line   int    `json:"line"`
	Status Status `json:"status"`
	// Error says the lab could not be proven here (no such lab, no
	// solution, not a fresh environment, cluster unreachable).
	Error string `json:"error,omitempty"`
	// Summary is one line; Detail the checks' report.
	Summary  string        `json:"summary,omitempty"`
	Detail   string        `json:"detail,omitempty"`
	Duration time.Duration `json:"duration_ns"`
}

// Result is one lesson's run.
type Result struct {
	File    string       `json:"file"`
	Steps   []StepResult `json:"steps"`
	Lab     *LabResult   `json:"lab,omitempty"`
	Passed  int          `json:"passed"`
	Failed  int          `json:"failed"`
	Skipped int          `json:"skipped"`
	NotRun  int          `json:"not_run"`
	// Error says the lesson could not run at all.
	Error    string        `json:"error,omitempty"`
	Duration time.Duration `json:"duration_ns"`
}

// Run runs every command of l in one shell, in order, and compares each
// output with the lesson's. The shell and every process it started are
// gone when Run returns.
func Run(ctx context.Context, l *Lesson, opts Options) *Result {
	began := time.Now()
	res := &Result{File: l.Path}
	defer func() { res.Duration = time.Since(began) }()
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.OutputLimit <= 0 {
		opts.OutputLimit = DefaultOutputLimit
	}
	if l.Lab != "" && opts.Lab == nil {
		res.Error = fmt.Sprintf("%s:%d: the lesson ends with lab %s, which cannot be proven here", l.Path, l.LabLine, l.Lab)
		return res
	}
	bash := opts.Bash
	if bash == "" {
		p, err := exec.LookPath("bash")
		if err != nil {
			res.Error = "lab doc test runs a lesson's commands with bash, and there is no bash on PATH; install bash"
			return res
		}
		bash = p
	}
	var sh *shell
	if len(l.Steps) > 0 {
		var err error
		sh, err = startShell(bash, opts.Dir, opts.Env, opts.OutputLimit)
		if err != nil {
			res.Error = err.Error()
			return res
		}
		defer sh.stop()
	}
	stopped := "" // why the shell is gone, once it is
	for _, st := range l.Steps {
		sr := StepResult{File: l.Path, Line: st.Line, Form: st.Form, Command: st.Command, Marks: st.Marks}
		if st.Expected != nil {
			sr.Expected = st.Expected.Text
		}
		switch {
		case stopped != "":
			sr.Status, sr.Reason = NotRun, stopped
		case st.Marks.Skip:
			sr.Status, sr.Reason = Skipped, "marked skip"
		default:
			stopped = runStep(ctx, sh, st, &sr, opts)
		}
		res.add(sr)
		if opts.OnStep != nil {
			opts.OnStep(res, sr)
		}
	}
	if l.Lab != "" {
		lr := LabResult{Name: l.Lab, Line: l.LabLine}
		if stopped != "" {
			lr.Status, lr.Summary = NotRun, "not run: "+stopped
		} else {
			t := time.Now()
			lr = opts.Lab(ctx, l.Lab)
			lr.Name, lr.Line, lr.Duration = l.Lab, l.LabLine, time.Since(t)
		}
		res.Lab = &lr
	}
	if ctx.Err() != nil && res.Error == "" {
		res.Error = "interrupted"
	}
	return res
}

func (r *Result) add(sr StepResult) {
	r.Steps = append(r.Steps, sr)
	switch sr.Status {
	case Passed:
		r.Passed++
	case Failed:
		r.Failed++
	case Skipped, Ignored:
		r.Skipped++
	case NotRun:
		r.NotRun++
	}
}

// runStep runs one command and judges it. It returns why the shell is
// gone when it is (a timeout, an exit, an interruption), else "".
func runStep(ctx context.Context, sh *shell, st *Step, sr *StepResult, opts Options) string {
	timeout := opts.Timeout
	if st.Marks.Timeout > 0 {
		timeout = st.Marks.Timeout
	}
	ex, err := sh.run(ctx, st.Command, timeout)
	sr.Exit, sr.Duration, sr.Printed = ex.Status, ex.Duration, ex.Total
	sr.Actual = string(ex.Output)
	sr.Truncated = ex.Total > int64(len(ex.Output))
	where := fmt.Sprintf("%s:%d", sr.File, sr.Line)
	switch {
	case errors.Is(err, errTimeout):
		sr.Status, sr.TimedOut = Failed, true
		sr.Reason = fmt.Sprintf("did not finish within %s, so lab stopped the shell and every process it started (more time: <!-- lab: timeout=2m --> before the command)", timeout)
		return fmt.Sprintf("the shell was stopped when the command at %s timed out", where)
	case errors.Is(err, errShellGone):
		sr.Status = Failed
		sr.Reason = fmt.Sprintf("the shell exited (status %d) during this command (an exit, or exec); the commands after it could not run", ex.Status)
		return fmt.Sprintf("the shell exited during the command at %s", where)
	case err != nil:
		sr.Status, sr.Reason = NotRun, "interrupted"
		return "interrupted"
	}
	switch {
	case st.Marks.Ignore:
		sr.Status, sr.Reason = Ignored, "marked ignore: ran, not compared"
	case st.Expected == nil:
		sr.Mode = StatusMode
		if ex.Status != 0 {
			sr.Status = Failed
			sr.Reason = fmt.Sprintf("exited %d; a command the lesson shows no output for must succeed (mark it <!-- lab: ignore --> if it may fail)", ex.Status)
		} else {
			sr.Status = Passed
		}
	default:
		c := compare(st, sr.Actual)
		sr.Mode, sr.Problems, sr.Diff = c.mode, c.problems, c.diff
		sr.Status = Passed
		if !c.ok() {
			sr.Status = Failed
			sr.Reason = "the output differs from the lesson's"
			if sr.Truncated {
				sr.Reason += fmt.Sprintf(" (it printed %s; lab kept the first %s)", size(sr.Printed), size(int64(opts.OutputLimit)))
			}
		}
	}
	return ""
}

func size(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}

// Report is the run of one or more lessons.
type Report struct {
	Lessons []*Result `json:"lessons"`
	// Problems are lessons that could not be read (parse errors).
	Problems []Problem `json:"problems,omitempty"`
}

// ExitCode is what `lab doc test` exits with: 0 every output matched,
// 1 an output differs (or a command failed, or the lab's checks failed),
// 2 a lesson could not run.
func (r *Report) ExitCode() int {
	code := 0
	if len(r.Problems) > 0 {
		return 2
	}
	for _, l := range r.Lessons {
		if l.Error != "" || (l.Lab != nil && l.Lab.Error != "") {
			return 2
		}
		if l.Failed > 0 || (l.Lab != nil && l.Lab.Status == Failed) {
			code = 1
		}
	}
	return code
}

// Differing counts the steps whose output differed from the lesson's,
// which --update can write into it; only is false when anything else
// failed too (a command, a timeout, the lab's checks).
func (r *Report) Differing() (n int, only bool) {
	for _, l := range r.Lessons {
		if l.Lab != nil && l.Lab.Status != Passed {
			return n, false
		}
		for _, s := range l.Steps {
			if s.Status == Failed {
				if len(s.Problems) == 0 {
					return n, false
				}
				n++
			}
		}
	}
	return n, true
}

// Counts adds up the lessons' steps (and labs).
func (r *Report) Counts() (passed, failed, skipped, notRun int) {
	for _, l := range r.Lessons {
		passed += l.Passed
		failed += l.Failed
		skipped += l.Skipped
		notRun += l.NotRun
		if l.Lab != nil {
			switch {
			case l.Lab.Error != "":
				failed++
			case l.Lab.Status == Passed:
				passed++
			case l.Lab.Status == Failed:
				failed++
			case l.Lab.Status == NotRun:
				notRun++
			}
		}
	}
	return
}

// Summary is the last line of the text report.
func (r *Report) Summary() string {
	p, f, s, n := r.Counts()
	out := fmt.Sprintf("%d passed, %d failed", p, f)
	var extra []string
	if s > 0 {
		extra = append(extra, fmt.Sprintf("%d skipped", s))
	}
	if n > 0 {
		extra = append(extra, fmt.Sprintf("%d not run", n))
	}
	if len(extra) > 0 {
		out += ", " + strings.Join(extra, ", ")
	}
	return out
}
