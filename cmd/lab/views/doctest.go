package views

import (
	"fmt"

	"labs.dev/lab/lab/lesson"
)

// DocTest is lab doc test's view, in text, JSON or JUnit (lab/lesson's
// renderers).
type DocTest interface {
	// Problems reports lessons that cannot be read or parsed: nothing ran.
	Problems(r *lesson.Report)
	// Step reports one command of a lesson as it ends; Lesson reports a
	// lesson once it ran.
	Step(sr lesson.StepResult)
	Lesson(r *lesson.Result)
	// Report ends the report.
	Report(r *lesson.Report)
	// Note passes on what --update says; Updated names an output block
	// it rewrote.
	Note(msg string)
	Updated(path string, line int)
}

func (h human) DocTest(verbose bool) DocTest { return docTestHuman{h, verbose} }
func (m machine) DocTest(bool) DocTest       { return docTestJSON{m} }
func (j junit) DocTest(bool) DocTest         { return docTestJUnit{j} }

type (
	docTestHuman struct {
		human
		verbose bool // every command, not only those that fail
	}
	docTestJSON  struct{ machine }
	docTestJUnit struct{ junit }
)

func (v *view) Note(msg string) { fmt.Fprintln(v.err, msg) }

func (v *view) Updated(path string, line int) {
	fmt.Fprintf(v.err, "%s:%d: output block updated\n", path, line)
}

func (v docTestHuman) Problems(r *lesson.Report) { r.WriteText(v.out, v.outStyle, v.verbose) }
func (v docTestHuman) Step(sr lesson.StepResult) {
	lesson.WriteStep(v.out, sr, v.outStyle, v.verbose)
}
func (v docTestHuman) Lesson(r *lesson.Result) { lesson.WriteLessonEnd(v.out, r, v.outStyle) }
func (v docTestHuman) Report(r *lesson.Report) { fmt.Fprintln(v.out, r.Summary()) }

func (v docTestJSON) Problems(r *lesson.Report) { _ = r.WriteJSON(v.doc) }
func (docTestJSON) Step(lesson.StepResult)      {}
func (docTestJSON) Lesson(*lesson.Result)       {}
func (v docTestJSON) Report(r *lesson.Report)   { _ = r.WriteJSON(v.doc) }

func (v docTestJUnit) Problems(r *lesson.Report) { _ = r.WriteJUnit(v.doc) }
func (docTestJUnit) Step(lesson.StepResult)      {}
func (docTestJUnit) Lesson(*lesson.Result)       {}
func (v docTestJUnit) Report(r *lesson.Report)   { _ = r.WriteJUnit(v.doc) }
