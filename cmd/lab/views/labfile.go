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

func (h human) Validate() Validate   { return validateHuman{h.view} }
func (m machine) Validate() Validate { return validateJSON{m.view} }

// Fmt and Graph write text for people under -o json too, on stderr, as
// every command's human lines do there.
func (h human) Fmt() Fmt       { return text{h.view} }
func (m machine) Fmt() Fmt     { return text{m.view} }
func (h human) Graph() Graph   { return text{h.view} }
func (m machine) Graph() Graph { return text{m.view} }

type (
	validateHuman struct{ v *view }
	validateJSON  struct{ v *view }
	// text is the view of the commands whose output is text in every
	// format.
	text struct{ v *view }
)

func (x validateHuman) Valid(file string, resources, labs int) {
	v := x.v
	fmt.Fprintf(v.out, "%s %s is valid: %d resource(s), %d lab(s).\n", v.outStyle.Green("Success!"), file, resources, labs)
}

func (x validateJSON) Valid(string, int, int) {
	v := x.v
	v.writeJSON(map[string]any{"valid": true, "diagnostics": []any{}})
}

func (x text) Unformatted(file, diff string) {
	v := x.v
	fmt.Fprintln(v.out, file)
	fmt.Fprint(v.out, diff)
}

func (x text) Graph(dot string) { fmt.Fprint(x.v.out, dot) }

func (x text) Unlocked() { fmt.Fprintln(x.v.out, "The state lock was removed.") }
