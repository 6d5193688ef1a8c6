package report

import (
	"encoding/xml"
	"fmt"
	"io"
	"strings"
	"time"

	"labs.dev/lab/lab/ui/ansi"
	"labs.dev/lab/lab/verify"
)

// junitSuites is the root of a JUnit XML report.
type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

// junitSuite is one lab.
type junitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Errors   int         `xml:"errors,attr"`
	Time     string      `xml:"time,attr"`
	Cases    []junitCase `xml:"testcase"`
}

// junitCase is one check.
type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitProblem `xml:"failure,omitempty"`
	Error     *junitProblem `xml:"error,omitempty"`
}

// junitProblem is a failed check, or one that could not run.
type junitProblem struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

// JUnit renders r as JUnit XML: a testsuite per lab, a testcase per
// check.
func JUnit(w io.Writer, r *verify.Result) error {
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
			case verify.Failed:
				js.Failures++
				var b strings.Builder
				for _, f := range c.Failures {
					Failure(&b, f, ansi.Style{})
				}
				msg := ""
				if len(c.Failures) > 0 {
					msg = c.Failures[0].Message
				}
				jc.Failure = &junitProblem{Message: msg, Type: "CheckFailed", Text: b.String()}
			case verify.Errored:
				js.Errors++
				jc.Error = &junitProblem{Message: errText(c.Err), Type: "CouldNotCheck", Text: errText(c.Err)}
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
