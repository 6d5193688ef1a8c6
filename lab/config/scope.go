package config

import (
	"fmt"
	"math/big"
	"os"
	"sort"
	"strings"
	"sync"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"labs.dev/lab/lab/resource"
)

// Sensitive marks values of sensitive variables; lab redacts them.
const Sensitive = "sensitive"

// EvalContext returns the scope expressions are evaluated in: var.*,
// local.*, path.*, <type>.<name>.* and the functions. Resources missing
// from known evaluate as unknown ("known after apply").
func (c *Config) EvalContext(known map[resource.Addr]cty.Value) (*hcl.EvalContext, hcl.Diagnostics) {
	ctx, orderDiags, evalDiags := c.evalContext(known)
	return ctx, append(orderDiags, evalDiags...)
}

// EvalContextFor is EvalContext with only what r's block refers to
// (directly or through locals): building every block's values and every
// local for each of hundreds of instances would make planning them
// quadratic.
func (c *Config) EvalContextFor(r *Resource, known map[resource.Addr]cty.Value) (*hcl.EvalContext, hcl.Diagnostics) {
	if r.Block == nil {
		return c.EvalContext(known)
	}
	ctx, orderDiags, evalDiags := c.scopeOf(known, c.needsOf(r.Block))
	return ctx, append(orderDiags, evalDiags...)
}

// needs is what a block's expressions refer to.
type needs struct {
	blocks map[resource.Addr]bool
	locals map[string]bool
}

// references calls found with each resource block travs name, directly
// or through locals; locals records the locals it went through, each
// once.
func (c *Config) references(travs []hcl.Traversal, locals map[string]bool, found func(resource.Addr)) {
	for _, t := range travs {
		root, second := t.RootName(), ""
		if len(t) > 1 {
			second = attrName(t[1])
		}
		switch {
		case root == "local":
			if l := c.Locals[second]; l != nil && !locals[second] {
				locals[second] = true
				c.references(l.Expr.Variables(), locals, found)
			}
		case c.kinds[root] != nil:
			found(resource.Addr{Type: root, Name: second})
		}
	}
}

func (c *Config) needsOf(b *Block) *needs {
	b.needsOnce.Do(func() {
		n := &needs{blocks: map[resource.Addr]bool{}, locals: map[string]bool{}}
		add := func(a resource.Addr) { n.blocks[a] = true }
		c.references(hcldec.Variables(b.Body, b.Kind.Schema()), n.locals, add)
		for _, e := range []hcl.Expression{b.ForEach, b.Count} {
			if e != nil {
				c.references(e.Variables(), n.locals, add)
			}
		}
		b.needs = n
	})
	return b.needs
}

// evalContext is EvalContext with the diagnostics about the order of
// locals (cycles, which checkReferences reports) apart from those of
// evaluating them.
func (c *Config) evalContext(known map[resource.Addr]cty.Value) (*hcl.EvalContext, hcl.Diagnostics, hcl.Diagnostics) {
	return c.scopeOf(known, nil)
}

// scopeOf builds the scope with only the blocks and locals in only (nil:
// all of them).
func (c *Config) scopeOf(known map[resource.Addr]cty.Value, only *needs) (*hcl.EvalContext, hcl.Diagnostics, hcl.Diagnostics) {
	get := func(a resource.Addr) cty.Value {
		if v, ok := known[a]; ok && v != cty.NilVal {
			return v
		}
		return cty.DynamicVal
	}
	byType := map[string]map[string]cty.Value{}
	for _, b := range c.Blocks {
		if only != nil && !only.blocks[b.Addr] {
			continue
		}
		var v cty.Value
		switch {
		case !b.Multi():
			v = get(b.Addr)
		case !b.instances.usable():
			// Not expanded yet, or its for_each failed (reported).
			v = cty.DynamicVal
		case b.ForEach != nil:
			m := make(map[string]cty.Value, len(b.instances.keys))
			for _, a := range b.Instances() {
				m[a.Key.Raw()] = get(a)
			}
			v = objectOrEmpty(m)
		default:
			var l []cty.Value
			for _, a := range b.Instances() {
				l = append(l, get(a))
			}
			v = cty.EmptyTupleVal
			if len(l) > 0 {
				v = cty.TupleVal(l)
			}
		}
		if byType[b.Addr.Type] == nil {
			byType[b.Addr.Type] = map[string]cty.Value{}
		}
		byType[b.Addr.Type][b.Addr.Name] = v
	}
	vars := map[string]cty.Value{
		"var":  objectOrEmpty(c.values),
		"path": cty.ObjectVal(map[string]cty.Value{"root": cty.StringVal(c.Dir), "module": cty.StringVal(c.Dir), "cwd": cty.StringVal(cwd())}),
	}
	for typ, names := range byType {
		vars[typ] = cty.ObjectVal(names)
	}
	ctx := &hcl.EvalContext{Variables: vars, Functions: Functions(c.Dir)}

	locals := map[string]cty.Value{}
	var diags hcl.Diagnostics
	order, orderDiags := c.localOrder()
	for _, name := range order {
		if only != nil && !only.locals[name] {
			continue
		}
		if v, d, ok := c.staticLocal(name); ok {
			diags = append(diags, d...)
			locals[name] = v
			continue
		}
		vars["local"] = c.localsFor(c.Locals[name].Expr, locals)
		v, d := c.Locals[name].Expr.Value(ctx)
		diags = append(diags, d...)
		if d.HasErrors() {
			v = cty.DynamicVal
		}
		c.keepStatic(name, v, d)
		locals[name] = v
	}
	vars["local"] = objectOrEmpty(locals)
	return ctx, orderDiags, diags
}

// OutputValues evaluates the outputs against known resource values;
// sensitive ones come back marked, ones that fail to evaluate are left out.
func (c *Config) OutputValues(known map[resource.Addr]cty.Value) map[string]cty.Value {
	ctx, _ := c.EvalContext(known)
	out := map[string]cty.Value{}
	for _, o := range c.Outputs {
		v, diags := o.Value.Value(ctx)
		if diags.HasErrors() {
			continue
		}
		if o.Sensitive {
			v = v.Mark(Sensitive)
		}
		out[o.Name] = v
	}
	return out
}

// Decode evaluates a resource's arguments in ctx, with its each or
// count, into its kind's schema.
func (r *Resource) Decode(ctx *hcl.EvalContext) (cty.Value, hcl.Diagnostics) {
	var forEach hcl.Expression
	if r.Block != nil {
		forEach = r.Block.ForEach
	}
	return hcldec.Decode(r.Body, r.Kind.Schema(), scope(ctx, r.Addr.Key, forEach, r.each))
}

// localsFor is the local object an expression sees: only the locals it
// names, so evaluating n locals takes linear time, not n² (local[expr]
// needs them all). A declared local not evaluated yet is in a cycle,
// which is reported as such; here it is unknown.
func (c *Config) localsFor(expr hcl.Expression, all map[string]cty.Value) cty.Value {
	used := map[string]cty.Value{}
	for _, t := range expr.Variables() {
		if t.RootName() != "local" {
			continue
		}
		name := ""
		if len(t) > 1 {
			name = attrName(t[1])
		}
		if name == "" {
			return objectOrEmpty(all)
		}
		if v, ok := all[name]; ok {
			used[name] = v
		} else if c.Locals[name] != nil {
			used[name] = cty.DynamicVal
		}
	}
	return objectOrEmpty(used)
}

func objectOrEmpty(m map[string]cty.Value) cty.Value {
	if len(m) == 0 {
		return cty.EmptyObjectVal
	}
	return cty.ObjectVal(m)
}

func cwd() string {
	d, err := os.Getwd()
	if err != nil {
		return "."
	}
	return d
}

// localOrder sorts locals so each comes after the locals it uses.
func (c *Config) localOrder() ([]string, hcl.Diagnostics) {
	var names []string
	for n := range c.Locals {
		names = append(names, n)
	}
	sort.Strings(names)
	var order []string
	state := map[string]int{} // 0 new, 1 visiting, 2 done
	var diags hcl.Diagnostics
	var visit func(name string, path []string)
	visit = func(name string, path []string) {
		switch state[name] {
		case 2:
			return
		case 1:
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Cycle in local values",
				Detail:   fmt.Sprintf("local.%s refers to itself: %s. Break the cycle.", name, strings.Join(append(path, name), " → ")),
				Subject:  c.Locals[name].Expr.Range().Ptr(),
			})
			return
		}
		state[name] = 1
		for _, t := range c.Locals[name].Expr.Variables() {
			if t.RootName() == "local" && len(t) > 1 {
				if dep := attrName(t[1]); c.Locals[dep] != nil {
					visit(dep, append(path, name))
				}
			}
		}
		state[name] = 2
		order = append(order, name)
	}
	for _, n := range names {
		visit(n, nil)
	}
	return order, diags
}

// refScope says which instance names an expression may use: each in a
// block with for_each, count in one with count.
type refScope struct{ each, count bool }

// checkReferences resolves every reference in resources, locals and
// outputs, reports undeclared ones, and fills in each resource's Deps.
// A block's references are resolved once for all its instances.
func (c *Config) checkReferences() hcl.Diagnostics {
	var diags hcl.Diagnostics
	// Resources each local needs, directly or through other locals.
	localDeps := map[string][]resource.Addr{}
	order, d := c.localOrder()
	diags = append(diags, d...)
	for _, name := range order {
		deps, d := c.resolve(c.Locals[name].Expr.Variables(), refScope{}, localDeps)
		diags = append(diags, d...)
		localDeps[name] = deps
	}
	for _, b := range c.Blocks {
		in := refScope{each: b.ForEach != nil, count: b.Count != nil}
		travs := hcldec.Variables(b.Body, b.Kind.Schema())
		indexed, travs := c.indexedRefs(b, travs)
		deps, d := c.resolve(travs, in, localDeps)
		diags = append(diags, d...)
		for _, e := range b.dependsOn {
			trav, d := hcl.AbsTraversalForExpr(e)
			if d.HasErrors() || len(trav) < 2 || len(trav) > 3 || c.kinds[trav.RootName()] == nil || attrName(trav[1]) == "" {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Invalid depends_on entry",
					Detail:   "Each entry of depends_on must name a resource, like namespace.dev or namespace.dev[\"alice\"] (no quotes around it).",
					Subject:  e.Range().Ptr(),
				})
				continue
			}
			if _, ok := trav[1].(hcl.TraverseAttr); !ok {
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid depends_on entry",
					Detail: "Each entry of depends_on must name a resource, like namespace.dev.", Subject: e.Range().Ptr()})
				continue
			}
			if len(trav) == 3 {
				if _, ok := trav[2].(hcl.TraverseIndex); !ok {
					diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid depends_on entry",
						Detail: "depends_on names whole resources, not their attributes: write namespace.dev, not namespace.dev.name.", Subject: e.Range().Ptr()})
					continue
				}
			}
			more, d := c.resolve([]hcl.Traversal{trav}, in, localDeps)
			diags = append(diags, d...)
			deps = append(deps, more...)
		}
		own, d := c.instanceDeps(b, indexed)
		diags = append(diags, d...)
		each := c.forEachDeps(b, localDeps)
		for _, a := range b.Instances() {
			c.byAddr[a].Deps = uniqueAddrs(append(append(own[a.Key], each(a.Key)...), deps...))
		}
	}
	for _, o := range c.Outputs {
		_, d := c.resolve(o.Value.Variables(), refScope{}, localDeps)
		diags = append(diags, d...)
	}
	for _, l := range c.labBlocks {
		// Lab bodies have their own names (the objects a check selects);
		// only references into the config's namespaces are checked here.
		attrs := labTraversals(l.body)
		_, d := c.resolveKnownRoots(attrs, localDeps)
		diags = append(diags, d...)
	}
	return diags
}

// forEachDeps says what each instance of b needs for its each.value.
// With for_each = namespace.dev, instance "alice" is namespace.dev
// ["alice"] and needs that one only; a for_each built otherwise from
// resources needs every instance it uses.
func (c *Config) forEachDeps(b *Block, localDeps map[string][]resource.Addr) func(resource.Key) []resource.Addr {
	if b.ForEach == nil {
		return func(resource.Key) []resource.Addr { return nil }
	}
	if t, d := hcl.AbsTraversalForExpr(b.ForEach); !d.HasErrors() && len(t) == 2 && c.kinds[t.RootName()] != nil {
		if from := c.blocks[resource.Addr{Type: t.RootName(), Name: attrName(t[1])}]; from != nil && from.Multi() {
			return func(k resource.Key) []resource.Addr {
				a := resource.Addr{Type: from.Addr.Type, Name: from.Addr.Name, Key: k}
				if c.byAddr[a] == nil {
					return nil
				}
				return []resource.Addr{a}
			}
		}
	}
	// Its problems are reported where it is expanded.
	all, _ := c.resolve(b.ForEach.Variables(), refScope{}, localDeps)
	return func(resource.Key) []resource.Addr { return all }
}

func (c *Config) resolveKnownRoots(travs []hcl.Traversal, localDeps map[string][]resource.Addr) ([]resource.Addr, hcl.Diagnostics) {
	var keep []hcl.Traversal
	for _, t := range travs {
		root := t.RootName()
		if root == "var" || root == "local" {
			keep = append(keep, t)
		}
	}
	return c.resolve(keep, refScope{each: true, count: true}, localDeps)
}

// resolve checks references and returns the resource instances they
// need: one instance for namespace.dev or namespace.dev["alice"], every
// instance for a block with for_each or count named whole
// (namespace.dev, namespace.dev[each.key]).
func (c *Config) resolve(travs []hcl.Traversal, in refScope, localDeps map[string][]resource.Addr) ([]resource.Addr, hcl.Diagnostics) {
	var deps []resource.Addr
	var diags hcl.Diagnostics
	for _, t := range travs {
		root := t.RootName()
		second := ""
		if len(t) > 1 {
			second = attrName(t[1])
		}
		switch {
		case root == "var":
			if _, ok := c.Variables[second]; !ok {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Reference to undeclared variable",
					Detail:   fmt.Sprintf("There is no variable %q. Declare it with a variable \"%s\" block.", second, second) + didYouMean(second, c.variableNames()),
					Subject:  t.SourceRange().Ptr(),
				})
			}
		case root == "local":
			if _, ok := c.Locals[second]; !ok {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Reference to undeclared local value",
					Detail:   fmt.Sprintf("There is no local value %q. Declare it in a locals block.", second) + didYouMean(second, c.localNames()),
					Subject:  t.SourceRange().Ptr(),
				})
				continue
			}
			deps = append(deps, localDeps[second]...)
		case root == "path":
		case root == "each" || root == "count":
			if d := instanceName(t, root, second, in); d != nil {
				diags = append(diags, d)
			}
		case c.kinds[root] != nil:
			more, d := c.resolveResource(t, root, second)
			if d != nil {
				diags = append(diags, d)
			}
			deps = append(deps, more...)
		default:
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Unknown reference",
				Detail: fmt.Sprintf("%q is not something a lab file can refer to. Use var.<name>, local.<name>, path.root, or <resource type>.<name> (types: %s).",
					root, c.kindList()) + didYouMean(root, append([]string{"var", "local", "path"}, c.kindNames()...)),
				Subject: t.SourceRange().Ptr(),
			})
		}
	}
	return deps, diags
}

// instanceName checks a use of each or count.
func instanceName(t hcl.Traversal, root, second string, in refScope) *hcl.Diagnostic {
	allowed, attrs, with := in.each, "key or value", "for_each"
	if root == "count" {
		allowed, attrs, with = in.count, "index", "count"
	}
	switch {
	case !allowed:
		return &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Reference to " + root + " outside " + with,
			Detail:   fmt.Sprintf("%s.%s is the instance's own key, known only inside a resource or lab block that has %s (and not in the %s expression itself). Add %s to this block, or refer to something else.", root, strings.Split(attrs, " ")[0], with, with, with),
			Subject:  t.SourceRange().Ptr(),
		}
	case (root == "each" && second != "key" && second != "value") || (root == "count" && second != "index"):
		return &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Invalid " + root + " reference",
			Detail:   fmt.Sprintf("%s has only %s: write %s.%s.", root, attrs, root, strings.Split(attrs, " ")[0]),
			Subject:  t.SourceRange().Ptr(),
		}
	}
	return nil
}

// resolveResource resolves a reference to a resource block or instance.
func (c *Config) resolveResource(t hcl.Traversal, typ, name string) ([]resource.Addr, *hcl.Diagnostic) {
	b := c.blocks[resource.Addr{Type: typ, Name: name}]
	if b == nil {
		return nil, undeclaredResource(resource.Addr{Type: typ, Name: name}, t.SourceRange(), c)
	}
	var index *hcl.TraverseIndex
	var attr string
	if len(t) > 2 {
		switch s := t[2].(type) {
		case hcl.TraverseIndex:
			index = &s
		case hcl.TraverseAttr:
			attr = s.Name
		}
	}
	switch {
	case !b.Multi() && index != nil:
		return nil, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Unexpected resource instance key",
			Detail:   fmt.Sprintf("%s has neither for_each nor count, so it is one instance without a key: refer to it as %s.", b.Addr, b.Addr),
			Subject:  t.SourceRange().Ptr(),
		}
	case !b.Multi():
		return []resource.Addr{b.Addr}, nil
	case !b.instances.usable():
		return nil, nil // its for_each or count is reported
	case attr != "":
		example := b.Addr.String() + `["alice"]`
		if b.Count != nil {
			example = b.Addr.String() + "[0]"
		}
		return nil, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Missing resource instance key",
			Detail: fmt.Sprintf("%s has %s, so it stands for several instances and %s.%s names none of them. Name one, like %s.%s or %s[%s.%s].%s, or all of them, like values(%s)[*].%s.",
				b.Addr, metaName(b.ForEach), b.Addr, attr, example, attr, b.Addr, map[bool]string{true: "each", false: "count"}[b.ForEach != nil], map[bool]string{true: "key", false: "index"}[b.ForEach != nil], attr, b.Addr, attr),
			Subject: t.SourceRange().Ptr(),
		}
	case index != nil:
		key, ok := keyFor(index.Key, b)
		if !ok {
			return nil, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid resource instance key",
				Detail:   fmt.Sprintf("%s has no instance %s; %s.", b.Addr, renderIndex(index.Key), keyList(b)),
				Subject:  t.SourceRange().Ptr(),
			}
		}
		return []resource.Addr{{Type: b.Addr.Type, Name: b.Addr.Name, Key: key}}, nil
	}
	return b.Instances(), nil
}

// keyFor finds the instance key an index names.
func keyFor(v cty.Value, b *Block) (resource.Key, bool) {
	if v.IsNull() || !v.IsKnown() {
		return resource.Key{}, false
	}
	var want resource.Key
	switch {
	case b.ForEach != nil && v.Type() == cty.String:
		want = resource.StringKey(v.AsString())
	case b.Count != nil && v.Type() == cty.Number:
		i, acc := v.AsBigFloat().Int64()
		if acc != big.Exact || i < 0 || i > MaxInstances {
			return resource.Key{}, false
		}
		want = resource.IntKey(int(i))
	default:
		return resource.Key{}, false
	}
	for _, k := range b.instances.keys {
		if k == want {
			return k, true
		}
	}
	return resource.Key{}, false
}

func renderIndex(v cty.Value) string {
	switch {
	case v.IsNull() || !v.IsKnown():
		return "[?]"
	case v.Type() == cty.String:
		return "[" + resource.Quote(v.AsString()) + "]"
	case v.Type() == cty.Number:
		return "[" + v.AsBigFloat().Text('f', -1) + "]"
	}
	return "[?]"
}

// keyList says which keys a block has, the first few of them.
func keyList(b *Block) string {
	if len(b.instances.keys) == 0 {
		return "it has no instances (its " + metaName(b.ForEach) + " is empty)"
	}
	var ks []string
	for i, k := range b.instances.keys {
		if i == 5 {
			ks = append(ks, fmt.Sprintf("and %d more", len(b.instances.keys)-5))
			break
		}
		ks = append(ks, k.String())
	}
	return "its instances are " + strings.Join(ks, ", ")
}

func undeclaredResource(a resource.Addr, subject hcl.Range, c *Config) *hcl.Diagnostic {
	var same []string
	for _, b := range c.Blocks {
		if b.Addr.Type == a.Type {
			same = append(same, b.Addr.Name)
		}
	}
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  "Reference to undeclared resource",
		Detail:   fmt.Sprintf("There is no %s resource named %q in this lab file.", a.Type, a.Name) + didYouMean(a.Name, same),
		Subject:  subject.Ptr(),
	}
}

func (c *Config) localNames() []string {
	var names []string
	for n := range c.Locals {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func uniqueAddrs(in []resource.Addr) []resource.Addr {
	seen := make(map[resource.Addr]bool, len(in))
	out := make([]resource.Addr, 0, len(in))
	for _, a := range in {
		if seen[a] {
			continue
		}
		seen[a] = true
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return resource.Compare(out[i], out[j]) < 0 })
	if len(out) == 0 {
		return nil
	}
	return out
}

// labTraversals lists the references in a lab block's attributes,
// descending into nested blocks.
func labTraversals(body hcl.Body) []hcl.Traversal {
	sb, ok := body.(*hclsyntax.Body)
	if !ok {
		return nil
	}
	var out []hcl.Traversal
	for _, a := range sb.Attributes {
		out = append(out, a.Expr.Variables()...)
	}
	for _, b := range sb.Blocks {
		out = append(out, labTraversals(b.Body)...)
	}
	return out
}

// statics remembers the locals that use no resource, directly or through
// other locals: their values never change once variables are set, and
// evaluating them again for each of hundreds of resources (a for over
// every learner) would dominate a plan.
type statics struct {
	once   sync.Once
	static map[string]bool
	mu     sync.Mutex
	values map[string]cty.Value
	diags  map[string]hcl.Diagnostics
}

func (c *Config) isStatic(name string) bool {
	c.statics.once.Do(func() {
		st := map[string]bool{}
		state := map[string]int{}
		var visit func(n string) bool
		visit = func(n string) bool {
			switch state[n] {
			case 1:
				return false // a cycle: reported elsewhere
			case 2:
				return st[n]
			}
			state[n] = 1
			ok := true
			for _, t := range c.Locals[n].Expr.Variables() {
				switch root := t.RootName(); {
				case root == "var" || root == "path":
				case root == "local" && len(t) > 1 && c.Locals[attrName(t[1])] != nil:
					ok = visit(attrName(t[1])) && ok
				default:
					ok = false
				}
			}
			state[n] = 2
			st[n] = ok
			return ok
		}
		for n := range c.Locals {
			visit(n)
		}
		c.statics.static = st
	})
	return c.statics.static[name]
}

func (c *Config) staticLocal(name string) (cty.Value, hcl.Diagnostics, bool) {
	if !c.isStatic(name) {
		return cty.NilVal, nil, false
	}
	c.statics.mu.Lock()
	defer c.statics.mu.Unlock()
	v, ok := c.statics.values[name]
	return v, c.statics.diags[name], ok
}

func (c *Config) keepStatic(name string, v cty.Value, d hcl.Diagnostics) {
	if !c.isStatic(name) {
		return
	}
	c.statics.mu.Lock()
	defer c.statics.mu.Unlock()
	if c.statics.values == nil {
		c.statics.values, c.statics.diags = map[string]cty.Value{}, map[string]hcl.Diagnostics{}
	}
	c.statics.values[name], c.statics.diags[name] = v, d
}

// indexedRef is namespace.dev[<key>] in a block's body where the key
// uses only each, count, variables and locals without resources: each
// instance then depends on the one instance its key names, not on all
// of them (fifty learners' roles do not each wait for, and record in
// state, every learner's namespace).
type indexedRef struct {
	block *Block
	key   hcl.Expression
}

// indexedRefs finds b's indexed references and returns the traversals
// that remain to resolve whole.
func (c *Config) indexedRefs(b *Block, travs []hcl.Traversal) ([]indexedRef, []hcl.Traversal) {
	body, ok := b.Body.(*hclsyntax.Body)
	if !ok || !b.Multi() {
		return nil, travs
	}
	var refs []indexedRef
	colls := map[hcl.Range]bool{}
	_ = hclsyntax.VisitAll(body, func(n hclsyntax.Node) hcl.Diagnostics {
		ix, ok := n.(*hclsyntax.IndexExpr)
		if !ok {
			return nil
		}
		coll, ok := ix.Collection.(*hclsyntax.ScopeTraversalExpr)
		if !ok || len(coll.Traversal) != 2 || c.kinds[coll.Traversal.RootName()] == nil {
			return nil
		}
		target := c.blocks[resource.Addr{Type: coll.Traversal.RootName(), Name: attrName(coll.Traversal[1])}]
		if target == nil || !target.Multi() || !target.instances.usable() || !c.perInstance(ix.Key) {
			return nil
		}
		refs = append(refs, indexedRef{block: target, key: ix.Key})
		colls[coll.Traversal.SourceRange()] = true
		return nil
	})
	if len(refs) == 0 {
		return nil, travs
	}
	var rest []hcl.Traversal
	for _, t := range travs {
		if !colls[t.SourceRange()] {
			rest = append(rest, t)
		}
	}
	return refs, rest
}

// perInstance reports whether key can be worked out for each instance
// before planning: it uses each, count, variables and locals that use
// no resource.
func (c *Config) perInstance(key hcl.Expression) bool {
	for _, t := range key.Variables() {
		switch root := t.RootName(); {
		case root == "each" || root == "count" || root == "var" || root == "path":
		case root == "local" && len(t) > 1 && c.Locals[attrName(t[1])] != nil && c.isStatic(attrName(t[1])):
		default:
			return false
		}
	}
	return true
}

// instanceDeps evaluates each indexed reference's key for every instance
// of b: the instance of the referenced block it names.
func (c *Config) instanceDeps(b *Block, refs []indexedRef) (map[resource.Key][]resource.Addr, hcl.Diagnostics) {
	if len(refs) == 0 {
		return nil, nil
	}
	ctx, _, _ := c.evalContext(nil)
	out := map[resource.Key][]resource.Addr{}
	var diags hcl.Diagnostics
	reported := map[hcl.Range]bool{}
	for _, a := range b.Instances() {
		r := c.byAddr[a]
		scoped := scope(ctx, a.Key, b.ForEach, r.each)
		for _, ref := range refs {
			v, d := ref.key.Value(scoped)
			if d.HasErrors() || !v.IsWhollyKnown() {
				out[a.Key] = append(out[a.Key], ref.block.Instances()...)
				continue
			}
			v, _ = v.Unmark()
			key, ok := keyFor(v, ref.block)
			if !ok {
				if !reported[ref.key.Range()] {
					reported[ref.key.Range()] = true
					diags = append(diags, &hcl.Diagnostic{
						Severity: hcl.DiagError,
						Summary:  "Invalid resource instance key",
						Detail:   fmt.Sprintf("For %s, this names %s%s, which does not exist; %s.", a, ref.block.Addr, renderIndex(v), keyList(ref.block)),
						Subject:  ref.key.Range().Ptr(),
					})
				}
				continue
			}
			out[a.Key] = append(out[a.Key], resource.Addr{Type: ref.block.Addr.Type, Name: ref.block.Addr.Name, Key: key})
		}
	}
	return out, diags
}
