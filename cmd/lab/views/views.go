// Package views is how lab's commands speak: one view per command, with
// a human implementation (text, colour on a terminal, progress bars on a
// TTY) and a machine one (-o json: one document on stdout, events on
// stderr as JSON lines; verify and doc test also write JUnit). New picks
// the implementations once, from the global flags, when a command
// starts; the command then asks for its own view and never for the
// format. The engine reports only through plan.Hook, which the views
// implement with lab/ui's hooks.
package views

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/hashicorp/hcl/v2"
	"golang.org/x/term"

	"labs.dev/lab/lab/config"
	"labs.dev/lab/lab/state"
	"labs.dev/lab/lab/ui/ansi"
)

// Format is the output format -o names.
type Format string

const (
	Text  Format = "text"
	JSON  Format = "json"
	JUnit Format = "junit"
)

// ParseFormat reads -o.
func ParseFormat(s string) (Format, error) {
	switch f := Format(s); f {
	case Text, JSON, JUnit:
		return f, nil
	}
	return "", fmt.Errorf("-o %q: choose text or json (verify and doc test also take junit)", s)
}

// Options are what New picks the views from: the global flags, the
// environment and the streams.
type Options struct {
	Format         Format
	NoColor        bool // -no-color
	Getenv         func(string) string
	Stdin          io.Reader
	Stdout, Stderr io.Writer
}

// Views makes each command's view, all in the one format New picked. A
// command asks for its view once, when it starts. Diagnostics, errors
// and notes that any command may need are here too.
type Views interface {
	// Diagnostics reports the lab file's diagnostics: as text on stderr,
	// or under -o json as the document's "diagnostics" when there are
	// errors (the command ends), else as JSON lines on stderr (it goes
	// on and writes its own document).
	Diagnostics(cfg *config.Config, diags hcl.Diagnostics)
	// Invalid reports what lab validate (and the offline checks of lab
	// graph) found wrong; under -o json as {"valid": false, ...}.
	Invalid(cfg *config.Config, diags hcl.Diagnostics)
	// Explain shows the diagnostics that explain an error ending the
	// command (a dependency cycle, resources that could not be planned),
	// with their source lines, on stderr in every format.
	Explain(cfg *config.Config, diags hcl.Diagnostics)
	// Error says why lab exits, on stderr.
	Error(err error)
	// Interrupted says a signal stopped the command and what lab does.
	Interrupted(grace time.Duration)
	// StaleLock says the previous holder of the state lock died holding
	// it, and that this run carries on.
	StaleLock(prev *state.LockInfo)

	Version() Version
	Validate() Validate
	Fmt() Fmt
	Graph() Graph
	ForceUnlock() ForceUnlock
	Plan() Plan
	Apply() Apply
	Status() Status
	Output() Output
	Env() Env
	Doctor() Doctor
	List() List
	Show() Show
	Verify() Verify
	Board() Board
	Test() Test
	Reset() Reset
	DocTest(verbose bool) DocTest
}

// New picks the views for opts.Format: the one place that does.
func New(opts Options) Views {
	v := newView(opts)
	switch opts.Format {
	case JSON:
		return machine{v}
	case JUnit:
		return junit{machine{v}}
	}
	return human{v}
}

// view holds what every view writes through, fixed at New.
type view struct {
	in io.Reader
	// out is what a person reads: stdout, or stderr when stdout holds a
	// machine's document, so events and prompts never mix with it.
	out io.Writer
	doc io.Writer // the one machine-readable document: stdout
	err io.Writer // stderr
	// outStyle and errStyle colour out and err: only for text, without
	// -no-color, on a terminal that shows colour.
	outStyle, errStyle ansi.Style
	// width is out's terminal width, 0 when it is not a terminal: then
	// there is no progress bar.
	width int
}

func newView(opts Options) *view {
	v := &view{in: opts.Stdin, out: opts.Stdout, doc: opts.Stdout, err: opts.Stderr}
	if opts.Format != Text {
		v.out = opts.Stderr
	}
	color := opts.Format == Text && !opts.NoColor
	v.outStyle = ansi.Style{Color: color && ansi.Wanted(opts.Getenv, isTerminal(v.out))}
	v.errStyle = ansi.Style{Color: color && ansi.Wanted(opts.Getenv, isTerminal(v.err))}
	v.width = terminalWidth(v.out)
	return v
}

// terminalWidth is w's width in columns, or 0 when w is not a terminal.
func terminalWidth(w io.Writer) int {
	f, ok := w.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return 0
	}
	if cols, _, err := term.GetSize(int(f.Fd())); err == nil && cols > 0 {
		return cols
	}
	return 80
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
