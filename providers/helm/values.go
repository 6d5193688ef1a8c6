package helm

import (
	"encoding/json"
	"reflect"
	"sort"

	"labs.dev/lab/lab/resource"
)

// valuesDiff lists the value paths that differ between the values a
// release was made with (old) and the config's (new), like
// values.replicas: 2 → 3. Both sides are JSON-decoded, so numbers compare
// as float64. Lists are compared whole: an index-wise diff of a list with an
// inserted element reads worse than the two lists.
func valuesDiff(path resource.Path, old, new any) []resource.FieldDiff {
	om, oIsMap := old.(map[string]any)
	nm, nIsMap := new.(map[string]any)
	if (oIsMap || old == nil) && (nIsMap || new == nil) && (oIsMap || nIsMap) {
		keys := map[string]bool{}
		for k := range om {
			keys[k] = true
		}
		for k := range nm {
			keys[k] = true
		}
		sorted := make([]string, 0, len(keys))
		for k := range keys {
			sorted = append(sorted, k)
		}
		sort.Strings(sorted)
		var out []resource.FieldDiff
		for _, k := range sorted {
			out = append(out, valuesDiff(path.Field(k), om[k], nm[k])...)
		}
		return out
	}
	if reflect.DeepEqual(old, new) {
		return nil
	}
	return []resource.FieldDiff{{Path: path.String(), Old: renderValue(old), New: renderValue(new)}}
}

// renderValue shows a value as JSON, so "2" and 2 differ; nil (absent)
// is "".
func renderValue(v any) string {
	if v == nil {
		return ""
	}
	b, err := json.Marshal(v)
	if err != nil {
		return "?"
	}
	return string(b)
}
