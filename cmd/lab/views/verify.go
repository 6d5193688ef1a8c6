package views

import (
	"errors"
	"fmt"
	"strings"

	"labs.dev/lab/lab/labtest"
	"labs.dev/lab/lab/report"
	"labs.dev/lab/lab/reset"
	"labs.dev/lab/lab/verify"
)

// Verify is lab verify's view, in text, JSON or JUnit (lab/report).
type Verify interface {
	// Result reports the checks. The human view says the one reason no
	// check could run once, as the error it returns, instead of under
	// every check.
	Result(res *verify.Result) error
	// Learners reports lab verify --all-learners: learners × checks.
	Learners(res *verify.Result) error
}

// Test is lab test's view.
type Test interface {
	// Step says what lab test does now.
	Step(msg string)
	// Lab reports one lab as soon as it is proven (or not).
	Lab(tr *labtest.Result)
	// Results ends the report.
	Results(results []*labtest.Result)
}

// Reset is lab reset's view.
type Reset interface {
	Result(res *reset.Result, dryRun bool)
}

func (h human) Verify() Verify   { return verifyHuman{h.view} }
func (m machine) Verify() Verify { return verifyJSON{m.view} }
func (j junit) Verify() Verify   { return verifyJUnit{j.view} }
func (h human) Test() Test       { return testHuman{stepper{h.view}} }
func (m machine) Test() Test     { return testJSON{stepper{m.view}} }
func (h human) Reset() Reset     { return resetHuman{h.view} }
func (m machine) Reset() Reset   { return resetJSON{m.view} }

type (
	verifyHuman struct{ v *view }
	verifyJSON  struct{ v *view }
	verifyJUnit struct{ v *view }
	testHuman   struct{ stepper }
	testJSON    struct{ stepper }
	resetHuman  struct{ v *view }
	resetJSON   struct{ v *view }
)

func (x verifyHuman) Result(res *verify.Result) error {
	v := x.v
	if err := oneError(res); err != nil {
		return err
	}
	report.Text(v.out, res, v.outStyle)
	return nil
}

func (x verifyJSON) Result(res *verify.Result) error {
	v := x.v
	_ = report.JSON(v.doc, res)
	return nil
}

func (x verifyHuman) Learners(res *verify.Result) error {
	if err := oneError(res); err != nil {
		return err
	}
	report.LearnerTable(res).Text(x.v.out)
	return nil
}

func (x verifyJSON) Learners(res *verify.Result) error {
	return report.LearnerTable(res).JSON(x.v.doc)
}

func (x verifyJUnit) Learners(res *verify.Result) error {
	return report.LearnerTable(res).JUnit(x.v.doc)
}

func (x verifyJUnit) Result(res *verify.Result) error {
	v := x.v
	_ = report.JUnit(v.doc, res)
	return nil
}

// oneError is the one reason no check could run: the cluster did not
// answer, or every check hit the same error (not allowed to read, ...).
// nil when any check could judge the work.
func oneError(r *verify.Result) error {
	errs := r.Errs()
	if len(errs) == 0 || len(errs) != r.Passed+r.Failed+r.Errors {
		return nil
	}
	var first *verify.UnreachableError
	if errors.As(errs[0], &first) {
		for _, err := range errs[1:] {
			var u *verify.UnreachableError
			if !errors.As(err, &u) {
				return nil
			}
		}
		return first
	}
	for _, err := range errs[1:] {
		if err.Error() != errs[0].Error() {
			return nil
		}
	}
	return errs[0]
}

// stepper says what lab test does now, on stderr in every format.
type stepper struct{ v *view }

func (s stepper) Step(msg string) { fmt.Fprintln(s.v.err, s.v.errStyle.Bold(msg)) }

func (x testHuman) Lab(tr *labtest.Result) {
	v := x.v
	st, w := v.outStyle, v.out
	switch {
	case tr.Err != nil:
		fmt.Fprintf(w, "%s %s: could not test: %s\n", st.Yellow("!"), tr.Lab, tr.Err)
	case tr.Broken:
		fmt.Fprintf(w, "%s %s is broken: %s\n", st.Red("✗"), tr.Lab, tr.Reason)
		if show := tr.Evidence(); show != nil {
			var b strings.Builder
			report.Text(&b, show, st)
			for _, line := range strings.Split(strings.TrimRight(b.String(), "\n"), "\n") {
				fmt.Fprintf(w, "    %s\n", line)
			}
		}
	default:
		fmt.Fprintf(w, "%s %s: fails on a fresh environment, passes with its solution\n", st.Green("✓"), tr.Lab)
		if len(tr.PassedBefore) > 0 {
			fmt.Fprintf(w, "    note: already passing before the solution: %s\n", strings.Join(tr.PassedBefore, ", "))
		}
	}
}

func (x testHuman) Results(results []*labtest.Result) {
	v := x.v
	ok := 0
	for _, tr := range results {
		if tr.OK() {
			ok++
		}
	}
	fmt.Fprintf(v.out, "%d proven, %d broken or not tested\n", ok, len(results)-ok)
}

func (testJSON) Lab(*labtest.Result)                 {}
func (x testJSON) Results(results []*labtest.Result) { x.v.writeJSON(results) }

func (x resetHuman) Result(res *reset.Result, dryRun bool) {
	v := x.v
	verb := "deleted"
	if dryRun {
		verb = "would delete"
	}
	for _, r := range res.Deleted {
		fmt.Fprintf(v.out, "%s %s\n", verb, r)
	}
	fmt.Fprintf(v.out, "Reset %s: %s %d object(s) in namespace %s.\n", res.Lab, verb, len(res.Deleted), strings.Join(res.Namespaces, ", "))
}

func (x resetJSON) Result(res *reset.Result, _ bool) { x.v.writeJSON(res) }
