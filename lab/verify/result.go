package verify

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
)

// Status is a check's outcome.
type Status string

const (
	Passed  Status = "passed"
	Failed  Status = "failed"
	Errored Status = "error" // could not check: unreachable, forbidden, ...
)

// Result is the outcome of one Run.
type Result struct {
	Labs     []LabResult   `json:"labs"`
	Passed   int           `json:"passed"`
	Failed   int           `json:"failed"`
	Errors   int           `json:"errors"`
	Duration time.Duration `json:"-"`
}

// LabResult holds one lab's checks.
type LabResult struct {
	Name   string        `json:"name"`
	Title  string        `json:"title,omitempty"`
	Checks []CheckResult `json:"checks"`
}

// CheckResult is one check's outcome after its retries.
type CheckResult struct {
	Lab      string        `json:"-"`
	Name     string        `json:"name"`
	Status   Status        `json:"status"`
	Failures []Failure     `json:"failures,omitempty"`
	Error    string        `json:"error,omitempty"`
	Attempts int           `json:"attempts"`
	Duration time.Duration `json:"-"`
}

// Failure is one reason a check failed, as an instructor would say it.
type Failure struct {
	Object   *ObjectRef `json:"object,omitempty"`
	Field    string     `json:"field,omitempty"`
	Expected string     `json:"expected,omitempty"`
	Actual   string     `json:"actual,omitempty"`
	Message  string     `json:"message"`
	Hint     string     `json:"hint,omitempty"`
	// Source is where the assertion is written (labs.hcl:42).
	Source string `json:"source,omitempty"`

	missing *Selection // the selection that found nothing, if that is the failure
	// author marks a mistake in the check itself (a condition that is not
	// a bool): the learner's work cannot be judged by it.
	author bool
}

// ExitCode is what `lab verify` exits with: 0 all passed, 1 a check
// failed, 2 a check could not be evaluated.
func (r *Result) ExitCode() int {
	switch {
	case r.Errors > 0:
		return 2
	case r.Failed > 0:
		return 1
	}
	return 0
}

// Summary is the last line of the text output.
func (r *Result) Summary() string {
	return fmt.Sprintf("%d passed, %d failed", r.Passed, r.Failed+r.Errors)
}

// Paint colours text for a terminal; nil leaves it plain.
type Paint func(s, code string) string

// WriteText renders r for a person: a ✓ or ✗ line per check, under each
// failure the object, field, expected and actual value, message and
// hint; the last line is Summary.
func (r *Result) WriteText(w io.Writer, paint Paint) {
	if paint == nil {
		paint = func(s, _ string) string { return s }
	}
	for _, l := range r.Labs {
		head := l.Name
		if l.Title != "" {
			head += ": " + l.Title
		}
		fmt.Fprintln(w, paint(head, "1"))
		shown := map[ObjectRef]bool{} // missing objects already explained
		for _, c := range l.Checks {
			switch c.Status {
			case Passed:
				fmt.Fprintf(w, "  %s %s\n", paint("✓", "32"), c.Name)
			case Failed:
				fmt.Fprintf(w, "  %s %s\n", paint("✗", "31"), c.Name)
				for _, f := range c.Failures {
					if f.missing != nil && f.Object != nil {
						if shown[*f.Object] {
							fmt.Fprintf(w, "      %s is missing (see above)\n", f.Object)
							continue
						}
						shown[*f.Object] = true
					}
					writeFailure(w, f, paint)
				}
			default:
				fmt.Fprintf(w, "  %s %s: could not check: %s\n", paint("!", "33"), c.Name, c.Error)
			}
		}
	}
	fmt.Fprintln(w, r.Summary())
}

func writeFailure(w io.Writer, f Failure, paint Paint) {
	if paint == nil {
		paint = func(s, _ string) string { return s }
	}
	const ind = "      "
	what := ""
	if f.Object != nil {
		what = f.Object.String()
	}
	if f.Field != "" {
		if what != "" {
			what += ": "
		}
		what += f.Field
	}
	if what != "" {
		fmt.Fprintf(w, "    %s\n", paint(what, "1"))
	}
	if f.Expected != "" {
		fmt.Fprintf(w, "%sexpected: %s\n", ind, f.Expected)
	}
	if f.Actual != "" {
		fmt.Fprintf(w, "%sactual:   %s\n", ind, f.Actual)
	}
	for _, line := range strings.Split(f.Message, "\n") {
		fmt.Fprintf(w, "%s%s\n", ind, line)
	}
	if f.Hint != "" {
		lines := strings.Split(strings.TrimRight(f.Hint, "\n"), "\n")
		fmt.Fprintf(w, "%s%s %s\n", ind, paint("hint:", "33"), lines[0])
		for _, line := range lines[1:] {
			fmt.Fprintf(w, "%s      %s\n", ind, line)
		}
	}
}

// WriteJSON renders r for graders.
func (r *Result) WriteJSON(w io.Writer) error {
	type out struct {
		*Result
		ExitCode int     `json:"exit_code"`
		Seconds  float64 `json:"seconds"`
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out{Result: r, ExitCode: r.ExitCode(), Seconds: r.Duration.Seconds()})
}

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Errors   int         `xml:"errors,attr"`
	Time     string      `xml:"time,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitProblem `xml:"failure,omitempty"`
	Error     *junitProblem `xml:"error,omitempty"`
}

type junitProblem struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

// WriteJUnit renders r as JUnit XML: a testsuite per lab, a testcase per
// check.
func (r *Result) WriteJUnit(w io.Writer) error {
	secs := func(d time.Duration) string { return fmt.Sprintf("%.3f", d.Seconds()) }
	s := junitSuites{Name: "lab verify", Time: secs(r.Duration)}
	for _, l := range r.Labs {
		js := junitSuite{Name: l.Name}
		var total time.Duration
		for _, c := range l.Checks {
			jc := junitCase{Name: c.Name, Classname: l.Name, Time: secs(c.Duration)}
			total = max(total, c.Duration) // checks run in parallel
			js.Tests++
			switch c.Status {
			case Failed:
				js.Failures++
				var b strings.Builder
				for _, f := range c.Failures {
					writeFailure(&b, f, nil)
				}
				msg := ""
				if len(c.Failures) > 0 {
					msg = c.Failures[0].Message
				}
				jc.Failure = &junitProblem{Message: msg, Type: "CheckFailed", Text: b.String()}
			case Errored:
				js.Errors++
				jc.Error = &junitProblem{Message: c.Error, Type: "CouldNotCheck", Text: c.Error}
			}
			js.Cases = append(js.Cases, jc)
		}
		js.Time = secs(total)
		s.Tests += js.Tests
		s.Failures += js.Failures
		s.Errors += js.Errors
		s.Suites = append(s.Suites, js)
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(s); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

func shortRange(r hcl.Range) string {
	if r.Filename == "" {
		return ""
	}
	return fmt.Sprintf("%s:%d", filepath.Base(r.Filename), r.Start.Line)
}
