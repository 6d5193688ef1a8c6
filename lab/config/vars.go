package config

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// EnvPrefix prefixes environment variables that set lab variables.
const EnvPrefix = "LAB_VAR_"

// Origin is the Extra of an error about a variable value that points at
// no line of a file: it names where the value came from ("-var-file
// vars.hcl", "-var runtime", "environment variable LAB_VAR_runtime"), so
// the command can say which input to fix rather than the lab file.
type Origin string

func fromOrigin(d *hcl.Diagnostic, o string) *hcl.Diagnostic {
	d.Extra = Origin(o)
	return d
}

func decodeVariable(b *hcl.Block) (*Variable, hcl.Diagnostics) {
	content, diags := b.Body.Content(&hcl.BodySchema{
		Attributes: []hcl.AttributeSchema{{Name: "type"}, {Name: "default"}, {Name: "description"}, {Name: "sensitive"}},
		Blocks:     []hcl.BlockHeaderSchema{{Type: "validation"}},
	})
	v := &Variable{Name: b.Labels[0], Type: cty.DynamicPseudoType, DeclRange: b.DefRange}
	if a, ok := content.Attributes["type"]; ok {
		ty, d := typeexpr.TypeConstraint(a.Expr)
		diags = append(diags, d...)
		if !d.HasErrors() {
			v.Type = ty
		}
	}
	if a, ok := content.Attributes["description"]; ok {
		diags = append(diags, literal(a, cty.String, func(x cty.Value) { v.Description = x.AsString() })...)
	}
	if a, ok := content.Attributes["sensitive"]; ok {
		diags = append(diags, literal(a, cty.Bool, func(x cty.Value) { v.Sensitive = x.True() })...)
	}
	if a, ok := content.Attributes["default"]; ok {
		def, d := a.Expr.Value(nil)
		diags = append(diags, d...)
		if !d.HasErrors() {
			conv, err := convertTo(def, v.Type)
			if err != nil {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Invalid default value for variable",
					Detail:   fmt.Sprintf("The default of variable %q does not match its type %s: %s.", v.Name, typeexpr.TypeString(v.Type), err),
					Subject:  a.Expr.Range().Ptr(),
				})
				v.Default = cty.DynamicVal // reported; not "required" too
			} else {
				v.Default = conv
			}
		}
	}
	for _, vb := range content.Blocks {
		vc, d := vb.Body.Content(&hcl.BodySchema{Attributes: []hcl.AttributeSchema{
			{Name: "condition", Required: true}, {Name: "error_message", Required: true},
		}})
		diags = append(diags, d...)
		if d.HasErrors() {
			continue
		}
		val := &Validation{Condition: vc.Attributes["condition"].Expr, ErrorMessage: vc.Attributes["error_message"].Expr}
		for _, t := range val.Condition.Variables() {
			if t.RootName() != "var" || len(t) < 2 || attrName(t[1]) != v.Name {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Invalid reference in variable validation",
					Detail:   fmt.Sprintf("A validation condition may refer only to var.%s itself.", v.Name),
					Subject:  t.SourceRange().Ptr(),
				})
			}
		}
		v.Validations = append(v.Validations, val)
	}
	return v, diags
}

func attrName(t hcl.Traverser) string {
	switch s := t.(type) {
	case hcl.TraverseAttr:
		return s.Name
	case hcl.TraverseIndex:
		if s.Key.Type() == cty.String {
			return s.Key.AsString()
		}
	}
	return ""
}

func convertTo(v cty.Value, ty cty.Type) (cty.Value, error) {
	if ty == cty.DynamicPseudoType {
		return v, nil
	}
	return convert.Convert(v, ty)
}

// rawValue is one variable value before conversion, and where it came from.
type rawValue struct {
	expr   hcl.Expression // from a var file
	text   string         // from -var or the environment
	source string
}

// resolveVars gathers values in Terraform's order (environment, then
// var files, then -var flags; later wins), converts and validates them.
func (c *Config) resolveVars(opts Options) hcl.Diagnostics {
	var diags hcl.Diagnostics
	raw := map[string]rawValue{}
	env := opts.Env
	if env == nil {
		env = os.Environ()
	}
	for _, kv := range env {
		name, val, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(name, EnvPrefix) {
			continue
		}
		name = strings.TrimPrefix(name, EnvPrefix)
		if _, declared := c.Variables[name]; declared {
			raw[name] = rawValue{text: val, source: "environment variable " + EnvPrefix + name}
		}
	}
	for _, path := range opts.VarFiles {
		origin := "-var-file " + path
		abs, err := filepath.Abs(path)
		if err != nil {
			diags = append(diags, fromOrigin(errorf(nil, "Cannot read variables file", "%s: %s", path, err), origin))
			continue
		}
		// parseFile speaks of the lab file; this is not it.
		if info, err := os.Stat(abs); os.IsNotExist(err) {
			diags = append(diags, fromOrigin(errorf(nil, "No variables file",
				"The variables file %s given with -var-file does not exist (lab looked for %s).", path, abs), origin))
			continue
		} else if err != nil {
			diags = append(diags, fromOrigin(errorf(nil, "Cannot read variables file", "%s.", err), origin))
			continue
		} else if info.IsDir() {
			diags = append(diags, fromOrigin(errorf(nil, "Variables file is a directory",
				"%s, given with -var-file, is a directory; name a file of variable values.", path), origin))
			continue
		}
		f, d := parseFile(c.Files, abs, displayName(abs))
		diags = append(diags, d...)
		if d.HasErrors() {
			continue
		}
		attrs, d := f.Body.JustAttributes()
		diags = append(diags, d...)
		for _, a := range sortedAttrs(attrs) {
			if _, declared := c.Variables[a.Name]; !declared {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Value for undeclared variable",
					Detail:   fmt.Sprintf("%s sets %q, which %s does not declare. Declare it with a variable block or remove it.", path, a.Name, filepath.Base(c.File)) + didYouMean(a.Name, c.variableNames()),
					Subject:  a.NameRange.Ptr(),
				})
				continue
			}
			raw[a.Name] = rawValue{expr: a.Expr, source: path}
		}
	}
	for _, kv := range opts.Vars {
		name, val, ok := strings.Cut(kv, "=")
		if !ok || name == "" {
			diags = append(diags, fromOrigin(errorf(nil, "Invalid -var option",
				"-var %q is not NAME=VALUE. Write it like -var 'runtime=simulated'.", kv), "-var "+kv))
			continue
		}
		if _, declared := c.Variables[name]; !declared {
			diags = append(diags, fromOrigin(errorf(nil, "Value for undeclared variable",
				"-var sets %q, which %s does not declare.%s", name, filepath.Base(c.File), didYouMean(name, c.variableNames())), "-var "+name))
			continue
		}
		raw[name] = rawValue{text: val, source: "-var " + name}
	}

	c.values = map[string]cty.Value{}
	for _, name := range c.variableNames() {
		v := c.Variables[name]
		r, set := raw[name]
		// A variable without a usable value is unknown from here on: its
		// own error says why, and every use of it need not repeat that.
		c.values[name] = cty.DynamicVal
		var val cty.Value
		switch {
		case !set && v.Default == cty.NilVal:
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "No value for required variable",
				Detail:   fmt.Sprintf("Variable %q has no default. Set it with -var '%s=...', a -var-file, or %s%s.", name, name, EnvPrefix, name),
				Subject:  v.DeclRange.Ptr(),
			})
			continue
		case !set:
			val = v.Default
		default:
			var d hcl.Diagnostics
			val, d = r.value(v.Type)
			diags = append(diags, d...)
			if d.HasErrors() {
				continue
			}
			conv, err := convertTo(val, v.Type)
			if err != nil {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Invalid value for variable",
					Detail:   fmt.Sprintf("The value from %s for variable %q does not match its type %s: %s.", r.source, name, typeexpr.TypeString(v.Type), err),
					Subject:  r.subject(v),
				})
				continue
			}
			val = conv
		}
		diags = append(diags, c.validate(v, val, r)...)
		if v.Sensitive {
			val = val.Mark(Sensitive)
		}
		c.values[name] = val
	}
	return diags
}

func (r rawValue) value(ty cty.Type) (cty.Value, hcl.Diagnostics) {
	if r.expr != nil {
		return r.expr.Value(nil)
	}
	// Like Terraform: a string variable takes the text as it is; any
	// other type parses it as an HCL expression.
	if ty == cty.String || ty == cty.DynamicPseudoType && !looksLikeExpr(r.text) {
		return cty.StringVal(r.text), nil
	}
	diags := checkNesting([]byte(r.text), r.source, lexExpression)
	var expr hcl.Expression
	if !diags.HasErrors() {
		expr, diags = hclsyntax.ParseExpression([]byte(r.text), r.source, hcl.InitialPos)
	}
	if diags.HasErrors() {
		return cty.DynamicVal, hcl.Diagnostics{fromOrigin(errorf(nil, "Invalid value for variable",
			"The value from %s is not a valid expression for type %s: %s", r.source, typeexpr.TypeString(ty), diags[0].Detail), r.source)}
	}
	v, diags := expr.Value(nil)
	if diags.HasErrors() {
		// A bare word parses as a reference ("Variables not allowed"),
		// which says nothing to someone who typed -var replicas=three.
		return cty.DynamicVal, hcl.Diagnostics{fromOrigin(errorf(nil, "Invalid value for variable",
			"The value %q from %s is not a valid %s: write a literal like 3, true, [\"a\", \"b\"] or { a = 1 }.", r.text, r.source, typeexpr.TypeString(ty)), r.source)}
	}
	return v, nil
}

func looksLikeExpr(s string) bool {
	s = strings.TrimSpace(s)
	return strings.HasPrefix(s, "[") || strings.HasPrefix(s, "{")
}

func (r rawValue) subject(v *Variable) *hcl.Range {
	if r.expr != nil {
		return r.expr.Range().Ptr()
	}
	return v.DeclRange.Ptr()
}

func (c *Config) validate(v *Variable, val cty.Value, r rawValue) hcl.Diagnostics {
	var diags hcl.Diagnostics
	ctx := &hcl.EvalContext{
		Variables: map[string]cty.Value{"var": cty.ObjectVal(map[string]cty.Value{v.Name: val})},
		Functions: Functions(c.Dir),
	}
	for _, rule := range v.Validations {
		ok, d := rule.Condition.Value(ctx)
		diags = append(diags, d...)
		if d.HasErrors() {
			continue
		}
		ok, _ = ok.Unmark()
		if ok.Type() != cty.Bool || ok.IsNull() || !ok.IsKnown() {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid validation condition",
				Detail: "The condition must be true or false.", Subject: rule.Condition.Range().Ptr()})
			continue
		}
		if ok.True() {
			continue
		}
		msg, d := rule.ErrorMessage.Value(ctx)
		text := "the value is not valid"
		if !d.HasErrors() && msg.Type() == cty.String && msg.IsKnown() && !msg.IsNull() {
			msg, _ = msg.Unmark()
			text = msg.AsString()
		}
		from := "its default"
		if r.source != "" {
			from = r.source
		}
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Invalid value for variable",
			Detail:   fmt.Sprintf("Variable %q (from %s): %s", v.Name, from, text),
			Subject:  rule.Condition.Range().Ptr(),
		})
	}
	return diags
}

func (c *Config) variableNames() []string {
	var names []string
	for n := range c.Variables {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// VariableValues returns each variable's final value (sensitive ones marked).
func (c *Config) VariableValues() map[string]cty.Value { return c.values }
