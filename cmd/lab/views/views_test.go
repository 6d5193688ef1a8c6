package views

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"
	"github.com/hashicorp/hcl/v2"

	"labs.dev/lab/lab/apply"
	"labs.dev/lab/lab/plan"
	"labs.dev/lab/lab/resource"
	"labs.dev/lab/lab/verify"
)

var (
	dev     = resource.Addr{Type: "namespace", Name: "dev"}
	created = &plan.Plan{Changes: []*plan.Change{{Addr: dev, Change: resource.Change{Action: resource.Create}}}}
	warning = hcl.Diagnostics{{Severity: hcl.DiagWarning, Summary: "Lab without checks"}}
	problem = hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Unknown resource type"}}
)

func env(vars ...string) func(string) string {
	return func(k string) string {
		for i := 0; i+1 < len(vars); i += 2 {
			if vars[i] == k {
				return vars[i+1]
			}
		}
		return ""
	}
}

func pick(f Format, stdout, stderr io.Writer) Views {
	return New(Options{Format: f, Getenv: env(), Stdin: strings.NewReader(""), Stdout: stdout, Stderr: stderr})
}

// oneJSON fails unless s is exactly one JSON value.
func oneJSON(t *testing.T, what, s string) {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(s))
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("%s is not JSON: %v\n%s", what, err, s)
	}
	if dec.More() {
		t.Fatalf("%s holds more than one JSON value:\n%s", what, s)
	}
}

// TestJSONKeepsStdoutForTheDocument: under -o json the plan is the one
// document on stdout; events, warnings, prompts and text-only commands
// go to stderr.
func TestJSONKeepsStdoutForTheDocument(t *testing.T) {
	var stdout, stderr bytes.Buffer
	vs := pick(JSON, &stdout, &stderr)
	vs.Diagnostics(nil, warning)
	v := vs.Plan()
	hook, finish := v.Hook(1)
	hook.PreApply(dev, resource.Create)
	hook.Progress(resource.Progress{Addr: dev, Msg: "waiting"})
	finish()
	v.Plan(created)
	v.Saved("p.plan")
	vs.Fmt().Unformatted("labs.hcl", "")
	oneJSON(t, "stdout", stdout.String())
	if !strings.Contains(stdout.String(), `"has_changes": true`) {
		t.Errorf("stdout is not the plan:\n%s", stdout.String())
	}
	lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
	if len(lines) != 4 || lines[3] != "labs.hcl" {
		t.Fatalf("stderr: want 3 events and fmt's line, got:\n%s", stderr.String())
	}
	for _, l := range lines[:3] {
		oneJSON(t, "an event", l)
	}
	if !strings.Contains(lines[0], `"type":"diagnostic","severity":"warning"`) {
		t.Errorf("the warning is not an event: %s", lines[0])
	}
}

// TestJSONErrorsAreTheDocument: diagnostics that end the command are its
// document; the same under -o junit are text on stderr, as JUnit has no
// place for them.
func TestJSONErrorsAreTheDocument(t *testing.T) {
	var stdout, stderr bytes.Buffer
	pick(JSON, &stdout, &stderr).Diagnostics(nil, problem)
	oneJSON(t, "stdout", stdout.String())
	if !strings.Contains(stdout.String(), `"summary": "Unknown resource type"`) || stderr.Len() > 0 {
		t.Errorf("stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
	}
	stdout.Reset()
	pick(JUnit, &stdout, &stderr).Diagnostics(nil, problem)
	if stdout.Len() > 0 || !strings.Contains(stderr.String(), "Error: Unknown resource type") {
		t.Errorf("junit: stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
	}
}

func TestVerifyFormats(t *testing.T) {
	res := &verify.Result{Passed: 1, Labs: []verify.LabResult{{Name: "fleet", Checks: []verify.CheckResult{{Name: "replicas", Status: verify.Passed}}}}}
	for f, want := range map[Format]string{Text: "  ✓ replicas\n", JSON: `"exit_code": 0`, JUnit: `<testcase name="replicas" classname="fleet"`} {
		var stdout, stderr bytes.Buffer
		if err := pick(f, &stdout, &stderr).Verify().Result(res); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(stdout.String(), want) || stderr.Len() > 0 {
			t.Errorf("%s: stdout:\n%s\nstderr:\n%s", f, stdout.String(), stderr.String())
		}
	}
}

// TestVerifyUnreachableSaidOnce: when no check could run because the
// cluster did not answer, the human view says so once, as an error.
func TestVerifyUnreachableSaidOnce(t *testing.T) {
	down := &verify.UnreachableError{Host: "https://127.0.0.1:1", Err: errors.New("connection refused")}
	res := &verify.Result{Errors: 2, Labs: []verify.LabResult{{Name: "fleet", Checks: []verify.CheckResult{
		{Name: "a", Status: verify.Errored, Err: down}, {Name: "b", Status: verify.Errored, Err: down}}}}}
	var stdout, stderr bytes.Buffer
	if err := pick(Text, &stdout, &stderr).Verify().Result(res); !errors.Is(err, down) || stdout.Len() > 0 {
		t.Errorf("got %v and:\n%s", err, stdout.String())
	}
	if err := pick(JSON, &stdout, &stderr).Verify().Result(res); err != nil || !strings.Contains(stdout.String(), `"exit_code": 2`) {
		t.Errorf("json: got %v and:\n%s", err, stdout.String())
	}
}

func TestApplyAsksOnStdoutAndReadsStdin(t *testing.T) {
	var stdout, stderr bytes.Buffer
	v := New(Options{Format: Text, Getenv: env(), Stdin: strings.NewReader("yes\n"), Stdout: &stdout, Stderr: &stderr}).Apply()
	if line, err := v.Ask("Do you want to perform these actions?"); err != nil || line != "yes\n" {
		t.Errorf("Ask = %q, %v", line, err)
	}
	if !strings.Contains(stdout.String(), "Only 'yes' will be accepted") {
		t.Errorf("no question on stdout: %q", stdout.String())
	}
	v.Result(&apply.Result{Done: map[resource.Action]int{resource.Create: 1}, Failed: []error{errors.New("namespace.x: create: forbidden")}}, false, false)
	if !strings.Contains(stderr.String(), "Error: namespace.x: create: forbidden") {
		t.Errorf("a failure is not on stderr: %q", stderr.String())
	}
}

// terminal is a pseudo-terminal for a view to write to, and what it got.
func terminal(t *testing.T) (*os.File, func() string) {
	t.Helper()
	ptm, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	if err := pty.Setsize(tty, &pty.Winsize{Rows: 24, Cols: 120}); err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	done := make(chan struct{})
	go func() { _, _ = io.Copy(&got, ptm); close(done) }()
	t.Cleanup(func() { ptm.Close() })
	return tty, func() string {
		tty.Close()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("the terminal did not close")
		}
		return got.String()
	}
}

// TestColourOnlyOnAColourTerminal: colour needs a terminal, text output,
// no -no-color, no NO_COLOR and a TERM other than dumb.
func TestColourOnlyOnAColourTerminal(t *testing.T) {
	rows := []ResourceStatus{{Resource: "namespace.dev", Status: "ready"}}
	for _, tc := range []struct {
		name   string
		opts   Options
		colour bool
		onTTY  bool
	}{
		{"terminal", Options{Format: Text, Getenv: env("TERM", "xterm")}, true, true},
		{"-no-color", Options{Format: Text, NoColor: true, Getenv: env("TERM", "xterm")}, false, true},
		{"NO_COLOR", Options{Format: Text, Getenv: env("TERM", "xterm", "NO_COLOR", "1")}, false, true},
		{"TERM=dumb", Options{Format: Text, Getenv: env("TERM", "dumb")}, false, true},
		{"-o json", Options{Format: JSON, Getenv: env("TERM", "xterm")}, false, true},
		{"not a terminal", Options{Format: Text, Getenv: env("TERM", "xterm")}, false, false},
	} {
		var pipe bytes.Buffer
		var out io.Writer = &pipe
		read := pipe.String
		if tc.onTTY {
			out, read = terminal(t)
		}
		tc.opts.Stdout, tc.opts.Stderr = out, out
		New(tc.opts).Status().Resources(rows)
		if got := strings.Contains(read(), "\x1b[32mready\x1b[0m"); got != tc.colour {
			t.Errorf("%s: coloured %v, want %v", tc.name, got, tc.colour)
		}
	}
}

var timestamp = regexp.MustCompile(`\d\d:\d\d:\d\d`)

// TestProgressBarOnlyOnATerminal: on a terminal an apply's lines come
// with a bar that counts resources; elsewhere they are timestamped.
func TestProgressBarOnlyOnATerminal(t *testing.T) {
	apply := func(v Apply) {
		hook, finish := v.Hook(2)
		hook.PreApply(dev, resource.Create)
		hook.PostApply(dev, resource.Create, time.Second, nil)
		finish()
	}
	var pipe bytes.Buffer
	apply(pick(Text, &pipe, &pipe).Apply())
	if !strings.HasSuffix(pipe.String(), " namespace.dev: created after 1s\n") || !timestamp.MatchString(pipe.String()) || strings.Contains(pipe.String(), "/2)") {
		t.Errorf("not a terminal: %q", pipe.String())
	}
	tty, read := terminal(t)
	apply(New(Options{Format: Text, Getenv: env("TERM", "xterm"), Stdout: tty, Stderr: tty}).Apply())
	if got := read(); !strings.Contains(got, "/2)") || !strings.Contains(got, "after 1s") || timestamp.MatchString(got) {
		t.Errorf("terminal: no bar counting resources in %q", got)
	}
}
