package kubernetes

import (
	"sort"

	"github.com/zclconf/go-cty/cty"
)

// The engine hands over objects of the kind's schema, and state written
// by an older lab may lack attributes, so these read defensively: an absent,
// null, unknown or mistyped attribute reads as its zero value.

func attr(v cty.Value, name string) (cty.Value, bool) {
	if v == cty.NilVal || v.IsNull() || !v.IsKnown() || !v.Type().IsObjectType() || !v.Type().HasAttribute(name) {
		return cty.NilVal, false
	}
	a := v.GetAttr(name)
	if a.IsNull() || !a.IsKnown() {
		return cty.NilVal, false
	}
	return a, true
}

func strAttr(v cty.Value, name string) string {
	a, ok := attr(v, name)
	if !ok || a.Type() != cty.String {
		return ""
	}
	return a.AsString()
}

func boolAttr(v cty.Value, name string, def bool) bool {
	a, ok := attr(v, name)
	if !ok || a.Type() != cty.Bool {
		return def
	}
	return a.True()
}

// mapAttr reads a map (or object) of strings; nil when absent.
func mapAttr(v cty.Value, name string) map[string]string {
	a, ok := attr(v, name)
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

func listAttr(v cty.Value, name string) []cty.Value {
	a, ok := attr(v, name)
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

func strList(v cty.Value, name string) []string {
	var out []string
	for _, e := range listAttr(v, name) {
		if !e.IsNull() && e.IsKnown() && e.Type() == cty.String {
			out = append(out, e.AsString())
		}
	}
	return out
}

// withAttrs is config plus computed attributes: what Apply returns.
func withAttrs(config cty.Value, computed map[string]cty.Value) cty.Value {
	m := map[string]cty.Value{}
	if config != cty.NilVal && !config.IsNull() && config.Type().IsObjectType() {
		m = config.AsValueMap()
		if m == nil {
			m = map[string]cty.Value{}
		}
	}
	for k, v := range computed {
		m[k] = v
	}
	return cty.ObjectVal(m)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
