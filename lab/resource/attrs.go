package resource

import (
	"math/big"

	"github.com/zclconf/go-cty/cty"
)

// Kinds read their config and prior attributes with these. They read
// defensively: state written by an older lab may lack attributes, so an
// absent, null, unknown or mistyped attribute reads as its zero value.

// Attr returns v's attribute name when v is an object that has it set.
func Attr(v cty.Value, name string) (cty.Value, bool) {
	if v == cty.NilVal || v.IsNull() || !v.IsKnown() || !v.Type().IsObjectType() || !v.Type().HasAttribute(name) {
		return cty.NilVal, false
	}
	a := v.GetAttr(name)
	if a.IsMarked() {
		a, _ = a.Unmark()
	}
	if a.IsNull() || !a.IsKnown() {
		return cty.NilVal, false
	}
	return a, true
}

// StringAttr reads a string attribute; "" when absent.
func StringAttr(v cty.Value, name string) string {
	a, ok := Attr(v, name)
	if !ok || a.Type() != cty.String {
		return ""
	}
	return a.AsString()
}

// Known reports whether v and each named attribute it has are known
// (an attribute it lacks counts as known: it reads as absent).
func Known(v cty.Value, names ...string) bool {
	if v == cty.NilVal || !v.IsKnown() {
		return false
	}
	if v.IsNull() || !v.Type().IsObjectType() {
		return true
	}
	for _, n := range names {
		if v.Type().HasAttribute(n) && !v.GetAttr(n).IsKnown() {
			return false
		}
	}
	return true
}

// Unknown reports whether v's attribute name is set to a value not (wholly)
// known yet, such as a reference to a resource not applied yet: a kind
// skips its checks of it rather than read it as absent.
func Unknown(v cty.Value, name string) bool {
	if v == cty.NilVal {
		return false
	}
	v, _ = v.Unmark()
	if !v.IsKnown() {
		return true
	}
	if v.IsNull() || !v.Type().IsObjectType() || !v.Type().HasAttribute(name) {
		return false
	}
	return !v.GetAttr(name).IsWhollyKnown()
}

// BoolAttr reads a bool attribute; def when absent.
func BoolAttr(v cty.Value, name string, def bool) bool {
	a, ok := Attr(v, name)
	if !ok || a.Type() != cty.Bool {
		return def
	}
	return a.True()
}

// IntAttr reads a whole-number attribute; 0 when absent, -1 when not whole.
func IntAttr(v cty.Value, name string) int64 {
	a, ok := Attr(v, name)
	if !ok || a.Type() != cty.Number {
		return 0
	}
	i, acc := a.AsBigFloat().Int64()
	if acc != big.Exact {
		return -1
	}
	return i
}

// ListAttr reads a list, set or tuple attribute's elements; nil when absent.
func ListAttr(v cty.Value, name string) []cty.Value {
	a, ok := Attr(v, name)
	if !ok || !a.CanIterateElements() {
		return nil
	}
	var out []cty.Value
	for it := a.ElementIterator(); it.Next(); {
		_, e := it.Element()
		out = append(out, e)
	}
	return out
}

// StringListAttr reads the string elements of a list attribute.
func StringListAttr(v cty.Value, name string) []string {
	var out []string
	for _, e := range ListAttr(v, name) {
		if !e.IsNull() && e.IsKnown() && e.Type() == cty.String {
			out = append(out, e.AsString())
		}
	}
	return out
}

// StringMapAttr reads a map (or object) of strings; nil when absent.
func StringMapAttr(v cty.Value, name string) map[string]string {
	a, ok := Attr(v, name)
	if !ok || !(a.Type().IsMapType() || a.Type().IsObjectType()) {
		return nil
	}
	out := map[string]string{}
	for it := a.ElementIterator(); it.Next(); {
		k, e := it.Element()
		if e.IsNull() || !e.IsKnown() || e.Type() != cty.String {
			continue
		}
		out[k.AsString()] = e.AsString()
	}
	return out
}

// WithAttrs is config plus computed attributes: what Apply returns.
func WithAttrs(config cty.Value, computed map[string]cty.Value) cty.Value {
	m := map[string]cty.Value{}
	if config != cty.NilVal && !config.IsNull() && config.Type().IsObjectType() {
		for k, v := range config.AsValueMap() {
			m[k] = v
		}
	}
	for k, v := range computed {
		m[k] = v
	}
	return cty.ObjectVal(m)
}
