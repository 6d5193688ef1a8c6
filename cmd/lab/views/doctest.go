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

func (h human) DocTest(verbose bool) DocTest { return docTestHuman{docNotes{h.view}, verbose} }
func (m machine) DocTest(bool) DocTest       { return docTestJSON{docNotes{m.view}} }
func (j junit) DocTest(bool) DocTest         { return docTestJUnit{docNotes{j.view}} }

type (
	docTestHuman struct {
		docNotes
		verbose bool // every command, not only those that fail
	}
	docTestJSON  struct{ docNotes }
	docTestJUnit struct{ docNotes }
)

// docNotes is what doc test says beside its report: on stderr, the
// same in every format.
type docNotes struct{ v *view }

func (n docNotes) Note(msg string) { fmt.Fprintln(n.v.err, msg) }

func (n docNotes) Updated(path string, line int) {
	fmt.Fprintf(n.v.err, "%s:%d: output block updated\n", path, line)
}

func (x docTestHuman) Problems(r *lesson.Report) { r.WriteText(x.v.out, x.v.outStyle, x.verbose) }
func (x docTestHuman) Step(sr lesson.StepResult) {
	lesson.WriteStep(x.v.out, sr, x.v.outStyle, x.verbose)
}
func (x docTestHuman) Lesson(r *lesson.Result) { lesson.WriteLessonEnd(x.v.out, r, x.v.outStyle) }
func (x docTestHuman) Report(r *lesson.Report) { fmt.Fprintln(x.v.out, r.Summary()) }

func (x docTestJSON) Problems(r *lesson.Report) { _ = r.WriteJSON(x.v.doc) }
func (docTestJSON) Step(lesson.StepResult)      {}
func (docTestJSON) Lesson(*lesson.Result)       {}
func (x docTestJSON) Report(r *lesson.Report)   { _ = r.WriteJSON(x.v.doc) }

func (x docTestJUnit) Problems(r *lesson.Report) { _ = r.WriteJUnit(x.v.doc) }
func (docTestJUnit) Step(lesson.StepResult)      {}
func (docTestJUnit) Lesson(*lesson.Result)       {}
func (x docTestJUnit) Report(r *lesson.Report)   { _ = r.WriteJUnit(x.v.doc) }
