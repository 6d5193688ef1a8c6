package views

import (
	"fmt"
	"sort"
	"strings"

	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"
)

// Output is lab output's view.
type Output interface {
	Outputs(values map[string]cty.Value)
	Output(name string, v cty.Value) error
}

// Env is lab env's view: the exports that point a shell at the lab's
// cluster.
type Env interface {
	// Exports writes exports (name, value) for shell, and makes context
	// current when current is another one.
	Exports(shell, context, current string, exports [][2]string)
	// SensitiveOutput and UnsetOutput say why an output marked for the
	// shell is not exported.
	SensitiveOutput(name string)
	UnsetOutput(name string)
}

func (h human) Output() Output   { return outputHuman{h.view} }
func (m machine) Output() Output { return outputJSON{m.view} }
func (h human) Env() Env         { return envHuman{envNotes{h.view}} }
func (m machine) Env() Env       { return envJSON{envNotes{m.view}} }

type (
	outputHuman struct{ v *view }
	outputJSON  struct{ v *view }
	envHuman    struct{ envNotes }
	envJSON     struct{ envNotes }
)

func (x outputHuman) Outputs(values map[string]cty.Value) {
	v := x.v
	var names []string
	for n := range values {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(v.out, "%s = %s\n", n, renderValue(values[n]))
	}
}

func (x outputHuman) Output(_ string, val cty.Value) error {
	v := x.v
	if val.Type() == cty.String && !val.IsMarked() {
		fmt.Fprintln(v.out, val.AsString())
		return nil
	}
	fmt.Fprintln(v.out, renderValue(val))
	return nil
}

func (x outputJSON) Outputs(values map[string]cty.Value) { x.v.writeJSON(outputsJSON(values)) }

// Output is the value alone as JSON; a sensitive one is never shown.
func (x outputJSON) Output(name string, val cty.Value) error {
	v := x.v
	if val.IsMarked() || val.ContainsMarked() {
		v.writeJSON(map[string]any{"sensitive": true})
		return nil
	}
	b, err := ctyjson.Marshal(val, val.Type())
	if err != nil {
		return fmt.Errorf("output %q: %w", name, err)
	}
	v.writeJSON(rawJSON(b))
	return nil
}

// envNotes says on stderr, in every format, why an output is not
// exported.
type envNotes struct{ v *view }

func (n envNotes) SensitiveOutput(name string) {
	fmt.Fprintf(n.v.err, "lab env: output %q is sensitive; it is never printed (lab output %s shows it is set)\n", name, name)
}

func (n envNotes) UnsetOutput(name string) {
	fmt.Fprintf(n.v.err, "lab env: output %q has no value yet; it has one after lab up\n", name)
}

func (x envHuman) Exports(shell, context, current string, exports [][2]string) {
	v := x.v
	fmt.Fprintf(v.out, "# the lab's cluster: context %s; apply with: %s\n", context, evalHint(shell))
	for _, e := range exports {
		fmt.Fprintln(v.out, exportLine(shell, e[0], e[1]))
	}
	if current != context {
		fmt.Fprintf(v.out, "kubectl config use-context %s >/dev/null\n", quote(shell, context))
	}
}

func (x envJSON) Exports(shell, context, _ string, exports [][2]string) {
	v := x.v
	env := map[string]string{}
	for _, e := range exports {
		env[e[0]] = e[1]
	}
	v.writeJSON(map[string]any{"shell": shell, "context": context, "env": env})
}

func evalHint(shell string) string {
	if shell == "fish" {
		return "lab env --shell fish | source"
	}
	return `eval "$(lab env)"`
}

func exportLine(shell, name, value string) string {
	if shell == "fish" {
		return fmt.Sprintf("set -gx %s %s", name, quote(shell, value))
	}
	return fmt.Sprintf("export %s=%s", name, quote(shell, value))
}

// quote makes value one word for the shell, taken literally.
func quote(shell, value string) string {
	if shell == "fish" {
		return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(value) + "'"
	}
	return "'" + strings.ReplaceAll(value, "'", `'\''`) + "'"
}
