package lesson

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"strings"
	"time"

	"labs.dev/lab/lab/ui/ansi"
)

// WriteStep renders one step for a person: failures always, with what
// differs and the diff; passes and skips only when verbose.
func WriteStep(w io.Writer, sr StepResult, st ansi.Style, verbose bool) {
	head := func(mark string) {
		fmt.Fprintf(w, "%s %s  %s\n", mark, sr.Where(), shortCommand(sr.Command))
	}
	switch sr.Status {
	case Passed:
		if verbose {
			head(st.Green("✓"))
		}
		return
	case Skipped, Ignored, NotRun:
		if verbose || sr.Status == NotRun {
			head(st.Yellow("-"))
			fmt.Fprintf(w, "    %s\n", sr.Reason)
		}
		return
	}
	head(st.Red("✗"))
	fmt.Fprintf(w, "    %s\n", sr.Reason)
	for _, p := range sr.Problems {
		fmt.Fprintf(w, "    %s\n", p)
	}
	if sr.Diff != "" {
		for _, l := range strings.Split(sr.Diff, "\n") {
			switch {
			case strings.HasPrefix(l, "---"), strings.HasPrefix(l, "+++"):
				l = st.Bold(l)
			case strings.HasPrefix(l, "-"):
				l = st.Red(l)
			case strings.HasPrefix(l, "+"):
				l = st.Green(l)
			}
			fmt.Fprintf(w, "      %s\n", l)
		}
	} else if sr.Mode == StatusMode || sr.TimedOut || sr.Expected == "" {
		if out := strings.TrimRight(sr.Actual, "\n"); out != "" {
			fmt.Fprintf(w, "    it printed:\n")
			lines := strings.Split(out, "\n")
			for i, l := range lines {
				if i == 20 {
					fmt.Fprintf(w, "      … %d more lines\n", len(lines)-i)
					break
				}
				fmt.Fprintf(w, "      %s\n", clip(visible(l)))
			}
		}
	}
}

// WriteLab renders the proof of the lab a lesson ends with.
func WriteLab(w io.Writer, file string, lr *LabResult, st ansi.Style) {
	where := fmt.Sprintf("%s:%d", file, lr.Line)
	switch {
	case lr.Error != "":
		fmt.Fprintf(w, "%s %s  lab %s: could not prove it: %s\n", st.Red("✗"), where, lr.Name, lr.Error)
	case lr.Status == Passed:
		fmt.Fprintf(w, "%s %s  lab %s: %s\n", st.Green("✓"), where, lr.Name, lr.Summary)
	case lr.Status == NotRun:
		fmt.Fprintf(w, "%s %s  lab %s: %s\n", st.Yellow("-"), where, lr.Name, lr.Summary)
	default:
		fmt.Fprintf(w, "%s %s  lab %s: %s\n", st.Red("✗"), where, lr.Name, lr.Summary)
	}
	if lr.Detail != "" && lr.Status != Passed {
		for _, l := range strings.Split(strings.TrimRight(lr.Detail, "\n"), "\n") {
			fmt.Fprintf(w, "    %s\n", l)
		}
	}
}

// WriteLessonEnd closes one lesson's text report.
func WriteLessonEnd(w io.Writer, r *Result, st ansi.Style) {
	if r.Lab != nil {
		WriteLab(w, r.File, r.Lab, st)
	}
	if r.Error != "" {
		fmt.Fprintf(w, "%s %s: could not run: %s\n", st.Red("✗"), r.File, r.Error)
		return
	}
	line := fmt.Sprintf("%s: %d command(s): %d passed, %d failed", r.File, len(r.Steps), r.Passed, r.Failed)
	if r.Skipped > 0 {
		line += fmt.Sprintf(", %d skipped", r.Skipped)
	}
	if r.NotRun > 0 {
		line += fmt.Sprintf(", %d not run", r.NotRun)
	}
	fmt.Fprintf(w, "%s (%.1fs)\n", line, r.Duration.Seconds())
}

// WriteText renders the whole report: each lesson's failing steps (every
// step when verbose), its lab, a line per lesson, and Summary last.
func (r *Report) WriteText(w io.Writer, st ansi.Style, verbose bool) {
	for _, p := range r.Problems {
		fmt.Fprintln(w, p.String())
	}
	if len(r.Problems) > 0 && len(r.Lessons) == 0 {
		return // nothing ran
	}
	for _, l := range r.Lessons {
		for _, sr := range l.Steps {
			WriteStep(w, sr, st, verbose)
		}
		WriteLessonEnd(w, l, st)
	}
	fmt.Fprintln(w, r.Summary())
}

// shortCommand is a command's first line, cut to fit a line.
func shortCommand(c string) string {
	first, rest, multi := strings.Cut(strings.TrimSpace(c), "\n")
	first = visible(first)
	if r := []rune(first); len(r) > 72 {
		first = string(r[:72]) + " …"
	} else if multi && strings.TrimSpace(rest) != "" {
		first += " …"
	}
	return first
}

// WriteJSON writes the report as one JSON document.
func (r *Report) WriteJSON(w io.Writer) error {
	p, f, s, n := r.Counts()
	doc := struct {
		*Report
		Passed   int `json:"passed"`
		Failed   int `json:"failed"`
		Skipped  int `json:"skipped"`
		NotRun   int `json:"not_run"`
		ExitCode int `json:"exit_code"`
	}{r, p, f, s, n, r.ExitCode()}
	if doc.Lessons == nil {
		doc.Lessons = []*Result{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Skipped  int          `xml:"skipped,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Errors   int         `xml:"errors,attr"`
	Skipped  int         `xml:"skipped,attr"`
	Time     string      `xml:"time,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitProblem `xml:"failure,omitempty"`
	Error     *junitProblem `xml:"error,omitempty"`
	Skipped   *junitSkip    `xml:"skipped,omitempty"`
}

type junitProblem struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

type junitSkip struct {
	Message string `xml:"message,attr"`
}

// WriteJUnit writes the report as JUnit XML: a testsuite per lesson, a
// testcase per command (and one for the lab it ends with).
func (r *Report) WriteJUnit(w io.Writer) error {
	secs := func(d time.Duration) string { return fmt.Sprintf("%.3f", d.Seconds()) }
	s := junitSuites{Name: "lab doc test"}
	var total time.Duration
	if len(r.Problems) > 0 {
		js := junitSuite{Name: "lessons", Time: "0.000"}
		for _, p := range r.Problems {
			js.Tests++
			js.Errors++
			js.Cases = append(js.Cases, junitCase{Name: p.String(), Classname: p.File, Time: "0.000",
				Error: &junitProblem{Message: p.Message, Type: "CouldNotRead", Text: p.String()}})
		}
		s.add(js)
	}
	for _, l := range r.Lessons {
		total += l.Duration
		js := junitSuite{Name: l.File, Time: secs(l.Duration)}
		if l.Error != "" {
			js.Tests++
			js.Errors++
			js.Cases = append(js.Cases, junitCase{Name: l.File, Classname: l.File, Time: "0.000",
				Error: &junitProblem{Message: l.Error, Type: "CouldNotRun", Text: l.Error}})
		}
		for _, sr := range l.Steps {
			jc := junitCase{Name: sr.Where() + " " + shortCommand(sr.Command), Classname: l.File, Time: secs(sr.Duration)}
			js.Tests++
			switch sr.Status {
			case Failed:
				js.Failures++
				var b strings.Builder
				WriteStep(&b, sr, ansi.Style{}, false)
				jc.Failure = &junitProblem{Message: sr.Reason, Type: "OutputDiffers", Text: b.String()}
			case Skipped, Ignored, NotRun:
				js.Skipped++
				jc.Skipped = &junitSkip{Message: sr.Reason}
			}
			js.Cases = append(js.Cases, jc)
		}
		if lr := l.Lab; lr != nil {
			jc := junitCase{Name: fmt.Sprintf("%s:%d lab %s", l.File, lr.Line, lr.Name), Classname: l.File, Time: secs(lr.Duration)}
			js.Tests++
			var b strings.Builder
			WriteLab(&b, l.File, lr, ansi.Style{})
			switch {
			case lr.Error != "":
				js.Errors++
				jc.Error = &junitProblem{Message: lr.Error, Type: "CouldNotProve", Text: b.String()}
			case lr.Status == Failed:
				js.Failures++
				jc.Failure = &junitProblem{Message: lr.Summary, Type: "LabFailed", Text: b.String()}
			case lr.Status == NotRun:
				js.Skipped++
				jc.Skipped = &junitSkip{Message: lr.Summary}
			}
			js.Cases = append(js.Cases, jc)
		}
		s.add(js)
	}
	s.Time = secs(total)
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

func (s *junitSuites) add(js junitSuite) {
	s.Tests += js.Tests
	s.Failures += js.Failures
	s.Errors += js.Errors
	s.Skipped += js.Skipped
	s.Suites = append(s.Suites, js)
}
