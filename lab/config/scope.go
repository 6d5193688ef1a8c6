package config

import (
	"fmt"
	"os"
	"sort"
	"strings"

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

// evalContext is EvalContext with the diagnostics about the order of
// locals (cycles, which checkReferences reports) apart from those of
// evaluating them.
func (c *Config) evalContext(known map[resource.Addr]cty.Value) (*hcl.EvalContext, hcl.Diagnostics, hcl.Diagnostics) {
	byType := map[string]map[string]cty.Value{}
	for _, r := range c.Resources {
		v, ok := known[r.Addr]
		if !ok || v == cty.NilVal {
			v = cty.DynamicVal
		}
		if byType[r.Addr.Type] == nil {
			byType[r.Addr.Type] = map[string]cty.Value{}
		}
		byType[r.Addr.Type][r.Addr.Name] = v
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
		vars["local"] = c.localsFor(c.Locals[name].Expr, locals)
		v, d := c.Locals[name].Expr.Value(ctx)
		diags = append(diags, d...)
		if d.HasErrors() {
			v = cty.DynamicVal
		}
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

// Decode evaluates a resource's arguments in ctx into its kind's schema.
func (r *Resource) Decode(ctx *hcl.EvalContext) (cty.Value, hcl.Diagnostics) {
	return hcldec.Decode(r.Body, r.Kind.Schema(), ctx)
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

// checkReferences resolves every reference in resources, locals and
// outputs, reports undeclared ones, and fills in each resource's Deps.
func (c *Config) checkReferences() hcl.Diagnostics {
	var diags hcl.Diagnostics
	declared := map[resource.Addr]bool{}
	for _, r := range c.Resources {
		declared[r.Addr] = true
	}
	// Resources each local needs, directly or through other locals.
	localDeps := map[string][]resource.Addr{}
	order, d := c.localOrder()
	diags = append(diags, d...)
	for _, name := range order {
		deps, d := c.resolve(c.Locals[name].Expr.Variables(), declared, localDeps)
		diags = append(diags, d...)
		localDeps[name] = deps
	}
	for _, r := range c.Resources {
		deps, d := c.resolve(hcldec.Variables(r.Body, r.Kind.Schema()), declared, localDeps)
		diags = append(diags, d...)
		for _, dep := range r.DependsOn {
			if !declared[dep] {
				diags = append(diags, undeclaredResource(dep, r.DeclRange, c))
				continue
			}
			deps = append(deps, dep)
		}
		r.Deps = uniqueAddrs(deps, r.Addr)
	}
	for _, o := range c.Outputs {
		_, d := c.resolve(o.Value.Variables(), declared, localDeps)
		diags = append(diags, d...)
	}
	for _, l := range c.Labs {
		// Lab bodies have their own names (the objects a check selects);
		// only references into the config's namespaces are checked here.
		attrs := labTraversals(l.Body)
		_, d := c.resolveKnownRoots(attrs, declared, localDeps)
		diags = append(diags, d...)
	}
	return diags
}

func (c *Config) resolveKnownRoots(travs []hcl.Traversal, declared map[resource.Addr]bool, localDeps map[string][]resource.Addr) ([]resource.Addr, hcl.Diagnostics) {
	var keep []hcl.Traversal
	for _, t := range travs {
		root := t.RootName()
		if root == "var" || root == "local" {
			keep = append(keep, t)
		}
	}
	return c.resolve(keep, declared, localDeps)
}

func (c *Config) resolve(travs []hcl.Traversal, declared map[resource.Addr]bool, localDeps map[string][]resource.Addr) ([]resource.Addr, hcl.Diagnostics) {
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
		case c.kinds[root] != nil:
			a := resource.Addr{Type: root, Name: second}
			if !declared[a] {
				diags = append(diags, undeclaredResource(a, t.SourceRange(), c))
				continue
			}
			deps = append(deps, a)
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

func undeclaredResource(a resource.Addr, subject hcl.Range, c *Config) *hcl.Diagnostic {
	var same []string
	for _, r := range c.Resources {
		if r.Addr.Type == a.Type {
			same = append(same, r.Addr.Name)
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

func uniqueAddrs(in []resource.Addr, self resource.Addr) []resource.Addr {
	seen := map[resource.Addr]bool{}
	var out []resource.Addr
	for _, a := range in {
		if seen[a] {
			continue
		}
		seen[a] = true
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
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
