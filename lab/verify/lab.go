// Package verify checks a learner's work: it decodes the `lab` blocks of
// a lab file into checks, selects live objects with list calls only
// (read-only), evaluates the checks' HCL assertions on them with retries
// until a timeout, and explains each failure by object, field, expected
// and actual value, and the author's hint. Why a check could not run
// stays a typed error in its result. It never prints: lab/report renders
// a Result; lab/labtest and lab/reset build lab test and lab reset on it.
package verify

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"

	"labs.dev/lab/lab/config"
	"labs.dev/lab/lab/resource"
)

// DefaultTimeout is how long a check retries when neither the check nor
// the caller says: short enough for a learner to wait for, long enough
// for a Deployment to roll out.
const DefaultTimeout = 10 * time.Second

// Lab is a decoded `lab "name"` block, or one instance of one with
// for_each or count: a learner's copy of the lab.
type Lab struct {
	Name string
	// Key is the instance key (each.key, count.index); zero for a lab
	// block without for_each or count.
	Key resource.Key
	// Multi is true for a block with for_each or count: its instances
	// are its learners.
	Multi bool
	Title string
	// Task is the learner's instructions, as the author wrote them.
	Task string
	// Solution is the absolute path of the reference solution ("" if none).
	Solution string
	// Namespaces are the namespaces the lab is about; Reset clears them.
	Namespaces []string
	// Timeout is the default for the lab's checks.
	Timeout time.Duration
	Checks  []*Check

	DeclRange hcl.Range
	// ctx evaluates the lab's expressions: the config's scope.
	ctx   *hcl.EvalContext
	files map[string]*hcl.File
}

// Address names the instance: deploy-fleet, deploy-fleet["alice"].
func (l *Lab) Address() string { return l.Name + l.Key.String() }

// Learner is the instance's key as a learner is named on the command
// line (alice, 0); "" for a lab block without for_each or count.
func (l *Lab) Learner() string { return l.Key.Raw() }

// Check is a `check "name"` block: selections and assertions on them.
type Check struct {
	Lab        string
	Name       string
	Timeout    time.Duration // 0: the lab's
	Selections []*Selection
	Asserts    []*Assert
	DeclRange  hcl.Range
}

// Selection is a `select "label"` block: the live objects an assertion
// sees under label. With a name it is one object (null when optional
// and missing), otherwise a list of every match.
type Selection struct {
	Label      string
	APIVersion string
	Kind       string
	// Namespace is "" for all namespaces or a cluster-scoped kind.
	Namespace string
	Name      string
	Labels    map[string]string
	// Optional lets a named object be missing (the value is null).
	Optional bool
	// Hint tells the learner what to do when a named object is missing.
	Hint      string
	DeclRange hcl.Range
}

// Assert is an `assert` block.
type Assert struct {
	Condition    hcl.Expression
	ErrorMessage hcl.Expression
	Hint         hcl.Expression // nil when absent
	ForEach      hcl.Expression // nil when absent
	DeclRange    hcl.Range
}

// Single reports whether the selection is one object rather than a list.
func (s *Selection) Single() bool { return s.Name != "" }

// Describe names what the selection looks for, e.g. "Deployment fleet in
// namespace dev" or "Pods with labels app=fleet in namespace dev".
func (s *Selection) Describe() string {
	var b strings.Builder
	if s.Name != "" {
		fmt.Fprintf(&b, "%s %s", s.Kind, s.Name)
	} else {
		b.WriteString(plural(s.Kind))
		if len(s.Labels) > 0 {
			b.WriteString(" with labels " + selectorString(s.Labels))
		}
	}
	if s.Namespace != "" {
		fmt.Fprintf(&b, " in namespace %s", s.Namespace)
	}
	return b.String()
}

var labSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "title"}, {Name: "task"}, {Name: "solution"}, {Name: "timeout"}, {Name: "namespaces"},
	},
	Blocks: []hcl.BlockHeaderSchema{{Type: "check", LabelNames: []string{"name"}}},
}

var checkSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "timeout"}},
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "select", LabelNames: []string{"name"}},
		{Type: "assert"},
	},
}

var selectSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "api_version", Required: true}, {Name: "kind", Required: true},
		{Name: "namespace"}, {Name: "name"}, {Name: "labels"}, {Name: "optional"}, {Name: "hint"},
	},
}

var assertSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "condition", Required: true}, {Name: "error_message", Required: true},
		{Name: "hint"}, {Name: "for_each"},
	},
}

// reserved names cannot label a selection: they mean something else in
// an assertion's scope.
var reserved = map[string]bool{"var": true, "local": true, "path": true, "each": true, "actual": true, "expected": true, "count": true, "self": true}

// Decode decodes every lab block of cfg. known holds resource values
// known from state (nil: resources evaluate as unknown, so lab blocks
// should use literals or variables).
func Decode(cfg *config.Config, known map[resource.Addr]cty.Value) ([]*Lab, hcl.Diagnostics) {
	ctx, diags := cfg.EvalContext(known)
	if diags.HasErrors() {
		return nil, diags
	}
	types := map[string]bool{}
	for _, r := range cfg.Resources {
		types[r.Addr.Type] = true
	}
	var labs []*Lab
	// The instances of one block share its body: say each problem once.
	seen := map[string]bool{}
	for _, l := range cfg.Labs {
		lab, d := decodeLab(cfg, l, l.Scope(ctx), types)
		for _, x := range d {
			key := x.Summary + "\x00" + x.Detail
			if x.Subject != nil {
				key += "\x00" + x.Subject.String()
			}
			if !seen[key] {
				seen[key] = true
				diags = append(diags, x)
			}
		}
		if lab != nil {
			labs = append(labs, lab)
		}
	}
	return labs, config.SortDiagnostics(diags)
}

func decodeLab(cfg *config.Config, l *config.Lab, ctx *hcl.EvalContext, types map[string]bool) (*Lab, hcl.Diagnostics) {
	content, diags := l.Body.Content(labSchema)
	lab := &Lab{Name: l.Name, Key: l.Key, Multi: l.Multi, Timeout: DefaultTimeout, DeclRange: l.DeclRange, ctx: ctx, files: cfg.Files}
	if a, ok := content.Attributes["title"]; ok {
		diags = append(diags, evalString(a, ctx, &lab.Title)...)
	}
	if a, ok := content.Attributes["task"]; ok {
		diags = append(diags, evalString(a, ctx, &lab.Task)...)
	}
	if a, ok := content.Attributes["solution"]; ok {
		var p string
		d := evalString(a, ctx, &p)
		diags = append(diags, d...)
		if !d.HasErrors() {
			abs, err := config.ResolvePath(cfg.Dir, p)
			if err != nil {
				diags = append(diags, attrError(a, "Invalid solution path", "%s.", err))
			} else {
				lab.Solution = abs
			}
		}
	}
	if a, ok := content.Attributes["timeout"]; ok {
		diags = append(diags, evalDuration(a, ctx, &lab.Timeout)...)
	}
	if a, ok := content.Attributes["namespaces"]; ok {
		diags = append(diags, evalStrings(a, ctx, &lab.Namespaces)...)
	}
	seen := map[string]hcl.Range{}
	for _, b := range content.Blocks {
		name := b.Labels[0]
		if prev, dup := seen[name]; dup {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Duplicate check",
				Detail:  fmt.Sprintf("Lab %q already has a check %q (line %d); check names must be unique within a lab.", l.Name, name, prev.Start.Line),
				Subject: b.LabelRanges[0].Ptr()})
			continue
		}
		seen[name] = b.DefRange
		c, d := decodeCheck(l.Name, b, ctx, types)
		diags = append(diags, d...)
		if c != nil {
			lab.Checks = append(lab.Checks, c)
		}
	}
	if len(lab.Checks) == 0 && !diags.HasErrors() {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagWarning, Summary: "Lab without checks",
			Detail:  fmt.Sprintf("Lab %q has no check blocks, so lab verify %s always passes.", l.Name, l.Name),
			Subject: l.DeclRange.Ptr()})
	}
	return lab, diags
}

func decodeCheck(lab string, b *hcl.Block, ctx *hcl.EvalContext, types map[string]bool) (*Check, hcl.Diagnostics) {
	content, diags := b.Body.Content(checkSchema)
	c := &Check{Lab: lab, Name: b.Labels[0], DeclRange: b.DefRange}
	if a, ok := content.Attributes["timeout"]; ok {
		diags = append(diags, evalDuration(a, ctx, &c.Timeout)...)
	}
	labels := map[string]bool{}
	for _, sb := range content.Blocks {
		switch sb.Type {
		case "select":
			s, d := decodeSelect(sb, ctx)
			diags = append(diags, d...)
			if s == nil {
				continue
			}
			switch {
			case !hclsyntax.ValidIdentifier(s.Label):
				diags = append(diags, blockError(sb, "Invalid selection name", "%q is not a valid name; use letters, digits and underscores, like deployment.", s.Label))
			case reserved[s.Label] || types[s.Label]:
				diags = append(diags, blockError(sb, "Reserved selection name", "%q already means something in an assertion; name the selection something else, like %s_obj.", s.Label, s.Label))
			case labels[s.Label]:
				diags = append(diags, blockError(sb, "Duplicate selection", "Check %q already selects %q; give each selection its own name.", c.Name, s.Label))
			default:
				labels[s.Label] = true
				c.Selections = append(c.Selections, s)
			}
		case "assert":
			ac, d := sb.Body.Content(assertSchema)
			diags = append(diags, d...)
			if d.HasErrors() {
				continue
			}
			as := &Assert{Condition: ac.Attributes["condition"].Expr, ErrorMessage: ac.Attributes["error_message"].Expr, DeclRange: sb.DefRange}
			if a, ok := ac.Attributes["hint"]; ok {
				as.Hint = a.Expr
			}
			if a, ok := ac.Attributes["for_each"]; ok {
				as.ForEach = a.Expr
			}
			c.Asserts = append(c.Asserts, as)
		}
	}
	if len(content.Blocks) == 0 {
		diags = append(diags, blockError(b, "Empty check", "Check %q selects nothing and asserts nothing; add a select block and an assert block.", c.Name))
	}
	// Names an assertion uses must be selections of this check (or the
	// config's own var/local/path, checked by config.Load).
	for _, as := range c.Asserts {
		for _, e := range []hcl.Expression{as.Condition, as.ErrorMessage, as.Hint, as.ForEach} {
			if e == nil {
				continue
			}
			for _, t := range e.Variables() {
				root := t.RootName()
				if labels[root] || reserved[root] || types[root] {
					continue
				}
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Unknown name in assertion",
					Detail:  fmt.Sprintf("%q is not a selection of check %q. Selections: %s.", root, c.Name, joinOr(sortedKeys(labels), "none")),
					Subject: t.SourceRange().Ptr()})
			}
		}
	}
	return c, diags
}

func decodeSelect(b *hcl.Block, ctx *hcl.EvalContext) (*Selection, hcl.Diagnostics) {
	content, diags := b.Body.Content(selectSchema)
	if diags.HasErrors() {
		return nil, diags
	}
	s := &Selection{Label: b.Labels[0], DeclRange: b.DefRange}
	diags = append(diags, evalString(content.Attributes["api_version"], ctx, &s.APIVersion)...)
	diags = append(diags, evalString(content.Attributes["kind"], ctx, &s.Kind)...)
	if a, ok := content.Attributes["namespace"]; ok {
		diags = append(diags, evalString(a, ctx, &s.Namespace)...)
	}
	if a, ok := content.Attributes["name"]; ok {
		diags = append(diags, evalString(a, ctx, &s.Name)...)
		if s.Name == "" && !diags.HasErrors() {
			diags = append(diags, attrError(a, "Empty name", "name must not be empty; leave it out to select every object of the kind."))
		}
	}
	if a, ok := content.Attributes["hint"]; ok {
		diags = append(diags, evalString(a, ctx, &s.Hint)...)
	}
	if a, ok := content.Attributes["optional"]; ok {
		v, d := a.Expr.Value(ctx)
		diags = append(diags, d...)
		if !d.HasErrors() {
			v, err := convert.Convert(v, cty.Bool)
			if err != nil || v.IsNull() || !v.IsKnown() {
				diags = append(diags, attrError(a, "Invalid optional", "optional must be true or false."))
			} else {
				s.Optional = v.True()
			}
		}
	}
	if a, ok := content.Attributes["labels"]; ok {
		v, d := a.Expr.Value(ctx)
		diags = append(diags, d...)
		if !d.HasErrors() {
			m, err := convert.Convert(v, cty.Map(cty.String))
			if err != nil || m.IsNull() || !m.IsWhollyKnown() {
				diags = append(diags, attrError(a, "Invalid labels", "labels must be a map of strings, like { app = \"fleet\" }."))
			} else {
				s.Labels = map[string]string{}
				for k, v := range m.AsValueMap() {
					if v.IsNull() {
						diags = append(diags, attrError(a, "Invalid labels", "label %q has no value.", k))
						continue
					}
					s.Labels[k] = v.AsString()
				}
			}
		}
	}
	if s.APIVersion != "" && s.Kind != "" {
		if !strings.Contains(s.APIVersion, "/") && s.APIVersion != "v1" {
			diags = append(diags, attrError(content.Attributes["api_version"], "Invalid api_version",
				"%q is not an apiVersion; write it as in a manifest, like \"apps/v1\" or \"v1\".", s.APIVersion))
		}
		if s.Kind != "" && (s.Kind[0] < 'A' || s.Kind[0] > 'Z') {
			diags = append(diags, attrError(content.Attributes["kind"], "Invalid kind",
				"%q is not a kind; write it as in a manifest, like \"Deployment\".", s.Kind))
		}
	}
	if diags.HasErrors() {
		return nil, diags
	}
	return s, diags
}

func evalString(a *hcl.Attribute, ctx *hcl.EvalContext, dst *string) hcl.Diagnostics {
	v, diags := a.Expr.Value(ctx)
	if diags.HasErrors() {
		return diags
	}
	v, _ = v.UnmarkDeep()
	if !v.IsKnown() {
		return hcl.Diagnostics{attrError(a, "Value not known before apply", "%s refers to something only known after lab up; use a literal or a variable.", a.Name)}
	}
	s, err := convert.Convert(v, cty.String)
	if err != nil || s.IsNull() {
		return hcl.Diagnostics{attrError(a, "Invalid "+a.Name, "%s must be a string.", a.Name)}
	}
	*dst = s.AsString()
	return nil
}

func evalStrings(a *hcl.Attribute, ctx *hcl.EvalContext, dst *[]string) hcl.Diagnostics {
	v, diags := a.Expr.Value(ctx)
	if diags.HasErrors() {
		return diags
	}
	v, _ = v.UnmarkDeep()
	l, err := convert.Convert(v, cty.List(cty.String))
	if err != nil || l.IsNull() || !l.IsWhollyKnown() {
		return hcl.Diagnostics{attrError(a, "Invalid "+a.Name, "%s must be a list of strings known before lab up, like [\"dev\"].", a.Name)}
	}
	for _, e := range l.AsValueSlice() {
		if e.IsNull() || e.AsString() == "" {
			return hcl.Diagnostics{attrError(a, "Invalid "+a.Name, "%s has an empty entry.", a.Name)}
		}
		*dst = append(*dst, e.AsString())
	}
	return nil
}

func evalDuration(a *hcl.Attribute, ctx *hcl.EvalContext, dst *time.Duration) hcl.Diagnostics {
	var s string
	if d := evalString(a, ctx, &s); d.HasErrors() {
		return d
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return hcl.Diagnostics{attrError(a, "Invalid timeout", "%q is not a duration; write it like \"10s\" or \"1m\".", s)}
	}
	*dst = d
	return nil
}

func attrError(a *hcl.Attribute, summary, format string, args ...any) *hcl.Diagnostic {
	return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: fmt.Sprintf(format, args...), Subject: a.Expr.Range().Ptr()}
}

func blockError(b *hcl.Block, summary, format string, args ...any) *hcl.Diagnostic {
	return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: fmt.Sprintf(format, args...), Subject: b.DefRange.Ptr()}
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func joinOr(s []string, none string) string {
	if len(s) == 0 {
		return none
	}
	return strings.Join(s, ", ")
}

func selectorString(labels map[string]string) string {
	var parts []string
	for _, k := range sortedKeys(labels) {
		parts = append(parts, k+"="+labels[k])
	}
	return strings.Join(parts, ",")
}

func plural(kind string) string {
	switch {
	case strings.HasSuffix(kind, "s"), strings.HasSuffix(kind, "x"):
		return kind + "es"
	case strings.HasSuffix(kind, "y") && !strings.HasSuffix(kind, "ay") && !strings.HasSuffix(kind, "ey"):
		return kind[:len(kind)-1] + "ies"
	}
	return kind + "s"
}
