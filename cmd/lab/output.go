package main

import (
	"encoding/json"
	"io"
	"os"

	"github.com/hashicorp/hcl/v2"
	"golang.org/x/term"

	"labs.dev/lab/lab/config"
	"labs.dev/lab/lab/ui"
)

const (
	red    = "31"
	green  = "32"
	yellow = "33"
	bold   = "1"
)

// color reports whether w should get ANSI colour: text output, no
// -no-color, and what ui.ColorWanted says of the terminal.
func (a *app) color(w io.Writer) bool {
	if a.noColor || a.output != "text" {
		return false
	}
	return ui.ColorWanted(os.Getenv, isTerminal(w))
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

// paint wraps s in an ANSI colour when stderr is a colour terminal.
func (a *app) paint(s, code string) string {
	if !a.color(a.stderr) {
		return s
	}
	return "\x1b[" + code + "m" + s + "\x1b[0m"
}

// writeJSON writes the command's one JSON document to stdout.
func (a *app) writeJSON(v any) {
	enc := json.NewEncoder(a.doc)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// writeDiags reports diagnostics: as text on stderr, or for -o json as
// doc with a "diagnostics" member on stdout. Warnings alone, with no doc,
// do not end the command, which has its own document to write: they go
// to stderr as JSON lines like the other events.
func (a *app) writeDiags(cfg *config.Config, diags hcl.Diagnostics, doc map[string]any) {
	if a.output != "json" {
		cfg.WriteDiagnostics(a.stderr, diags, a.color(a.stderr))
		return
	}
	if doc == nil && !diags.HasErrors() {
		enc := json.NewEncoder(a.stderr)
		for _, d := range diagsJSON(diags) {
			_ = enc.Encode(struct {
				Type string `json:"type"`
				diagJSON
			}{"diagnostic", d})
		}
		return
	}
	if doc == nil {
		doc = map[string]any{}
	}
	doc["diagnostics"] = diagsJSON(diags)
	a.writeJSON(doc)
}

type diagJSON struct {
	Severity string `json:"severity"`
	Summary  string `json:"summary"`
	Detail   string `json:"detail,omitempty"`
	File     string `json:"file,omitempty"`
	Line     int    `json:"line,omitempty"`
	Column   int    `json:"column,omitempty"`
}

func diagsJSON(diags hcl.Diagnostics) []diagJSON {
	out := []diagJSON{}
	for _, d := range diags {
		j := diagJSON{Severity: "error", Summary: d.Summary, Detail: d.Detail}
		if d.Severity == hcl.DiagWarning {
			j.Severity = "warning"
		}
		if d.Subject != nil {
			j.File, j.Line, j.Column = d.Subject.Filename, d.Subject.Start.Line, d.Subject.Start.Column
		}
		out = append(out, j)
	}
	return out
}

// jsonRaw embeds already-encoded JSON.
type jsonRaw []byte

func (j jsonRaw) MarshalJSON() ([]byte, error) { return j, nil }
