package views

import "fmt"

// Validate is lab validate's view; what is wrong goes to Views.Invalid.
type Validate interface {
	Valid(file string, resources, labs int)
}

// Fmt is lab fmt's view: text in every format.
type Fmt interface {
	// Unformatted names a file that is not in canonical style, with the
	// changes when -diff asked for them.
	Unformatted(file, diff string)
}

// Graph is lab graph's view: DOT in every format.
type Graph interface{ Graph(dot string) }

func (h human) Validate() Validate   { return validateHuman{h} }
func (m machine) Validate() Validate { return validateJSON{m} }

// Fmt and Graph write text for people under -o json too, on stderr, as
// every command's human lines do there.
func (h human) Fmt() Fmt       { return text{h.view} }
func (m machine) Fmt() Fmt     { return text{m.view} }
func (h human) Graph() Graph   { return text{h.view} }
func (m machine) Graph() Graph { return text{m.view} }

type (
	validateHuman struct{ human }
	validateJSON  struct{ machine }
	// text is the view of the commands whose output is text in every
	// format.
	text struct{ *view }
)

func (v validateHuman) Valid(file string, resources, labs int) {
	fmt.Fprintf(v.out, "%s %s is valid: %d resource(s), %d lab(s).\n", v.outStyle.Green("Success!"), file, resources, labs)
}

func (v validateJSON) Valid(string, int, int) {
	v.writeJSON(map[string]any{"valid": true, "diagnostics": []any{}})
}

func (v text) Unformatted(file, diff string) {
	fmt.Fprintln(v.out, file)
	fmt.Fprint(v.out, diff)
}

func (v text) Graph(dot string) { fmt.Fprint(v.out, dot) }

func (v text) Unlocked() { fmt.Fprintln(v.out, "The state lock was removed.") }
