// Package config loads a lab file (labs.hcl): variables, locals, resources,
// outputs and lab blocks. It reports every problem at once as HCL
// diagnostics with file:line:col, and evaluates expressions against the
// values the engine knows so far.
package config

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"labs.dev/lab/lab/resource"
)

// DefaultFile is the lab file looked for in the working directory.
const DefaultFile = "labs.hcl"

// MaxFileSize bounds what Load reads; a lab file is hand-written.
const MaxFileSize = 4 << 20

// Config is a loaded lab file.
type Config struct {
	// File is the absolute path of the lab file; Dir its directory.
	File string
	Dir  string
	// Files holds every parsed file for rendering diagnostics.
	Files map[string]*hcl.File

	Variables map[string]*Variable
	Locals    map[string]*Local
	Resources []*Resource // in file order
	Outputs   []*Output
	Labs      []*Lab

	values map[string]cty.Value // variable values, set by Load
	kinds  map[string]resource.Kind
}

// Variable is a `variable "name"` block.
type Variable struct {
	Name        string
	Type        cty.Type
	Default     cty.Value // cty.NilVal when required
	Description string
	Sensitive   bool
	Validations []*Validation
	DeclRange   hcl.Range
}

// Validation is a variable's `validation` block.
type Validation struct {
	Condition    hcl.Expression
	ErrorMessage hcl.Expression
}

// Local is one attribute of a `locals` block.
type Local struct {
	Name string
	Expr hcl.Expression
}

// Resource is a `resource "type" "name"` block.
type Resource struct {
	Addr resource.Addr
	// Body holds the arguments, without depends_on.
	Body      hcl.Body
	Kind      resource.Kind
	DependsOn []resource.Addr
	// Deps is every resource this one needs: references (also through
	// locals), depends_on and Cluster, sorted, without duplicates.
	Deps []resource.Addr
	// Cluster is the cluster resource the engine connects this one to,
	// for a block of a resource.InCluster kind that states no connection
	// of its own: the one its cluster argument names, else the lab
	// file's only one; nil otherwise.
	Cluster *resource.Addr
	// clusterExpr is the cluster argument, nil when not set.
	clusterExpr hcl.Expression
	DeclRange   hcl.Range
}

// Output is an `output "name"` block.
type Output struct {
	Name        string
	Value       hcl.Expression
	Description string
	Sensitive   bool
	// Env names the shell variable `lab env` exports the value as ("" for
	// none); a sensitive value is never exported.
	Env       string
	DeclRange hcl.Range
}

// Lab is a `lab "name"` block; lab/verify decodes its body.
type Lab struct {
	Name      string
	Body      hcl.Body
	DeclRange hcl.Range
}

// Options control Load.
type Options struct {
	// Kinds are the resource kinds by block type (providers.Kinds()).
	Kinds map[string]resource.Kind
	// Vars are -var NAME=VALUE flags, in order.
	Vars []string
	// VarFiles are -var-file paths, in order.
	VarFiles []string
	// Env is the environment for LAB_VAR_name; nil means os.Environ().
	Env []string
}

var rootSchema = &hcl.BodySchema{
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "variable", LabelNames: []string{"name"}},
		{Type: "locals"},
		{Type: "resource", LabelNames: []string{"type", "name"}},
		{Type: "output", LabelNames: []string{"name"}},
		{Type: "lab", LabelNames: []string{"name"}},
	},
}

// Load parses and checks the lab file at path. The returned Config is
// usable when diags has no errors.
func Load(path string, opts Options) (*Config, hcl.Diagnostics) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, hcl.Diagnostics{errorf(nil, "Cannot find the lab file", "%s: %s", path, err)}
	}
	c := &Config{
		File:      abs,
		Dir:       filepath.Dir(abs),
		Files:     map[string]*hcl.File{},
		Variables: map[string]*Variable{},
		Locals:    map[string]*Local{},
		kinds:     opts.Kinds,
	}
	f, diags := parseFile(c.Files, abs, displayName(abs))
	if diags.HasErrors() {
		return c, sortDiags(diags)
	}
	// Report all independent problems at once; type-checking resource
	// bodies only makes sense once names resolve.
	diags = append(diags, c.decode(f.Body)...)
	diags = append(diags, c.resolveVars(opts)...)
	diags = append(diags, c.checkReferences()...)
	diags = append(diags, notCovered(c.checkResources(), diags)...)
	return c, sortDiags(diags)
}

// parseFile reads and parses one HCL file (native syntax, or JSON when
// the name ends in .json), refusing what no person would write by hand.
func parseFile(files map[string]*hcl.File, abs, shown string) (*hcl.File, hcl.Diagnostics) {
	info, err := os.Stat(abs)
	if os.IsNotExist(err) {
		return nil, hcl.Diagnostics{errorf(nil, "No lab file",
			"There is no %s in %s. Run lab in the directory that holds %s, or name the file with -f.", filepath.Base(abs), filepath.Dir(abs), DefaultFile)}
	}
	if err != nil {
		return nil, hcl.Diagnostics{errorf(nil, "Cannot read the lab file", "%s.", err)}
	}
	if info.IsDir() {
		return nil, hcl.Diagnostics{errorf(nil, "Lab file is a directory", "%s is a directory; name a file with -f.", shown)}
	}
	if info.Size() > MaxFileSize {
		return nil, hcl.Diagnostics{errorf(nil, "Lab file too large",
			"%s is %d bytes; lab files are limited to %d bytes. Split data into files read with file().", shown, info.Size(), MaxFileSize)}
	}
	src, err := os.ReadFile(abs)
	if err != nil {
		return nil, hcl.Diagnostics{errorf(nil, "Cannot read the lab file", "%s", err)}
	}
	if !utf8.Valid(src) {
		line := 1 + countLines(src[:firstInvalidUTF8(src)])
		return nil, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Invalid UTF-8",
			Detail:   fmt.Sprintf("%s is not UTF-8 text (first bad byte on line %d). Save it as UTF-8.", shown, line),
			Subject:  &hcl.Range{Filename: shown, Start: hcl.Pos{Line: line, Column: 1}, End: hcl.Pos{Line: line, Column: 1}},
		}}
	}
	if filepath.Ext(abs) != ".json" {
		if d := checkNesting(src, shown, lexConfig); d.HasErrors() {
			return nil, d
		}
	}
	p := hclparse.NewParser()
	var f *hcl.File
	var diags hcl.Diagnostics
	if filepath.Ext(abs) == ".json" {
		f, diags = p.ParseJSON(src, shown)
	} else {
		f, diags = p.ParseHCL(src, shown)
	}
	if f != nil {
		files[shown] = f
	}
	return f, diags
}

// displayName is how diagnostics name a file: relative to the working
// directory when inside it, as Terraform does.
func displayName(abs string) string {
	wd, err := os.Getwd()
	if err != nil {
		return abs
	}
	rel, err := filepath.Rel(wd, abs)
	if err != nil || strings.HasPrefix(rel, "..") {
		return abs
	}
	return rel
}

func countLines(b []byte) int {
	n := 0
	for _, c := range b {
		if c == '\n' {
			n++
		}
	}
	return n
}

func firstInvalidUTF8(b []byte) int {
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size <= 1 {
			return i
		}
		i += size
	}
	return len(b)
}

func (c *Config) decode(body hcl.Body) hcl.Diagnostics {
	content, diags := body.Content(rootSchema)
	seen := map[string]hcl.Range{}
	dup := func(kind, name string, r hcl.Range) bool {
		key := kind + " " + name
		if prev, ok := seen[key]; ok {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Duplicate " + kind,
				Detail:   fmt.Sprintf("%s %q was already declared at %s. Names must be unique; rename or remove one.", kind, name, shortRange(prev)),
				Subject:  r.Ptr(),
			})
			return true
		}
		seen[key] = r
		return false
	}
	for _, b := range content.Blocks {
		switch b.Type {
		case "variable":
			if !validName(b.Labels[0], b.LabelRanges[0], &diags) || dup("variable", b.Labels[0], b.DefRange) {
				continue
			}
			v, d := decodeVariable(b)
			diags = append(diags, d...)
			if v != nil {
				c.Variables[v.Name] = v
			}
		case "locals":
			attrs, d := b.Body.JustAttributes()
			diags = append(diags, d...)
			for _, a := range sortedAttrs(attrs) {
				if !validName(a.Name, a.NameRange, &diags) || dup("local value", a.Name, a.NameRange) {
					continue
				}
				c.Locals[a.Name] = &Local{Name: a.Name, Expr: a.Expr}
			}
		case "resource":
			r, d := c.decodeResource(b)
			diags = append(diags, d...)
			if r != nil && !dup("resource", r.Addr.String(), b.DefRange) {
				c.Resources = append(c.Resources, r)
			}
		case "output":
			if !validName(b.Labels[0], b.LabelRanges[0], &diags) || dup("output", b.Labels[0], b.DefRange) {
				continue
			}
			o, d := decodeOutput(b)
			diags = append(diags, d...)
			if o != nil {
				c.Outputs = append(c.Outputs, o)
			}
		case "lab":
			if !validName(b.Labels[0], b.LabelRanges[0], &diags) || dup("lab", b.Labels[0], b.DefRange) {
				continue
			}
			c.Labs = append(c.Labs, &Lab{Name: b.Labels[0], Body: b.Body, DeclRange: b.DefRange})
		}
	}
	return diags
}

func (c *Config) decodeResource(b *hcl.Block) (*Resource, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	typ, name := b.Labels[0], b.Labels[1]
	if !validName(name, b.LabelRanges[1], &diags) {
		return nil, diags
	}
	r := &Resource{Addr: resource.Addr{Type: typ, Name: name}, DeclRange: b.DefRange}
	kind, ok := c.kinds[typ]
	if !ok {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Unknown resource type",
			Detail:   fmt.Sprintf("There is no resource type %q. Known types: %s.", typ, c.kindList()) + didYouMean(typ, c.kindNames()),
			Subject:  b.LabelRanges[0].Ptr(),
		})
		return nil, diags
	}
	r.Kind = kind
	// depends_on, and cluster for kinds whose resources live in one, are
	// the engine's arguments: the kind never sees them.
	meta := &hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "depends_on"}}}
	if _, ok := kind.(resource.InCluster); ok {
		meta.Attributes = append(meta.Attributes, hcl.AttributeSchema{Name: "cluster"})
	}
	content, rest, d := b.Body.PartialContent(meta)
	diags = append(diags, d...)
	r.Body = rest
	if a, ok := content.Attributes["cluster"]; ok {
		r.clusterExpr = a.Expr
	}
	if a, ok := content.Attributes["depends_on"]; ok {
		deps, d := decodeDependsOn(a)
		diags = append(diags, d...)
		r.DependsOn = deps
	}
	return r, diags
}

func decodeDependsOn(a *hcl.Attribute) ([]resource.Addr, hcl.Diagnostics) {
	exprs, diags := hcl.ExprList(a.Expr)
	if diags.HasErrors() {
		return nil, diags
	}
	var deps []resource.Addr
	for _, e := range exprs {
		trav, d := hcl.AbsTraversalForExpr(e)
		if d.HasErrors() || len(trav) < 2 {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid depends_on entry",
				Detail:   "Each entry of depends_on must name a resource, like namespace.dev (no quotes).",
				Subject:  e.Range().Ptr(),
			})
			continue
		}
		name, ok := trav[1].(hcl.TraverseAttr)
		if !ok {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid depends_on entry",
				Detail: "Each entry of depends_on must name a resource, like namespace.dev.", Subject: e.Range().Ptr()})
			continue
		}
		deps = append(deps, resource.Addr{Type: trav.RootName(), Name: name.Name})
	}
	return deps, diags
}

func decodeOutput(b *hcl.Block) (*Output, hcl.Diagnostics) {
	content, diags := b.Body.Content(&hcl.BodySchema{Attributes: []hcl.AttributeSchema{
		{Name: "value", Required: true}, {Name: "description"}, {Name: "sensitive"}, {Name: "env"},
	}})
	// A missing value is already reported; null keeps later passes from
	// meeting a nil expression.
	o := &Output{Name: b.Labels[0], DeclRange: b.DefRange, Value: hcl.StaticExpr(cty.NullVal(cty.DynamicPseudoType), b.DefRange)}
	if a, ok := content.Attributes["value"]; ok {
		o.Value = a.Expr
	}
	if a, ok := content.Attributes["description"]; ok {
		diags = append(diags, literal(a, cty.String, func(v cty.Value) { o.Description = v.AsString() })...)
	}
	if a, ok := content.Attributes["sensitive"]; ok {
		diags = append(diags, literal(a, cty.Bool, func(v cty.Value) { o.Sensitive = v.True() })...)
	}
	if a, ok := content.Attributes["env"]; ok {
		diags = append(diags, literal(a, cty.String, func(v cty.Value) { o.Env = v.AsString() })...)
		if o.Env != "" && !shellName.MatchString(o.Env) {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid value for env",
				Detail:   fmt.Sprintf("env = %q: name a shell variable (letters, digits and _, not starting with a digit), such as LAB_CONTEXT.", o.Env),
				Subject:  a.Expr.Range().Ptr(),
			})
		}
	}
	return o, diags
}

// shellName is a variable name every shell accepts.
var shellName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// literal evaluates a attribute that may not reference anything.
func literal(a *hcl.Attribute, ty cty.Type, set func(cty.Value)) hcl.Diagnostics {
	v, diags := a.Expr.Value(nil)
	if diags.HasErrors() {
		return diags
	}
	v, err := convertTo(v, ty)
	if err != nil || v.IsNull() {
		return hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Invalid value for " + a.Name,
			Detail:   fmt.Sprintf("%s must be a %s literal.", a.Name, ty.FriendlyName()),
			Subject:  a.Expr.Range().Ptr(),
		}}
	}
	set(v)
	return nil
}

// checkResources decodes every resource body against its kind's schema,
// with unknown values for everything not known before apply, so type and
// attribute errors show at load time.
func (c *Config) checkResources() hcl.Diagnostics {
	// A local that fails to evaluate (a bad function argument, a type
	// error) is reported here; a cycle among locals by checkReferences.
	ctx, _, diags := c.evalContext(nil)
	decoded := map[resource.Addr]cty.Value{}
	for _, r := range c.Resources {
		v, d := hcldec.Decode(r.Body, r.Kind.Schema(), ctx)
		diags = append(diags, d...)
		if !d.HasErrors() {
			decoded[r.Addr] = v
		}
	}
	return append(diags, c.resolveClusters(decoded)...)
}

// notCovered drops diagnostics about a place an earlier one already
// explains (an undeclared variable is not also an "unsupported attribute").
func notCovered(diags, earlier hcl.Diagnostics) hcl.Diagnostics {
	var out hcl.Diagnostics
	for _, d := range diags {
		covered := false
		for _, e := range earlier {
			if d.Subject != nil && e.Subject != nil && d.Subject.Filename == e.Subject.Filename &&
				d.Subject.Start.Byte >= e.Subject.Start.Byte && d.Subject.End.Byte <= e.Subject.End.Byte {
				covered = true
				break
			}
		}
		if !covered {
			out = append(out, d)
		}
	}
	return out
}

// Resource returns the resource with address a.
func (c *Config) Resource(a resource.Addr) *Resource {
	for _, r := range c.Resources {
		if r.Addr == a {
			return r
		}
	}
	return nil
}

// Lab returns the lab block named name.
func (c *Config) Lab(name string) *Lab {
	for _, l := range c.Labs {
		if l.Name == name {
			return l
		}
	}
	return nil
}

func (c *Config) kindNames() []string {
	var names []string
	for n := range c.kinds {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func (c *Config) kindList() string {
	s := ""
	for i, n := range c.kindNames() {
		if i > 0 {
			s += ", "
		}
		s += n
	}
	return s
}

func validName(name string, r hcl.Range, diags *hcl.Diagnostics) bool {
	if hclsyntax.ValidIdentifier(name) {
		return true
	}
	*diags = append(*diags, &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  "Invalid name",
		Detail:   fmt.Sprintf("%q is not a valid name: use letters, digits, underscores and dashes, starting with a letter.", name),
		Subject:  r.Ptr(),
	})
	return false
}

func sortedAttrs(attrs hcl.Attributes) []*hcl.Attribute {
	var out []*hcl.Attribute
	for _, a := range attrs {
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Range.Start.Byte < out[j].Range.Start.Byte })
	return out
}

func shortRange(r hcl.Range) string {
	return fmt.Sprintf("%s:%d", filepath.Base(r.Filename), r.Start.Line)
}

func errorf(subject *hcl.Range, summary, format string, args ...any) *hcl.Diagnostic {
	return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: fmt.Sprintf(format, args...), Subject: subject}
}
