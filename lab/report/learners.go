package report

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"unicode/utf8"

	"labs.dev/lab/lab/verify"
)

// Learners is the instructor's view of a verify result over the
// learners of labs with for_each or count: one row per learner, one
// column per check, each cell the check's outcome and its first
// failure.
type Learners struct {
	Columns []Column `json:"columns"`
	Rows    []Row    `json:"rows"`
	Passed  int      `json:"passed"`
	Failed  int      `json:"failed"`
	Errors  int      `json:"errors"`
}

// Column is one check of one lab.
type Column struct {
	Lab   string `json:"lab"`
	Check string `json:"check"`
}

// Name is how a header shows the column: the check, with its lab when
// the table holds more than one lab.
func (c Column) Name(oneLab bool) string {
	if oneLab {
		return c.Check
	}
	return c.Lab + "/" + c.Check
}

// Row is one learner.
type Row struct {
	Learner string `json:"learner"`
	Cells   []Cell `json:"cells"`
	Passed  int    `json:"passed"`
}

// Cell is one check for one learner; a check the learner's lab lacks is
// Status "".
type Cell struct {
	Status verify.Status `json:"status,omitempty"`
	// Message and Hint are the first failure's, or why the check could
	// not run; Object names what it is about.
	Message string `json:"message,omitempty"`
	Hint    string `json:"hint,omitempty"`
	Object  string `json:"object,omitempty"`
	Source  string `json:"source,omitempty"`
	// Missing says the failure is that Object does not exist.
	Missing bool `json:"missing,omitempty"`
	// Why says why the workload the check is about is not available,
	// one line a pod or cause (verify's why: lines).
	Why []string `json:"why,omitempty"`
}

// LearnerTable arranges r by learner. Labs without learners (no
// for_each or count) are left out.
func LearnerTable(r *verify.Result) *Learners {
	t := &Learners{}
	col := map[Column]int{}
	row := map[string]int{}
	for _, l := range r.Labs {
		if l.Learner == "" && l.Lab == "" {
			continue
		}
		for _, c := range l.Checks {
			k := Column{Lab: l.Lab, Check: c.Name}
			if _, ok := col[k]; !ok {
				col[k] = len(t.Columns)
				t.Columns = append(t.Columns, k)
			}
		}
		if _, ok := row[l.Learner]; !ok {
			row[l.Learner] = len(t.Rows)
			t.Rows = append(t.Rows, Row{Learner: l.Learner})
		}
	}
	for i := range t.Rows {
		t.Rows[i].Cells = make([]Cell, len(t.Columns))
	}
	for _, l := range r.Labs {
		if l.Learner == "" && l.Lab == "" {
			continue
		}
		rw := &t.Rows[row[l.Learner]]
		for _, c := range l.Checks {
			cell := Cell{Status: c.Status}
			switch c.Status {
			case verify.Passed:
				rw.Passed++
				t.Passed++
			case verify.Failed:
				t.Failed++
				if len(c.Failures) > 0 {
					f := c.Failures[0]
					cell.Message, cell.Hint, cell.Source, cell.Missing = f.Message, f.Hint, f.Source, f.Missing
					if f.Object != nil {
						cell.Object = f.Object.String()
					}
				}
				for _, f := range c.Failures {
					for _, r := range f.Why {
						cell.Why = append(cell.Why, r.String())
					}
				}
			default:
				t.Errors++
				cell.Message = "could not check: " + errText(c.Err)
			}
			rw.Cells[col[Column{Lab: l.Lab, Check: c.Name}]] = cell
		}
	}
	return t
}

func (t *Learners) oneLab() bool {
	for _, c := range t.Columns {
		if c.Lab != t.Columns[0].Lab {
			return false
		}
	}
	return true
}

// ExitCode is as verify's: 2 when a check could not run, 1 when one
// failed, else 0.
func (t *Learners) ExitCode() int {
	switch {
	case t.Errors > 0:
		return 2
	case t.Failed > 0:
		return 1
	}
	return 0
}

// maxCell bounds a failure's message in a text cell; -o json has it all.
const maxCell = 40

// Text renders the table: a ✓ or ✗ per check, the first failure's
// message beside it, and a summary line. It is not coloured: escape
// codes would throw the columns off.
func (t *Learners) Text(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	head := []string{"LEARNER"}
	for _, c := range t.Columns {
		head = append(head, strings.ToUpper(c.Name(t.oneLab())))
	}
	head = append(head, "PASSED")
	fmt.Fprintln(tw, strings.Join(head, "\t"))
	for _, r := range t.Rows {
		line := []string{r.Learner}
		for _, c := range r.Cells {
			line = append(line, cellText(c))
		}
		line = append(line, fmt.Sprintf("%d/%d", r.Passed, len(t.Columns)))
		fmt.Fprintln(tw, strings.Join(line, "\t"))
	}
	_ = tw.Flush()
	fmt.Fprintf(w, "%d learner(s): %d passed, %d failed\n", len(t.Rows), t.Passed, t.Failed+t.Errors)
}

func cellText(c Cell) string {
	switch c.Status {
	case verify.Passed:
		return "✓"
	case "":
		return "-"
	case verify.Failed:
		if c.Missing && c.Object != "" {
			return "✗ missing " + shorten(c.Object)
		}
		return "✗ " + shorten(firstLine(c.Message))
	}
	return "! " + shorten(firstLine(c.Message))
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

func shorten(s string) string {
	if utf8.RuneCountInString(s) <= maxCell {
		return s
	}
	r := []rune(s)
	return string(r[:maxCell-1]) + "…"
}

// JSON renders the table for programs.
func (t *Learners) JSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(struct {
		*Learners
		ExitCode int `json:"exit_code"`
	}{t, t.ExitCode()})
}

// JUnit renders the table as JUnit XML: a testsuite per learner, a
// testcase per check.
func (t *Learners) JUnit(w io.Writer) error {
	s := junitSuites{Name: "lab verify --all-learners"}
	for _, r := range t.Rows {
		js := junitSuite{Name: r.Learner}
		for i, c := range r.Cells {
			if c.Status == "" {
				continue
			}
			jc := junitCase{Name: t.Columns[i].Name(t.oneLab()), Classname: r.Learner, Time: "0.000"}
			js.Tests++
			switch c.Status {
			case verify.Failed:
				js.Failures++
				jc.Failure = &junitProblem{Message: c.Message, Type: "CheckFailed", Text: strings.TrimSpace(c.Object + "\n" + c.Message + "\n" + c.Hint)}
			case verify.Errored:
				js.Errors++
				jc.Error = &junitProblem{Message: c.Message, Type: "CouldNotCheck", Text: c.Message}
			}
			js.Cases = append(js.Cases, jc)
		}
		js.Time = "0.000"
		s.Tests += js.Tests
		s.Failures += js.Failures
		s.Errors += js.Errors
		s.Suites = append(s.Suites, js)
	}
	s.Time = "0.000"
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
