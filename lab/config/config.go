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
	"sync"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
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
	// Blocks are the resource blocks as written, in file order; Resources
	// their instances (one per block, or one per for_each key or count
	// index), in file order and then by key.
	Blocks    []*Block
	Resources []*Resource
	Outputs   []*Output
	// Labs are the lab blocks' instances, as Resources are.
	Labs []*Lab

	values    map[string]cty.Value // variable values, set by Load
	kinds     map[string]resource.Kind
	byAddr    map[resource.Addr]*Resource
	blocks    map[resource.Addr]*Block
	labBlocks []*labBlock
	statics   statics
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

// Block is a `resource "type" "name"` block as written. With for_each
// or count it stands for several instances, each a Resource.
type Block struct {
	Addr resource.Addr // without a key
	Kind resource.Kind
	// Body holds the arguments, without the engine's (depends_on,
	// cluster, for_each, count).
	Body hcl.Body
	// ForEach and Count are the expressions that make instances; nil
	// when absent.
	ForEach, Count hcl.Expression
	DeclRange      hcl.Range

	dependsOn   []hcl.Expression
	clusterExpr hcl.Expression
	instances   expansion
	needsOnce   sync.Once
	needs       *needs
}

// Multi reports whether the block has for_each or count: references to
// it name a collection of instances.
func (b *Block) Multi() bool { return b.ForEach != nil || b.Count != nil }

// Resource is one instance of a resource block: the block itself, or
// the instance of one for_each key or count index.
type Resource struct {
	// Addr holds the instance key, if any.
	Addr  resource.Addr
	Block *Block
	// Body holds the arguments, without depends_on.
	Body hcl.Body
	Kind resource.Kind
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
	// each is each.value as for_each gave it at load (cty.NilVal without
	// for_each); Decode evaluates it again against what is known then.
	each cty.Value
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

// Lab is an instance of a `lab "name"` block (the block itself, or one
// for_each key or count index); lab/verify decodes its body.
type Lab struct {
	Name string
	// Key is the instance key; zero for a block without for_each or count.
	Key resource.Key
	// Multi is true when the block has for_each or count (even with one
	// instance): its instances are a lab's learners.
	Multi     bool
	Body      hcl.Body
	DeclRange hcl.Range
	forEach   hcl.Expression
	each      cty.Value
}

// Address names the instance as commands print it: deploy-fleet,
// deploy-fleet["alice"].
func (l *Lab) Address() string { return l.Name + l.Key.String() }

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
	diags = append(diags, c.expand()...)
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
				c.Blocks = append(c.Blocks, r)
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
			l, d := decodeLab(b)
			diags = append(diags, d...)
			c.labBlocks = append(c.labBlocks, l)
		}
	}
	return diags
}

func (c *Config) decodeResource(b *hcl.Block) (*Block, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	typ, name := b.Labels[0], b.Labels[1]
	if !validName(name, b.LabelRanges[1], &diags) {
		return nil, diags
	}
	r := &Block{Addr: resource.Addr{Type: typ, Name: name}, DeclRange: b.DefRange}
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
	meta := &hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "depends_on"}, {Name: "for_each"}, {Name: "count"}}}
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
		exprs, d := hcl.ExprList(a.Expr)
		diags = append(diags, d...)
		r.dependsOn = exprs
	}
	r.ForEach, r.Count = metaExprs(content, &diags)
	return r, diags
}

// metaExprs reads for_each and count, which exclude each other.
func metaExprs(content *hcl.BodyContent, diags *hcl.Diagnostics) (forEach, count hcl.Expression) {
	if a, ok := content.Attributes["for_each"]; ok {
		forEach = a.Expr
	}
	if a, ok := content.Attributes["count"]; ok {
		if forEach != nil {
			*diags = append(*diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid combination of count and for_each",
				Detail:   "A block may have count or for_each, not both: for_each makes one instance per key, count one per index. Keep one.",
				Subject:  a.NameRange.Ptr(),
			})
		} else {
			count = a.Expr
		}
	}
	return forEach, count
}

// labBlock is a lab block as written; expand makes its instances.
type labBlock struct {
	name           string
	body           hcl.Body
	forEach, count hcl.Expression
	declRange      hcl.Range
}

func decodeLab(b *hcl.Block) (*labBlock, hcl.Diagnostics) {
	meta := &hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "for_each"}, {Name: "count"}}}
	content, rest, diags := b.Body.PartialContent(meta)
	l := &labBlock{name: b.Labels[0], body: rest, declRange: b.DefRange}
	l.forEach, l.count = metaExprs(content, &diags)
	return l, diags
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
	// The instances of one block share its body: say each problem once.
	seen := map[string]bool{}
	for _, r := range c.Resources {
		v, d := r.Decode(ctx)
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

// Resource returns the resource instance with address a.
func (c *Config) Resource(a resource.Addr) *Resource {
	if c.byAddr != nil {
		return c.byAddr[a]
	}
	for _, r := range c.Resources {
		if r.Addr == a {
			return r
		}
	}
	return nil
}

// Block returns the resource block with address a (its key ignored).
func (c *Config) Block(a resource.Addr) *Block {
	a = a.Block()
	if c.blocks != nil {
		return c.blocks[a]
	}
	for _, b := range c.Blocks {
		if b.Addr == a {
			return b
		}
	}
	return nil
}

// Lab returns the first instance of the lab block named name.
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
