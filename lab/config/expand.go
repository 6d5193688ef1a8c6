package config

import (
	"fmt"
	"math/big"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"

	"labs.dev/lab/lab/resource"
)

// MaxInstances bounds the instances one block's for_each or count makes:
// a workshop of a thousand learners is larger than any classroom, and a
// count of 1e9 would otherwise plan forever.
const MaxInstances = 1000

// expansion is what a block's for_each or count made of it.
type expansion struct {
	done   bool // worked out; false while being expanded or not yet
	failed bool // could not be worked out; the error is reported
	keys   []resource.Key
	values map[resource.Key]cty.Value // each.value, for for_each
}

// usable reports whether the instances are known.
func (e expansion) usable() bool { return e.done && !e.failed }

// expand works out the instances of every resource and lab block:
// for_each and count are evaluated before planning, against variables,
// locals and the keys of other blocks (never against values known only
// after apply), so plan, state, status and graph all see the same
// addresses. Blocks are expanded after the blocks their for_each or
// count refers to.
func (c *Config) expand() hcl.Diagnostics {
	c.blocks = map[resource.Addr]*Block{}
	for _, b := range c.Blocks {
		c.blocks[b.Addr] = b
	}
	var diags hcl.Diagnostics
	state := map[*Block]int{} // 1 visiting, 2 done
	var visit func(b *Block, path []string)
	visit = func(b *Block, path []string) {
		switch state[b] {
		case 2:
			return
		case 1:
			expr := b.ForEach
			if expr == nil {
				expr = b.Count
			}
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Cycle in for_each or count",
				Detail: fmt.Sprintf("The instances of %s depend on themselves: %s. A block's for_each or count may use other blocks' keys, not its own.",
					b.Addr, strings.Join(append(path, b.Addr.String()), " → ")),
				Subject: expr.Range().Ptr(),
			})
			b.instances = expansion{done: true, failed: true}
			return
		}
		state[b] = 1
		for _, dep := range c.metaBlocks(b.ForEach, b.Count) {
			visit(dep, append(path, b.Addr.String()))
		}
		if !b.instances.done {
			e, d := c.expansionOf(b.ForEach, b.Count, b.Addr.String())
			diags = append(diags, d...)
			b.instances = e
		}
		state[b] = 2
	}
	for _, b := range c.Blocks {
		visit(b, nil)
	}

	c.byAddr = map[resource.Addr]*Resource{}
	for _, b := range c.Blocks {
		for _, k := range b.keys() {
			r := &Resource{
				Addr: resource.Addr{Type: b.Addr.Type, Name: b.Addr.Name, Key: k}, Block: b,
				Body: b.Body, Kind: b.Kind, clusterExpr: b.clusterExpr, DeclRange: b.DeclRange,
				each: b.instances.values[k],
			}
			c.Resources = append(c.Resources, r)
			c.byAddr[r.Addr] = r
		}
	}
	for _, l := range c.labBlocks {
		e, d := c.expansionOf(l.forEach, l.count, "lab "+l.name)
		diags = append(diags, d...)
		multi := l.forEach != nil || l.count != nil
		keys := []resource.Key{{}}
		if multi {
			keys = e.keys
		}
		for _, k := range keys {
			c.Labs = append(c.Labs, &Lab{Name: l.name, Key: k, Multi: multi, Body: l.body, DeclRange: l.declRange, forEach: l.forEach, each: e.values[k]})
		}
	}
	return diags
}

// keys are the block's instance keys: the zero key for a block without
// for_each or count, none when its for_each or count failed.
func (b *Block) keys() []resource.Key {
	if !b.Multi() {
		return []resource.Key{{}}
	}
	if !b.instances.usable() {
		return nil
	}
	return b.instances.keys
}

// Instances are the addresses of the block's instances.
func (b *Block) Instances() []resource.Addr {
	var out []resource.Addr
	for _, k := range b.keys() {
		out = append(out, resource.Addr{Type: b.Addr.Type, Name: b.Addr.Name, Key: k})
	}
	return out
}

// metaBlocks lists the resource blocks a for_each or count expression
// refers to, directly or through locals.
func (c *Config) metaBlocks(exprs ...hcl.Expression) []*Block {
	var out []*Block
	seen := map[*Block]bool{}
	locals := map[string]bool{}
	for _, e := range exprs {
		if e != nil {
			c.references(e.Variables(), locals, func(a resource.Addr) {
				if b := c.blocks[a]; b != nil && !seen[b] {
					seen[b] = true
					out = append(out, b)
				}
			})
		}
	}
	return out
}

// expansionOf evaluates a block's for_each or count; what names the
// block in messages.
func (c *Config) expansionOf(forEach, count hcl.Expression, what string) (expansion, hcl.Diagnostics) {
	expr := forEach
	if expr == nil {
		expr = count
	}
	if expr == nil {
		return expansion{done: true}, nil
	}
	failed := expansion{done: true, failed: true}
	// An undeclared name is said as such, not as the type error it
	// would cause.
	if _, d := c.resolve(expr.Variables(), refScope{}, nil); d.HasErrors() {
		return failed, d
	}
	ctx, _, _ := c.evalContext(nil)
	v, diags := expr.Value(ctx)
	if diags.HasErrors() {
		return failed, diags
	}
	var d *hcl.Diagnostic
	e := expansion{done: true}
	if forEach != nil {
		e, d = forEachKeys(v, expr, what, c.exprText(expr))
	} else {
		e, d = countKeys(v, expr, what)
	}
	if d == nil {
		return e, nil
	}
	if d.Summary == unknownSummary {
		// Unknown because a variable or local it uses failed (reported
		// already), or because it uses values only apply knows.
		blocks := c.metaBlocks(expr)
		if len(blocks) == 0 {
			return failed, nil
		}
		for _, b := range blocks {
			if b.instances.failed {
				return failed, nil // its own error says why
			}
		}
		var names []string
		for _, b := range blocks {
			names = append(names, b.Addr.String())
		}
		d.Detail = fmt.Sprintf("The %s of %s uses values of %s that are known only after apply. lab works out every block's instances before planning, so build for_each and count from variables and locals (for_each = var.learners), or from another block's keys (for_each = namespace.dev).",
			metaName(forEach), what, strings.Join(names, ", "))
	}
	return failed, hcl.Diagnostics{d}
}

const unknownSummary = "Instances not known before apply"

func metaName(forEach hcl.Expression) string {
	if forEach != nil {
		return "for_each"
	}
	return "count"
}

func forEachKeys(v cty.Value, expr hcl.Expression, what, text string) (expansion, *hcl.Diagnostic) {
	bad := func(format string, args ...any) (expansion, *hcl.Diagnostic) {
		return expansion{}, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Invalid for_each argument",
			Detail:   fmt.Sprintf("for_each of %s: ", what) + fmt.Sprintf(format, args...),
			Subject:  expr.Range().Ptr(),
		}
	}
	if v.ContainsMarked() {
		return bad("it is built from a sensitive value, and its keys would show in every address, plan and state. Build it from values that are not sensitive.")
	}
	switch {
	case v.IsNull():
		return bad("it is null; give it a map, or a set of strings (toset([...])), even an empty one.")
	case !v.IsKnown():
		return expansion{}, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: unknownSummary, Subject: expr.Range().Ptr()}
	}
	ty := v.Type()
	e := expansion{done: true, values: map[resource.Key]cty.Value{}}
	switch {
	case ty.IsObjectType() || ty.IsMapType():
		if n := v.LengthInt(); n > MaxInstances {
			return bad("it has %d keys; lab makes at most %d instances of one block.", n, MaxInstances)
		}
		for it := v.ElementIterator(); it.Next(); {
			k, val := it.Element()
			key := resource.StringKey(k.AsString())
			e.keys = append(e.keys, key)
			e.values[key] = val
		}
	case ty.IsSetType():
		et := ty.ElementType()
		if et != cty.String && et != cty.DynamicPseudoType {
			return bad("a set used as for_each must hold strings (its elements become the keys), and this one holds %s. Convert them, like toset([for x in ... : tostring(x)]).", et.FriendlyName())
		}
		if !v.IsWhollyKnown() {
			return expansion{}, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: unknownSummary, Subject: expr.Range().Ptr()}
		}
		if n := v.LengthInt(); n > MaxInstances {
			return bad("it has %d elements; lab makes at most %d instances of one block.", n, MaxInstances)
		}
		for it := v.ElementIterator(); it.Next(); {
			_, el := it.Element()
			if el.IsNull() {
				return bad("its set has a null element; every element becomes a key and must be a string.")
			}
			if el.Type() != cty.String {
				return bad("its set holds a %s; every element becomes a key and must be a string.", el.Type().FriendlyName())
			}
			key := resource.StringKey(el.AsString())
			e.keys = append(e.keys, key)
			e.values[key] = el
		}
	case ty.IsListType() || ty.IsTupleType():
		why := ""
		if dups := duplicates(v); len(dups) > 0 {
			why = fmt.Sprintf(" It also holds %s more than once, and each key must be unique: a set keeps one of each.", strings.Join(dups, ", "))
		}
		return bad("it is a list, whose elements have no keys of their own. Give it a map, or a set of strings: for_each = toset(%s).%s", text, why)
	default:
		return bad("it is a %s; give it a map, or a set of strings (toset([...])).", ty.FriendlyName())
	}
	return e, nil
}

// duplicates lists the string elements of a list that occur twice.
func duplicates(v cty.Value) []string {
	if !v.IsWhollyKnown() {
		return nil
	}
	seen := map[string]int{}
	var out []string
	for it := v.ElementIterator(); it.Next(); {
		_, el := it.Element()
		if el.IsNull() || el.Type() != cty.String {
			continue
		}
		s := el.AsString()
		if seen[s]++; seen[s] == 2 {
			out = append(out, resource.Quote(s))
		}
	}
	return out
}

// exprText is the source of a short expression, "..." for a long one.
func (c *Config) exprText(expr hcl.Expression) string {
	r := expr.Range()
	f := c.Files[r.Filename]
	if f == nil || r.End.Byte > len(f.Bytes) || r.Start.Byte < 0 || r.End.Byte-r.Start.Byte > 60 {
		return "..."
	}
	return string(f.Bytes[r.Start.Byte:r.End.Byte])
}

func countKeys(v cty.Value, expr hcl.Expression, what string) (expansion, *hcl.Diagnostic) {
	bad := func(format string, args ...any) (expansion, *hcl.Diagnostic) {
		return expansion{}, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Invalid count argument",
			Detail:   fmt.Sprintf("count of %s: ", what) + fmt.Sprintf(format, args...),
			Subject:  expr.Range().Ptr(),
		}
	}
	if v.ContainsMarked() {
		return bad("it is built from a sensitive value; the number of instances would show it. Use a value that is not sensitive.")
	}
	if !v.IsKnown() {
		return expansion{}, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: unknownSummary, Subject: expr.Range().Ptr()}
	}
	n, err := convert.Convert(v, cty.Number)
	if err != nil {
		return bad("it must be a whole number, and it is a %s.", v.Type().FriendlyName())
	}
	if n.IsNull() {
		return bad("it is null; give it a whole number (0 for none).")
	}
	bf := n.AsBigFloat()
	if !bf.IsInt() {
		return bad("%s is not a whole number.", bf.Text('g', 10))
	}
	if bf.Sign() < 0 {
		return bad("%s is negative; give it 0 or more.", bf.Text('f', 0))
	}
	if bf.Cmp(big.NewFloat(MaxInstances)) > 0 {
		return bad("it is %s; lab makes at most %d instances of one block.", bf.Text('f', 0), MaxInstances)
	}
	i, _ := bf.Int64()
	e := expansion{done: true}
	for j := 0; j < int(i); j++ {
		e.keys = append(e.keys, resource.IntKey(j))
	}
	return e, nil
}

// scope returns ctx with each (for_each) or count (count) of the
// instance with key: each.value is evaluated again against ctx, so it
// sees what is known now (another block's planned values), and falls
// back to its value at load.
func scope(ctx *hcl.EvalContext, key resource.Key, forEach hcl.Expression, loaded cty.Value) *hcl.EvalContext {
	if key.IsZero() {
		return ctx
	}
	child := ctx.NewChild()
	if key.IsInt() {
		child.Variables = map[string]cty.Value{"count": cty.ObjectVal(map[string]cty.Value{"index": key.Value()})}
		return child
	}
	value := loaded
	if value == cty.NilVal {
		value = cty.DynamicVal
	}
	if forEach != nil {
		if v, d := forEach.Value(ctx); !d.HasErrors() && v.IsKnown() && !v.IsNull() {
			if fresh, ok := element(v, key.Raw()); ok {
				value = fresh
			}
		}
	}
	child.Variables = map[string]cty.Value{"each": cty.ObjectVal(map[string]cty.Value{"key": key.Value(), "value": value})}
	return child
}

// element is v's element under key: an attribute, a map entry, or a
// set's string element itself.
func element(v cty.Value, key string) (cty.Value, bool) {
	ty := v.Type()
	switch {
	case ty.IsObjectType():
		if ty.HasAttribute(key) {
			return v.GetAttr(key), true
		}
	case ty.IsMapType():
		k := cty.StringVal(key)
		if v.HasIndex(k).True() {
			return v.Index(k), true
		}
	case ty.IsSetType():
		return cty.StringVal(key), true
	}
	return cty.NilVal, false
}

// Scope is ctx with the instance's each or count.
func (l *Lab) Scope(ctx *hcl.EvalContext) *hcl.EvalContext {
	return scope(ctx, l.Key, l.forEach, l.each)
}
