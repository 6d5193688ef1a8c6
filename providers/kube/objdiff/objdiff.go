// Package objdiff compares the object lab or a chart wants with the live
// one the API server holds. The wanted object is a subset of the live one:
// fields others set or the server defaulted are not differences, and values
// the server normalises (1 vs 1.0, "0.5" vs "500m", Secret stringData into
// data) compare equal.
package objdiff

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"

	apiresource "k8s.io/apimachinery/pkg/api/resource"

	"labs.dev/lab/lab/resource"
)

// Field is one field a wanted object sets that the live object lacks or
// holds differently.
type Field struct {
	Path string
	// Old is the live value (nil when Absent), New the wanted one.
	Old, New any
	// Absent is true when the live object lacks the field.
	Absent bool
}

// Subset lists every field set in want that differs in live, sorted by
// path within each map and in list order.
func Subset(want, live map[string]any) []Field {
	var out []Field
	diffMap(want, live, nil, &out)
	return out
}

func diffValue(want, got any, present bool, path resource.Path, out *[]Field) {
	switch w := want.(type) {
	case nil:
		return // null in an apply configuration sets nothing
	case map[string]any:
		if len(w) == 0 && (!present || got == nil) {
			return
		}
		g, ok := got.(map[string]any)
		if !ok {
			*out = append(*out, field(path, got, present, want))
			return
		}
		diffMap(w, g, path, out)
	case []any:
		if len(w) == 0 && (!present || got == nil) {
			return
		}
		g, ok := got.([]any)
		if !ok {
			*out = append(*out, field(path, got, present, want))
			return
		}
		diffList(w, g, path, out)
	default:
		if !present || !scalarEqual(want, got) {
			*out = append(*out, field(path, got, present, want))
		}
	}
}

func field(path resource.Path, got any, present bool, want any) Field {
	if !present {
		return Field{Path: path.String(), New: want, Absent: true}
	}
	return Field{Path: path.String(), Old: got, New: want}
}

func diffMap(want, got map[string]any, path resource.Path, out *[]Field) {
	keys := make([]string, 0, len(want))
	for k := range want {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		g, ok := got[k]
		diffValue(want[k], g, ok, path.Field(k), out)
	}
}

// diffList matches items by their name when every wanted item has one
// (containers, env, ports, volumes: lists the server keys by name and
// others may add to), else by position, where lengths must agree.
func diffList(want, got []any, path resource.Path, out *[]Field) {
	if names, ok := itemNames(want); ok {
		byName := map[string]any{}
		for _, it := range got {
			if m, ok := it.(map[string]any); ok {
				if n, ok := m["name"].(string); ok {
					byName[n] = it
				}
			}
		}
		for i, it := range want {
			g, ok := byName[names[i]]
			diffValue(it, g, ok, path.Item(names[i]), out)
		}
		return
	}
	if len(want) != len(got) {
		*out = append(*out, field(path, got, true, want))
		return
	}
	for i := range want {
		diffValue(want[i], got[i], true, path.Index(i), out)
	}
}

func itemNames(list []any) ([]string, bool) {
	names := make([]string, len(list))
	seen := map[string]bool{}
	for i, it := range list {
		m, ok := it.(map[string]any)
		if !ok {
			return nil, false
		}
		n, ok := m["name"].(string)
		if !ok || seen[n] {
			return nil, false
		}
		seen[n] = true
		names[i] = n
	}
	return names, len(list) > 0
}

// scalarEqual compares two scalars the way the API server normalises
// them: 2 and 2.0 are one number, "0.5" and "500m" one quantity.
func scalarEqual(want, got any) bool {
	if reflect.DeepEqual(want, got) {
		return true
	}
	wf, wnum := number(want)
	gf, gnum := number(got)
	switch {
	case wnum && gnum:
		return wf == gf
	case wnum:
		if s, ok := got.(string); ok {
			return quantityEqual(strconv.FormatFloat(wf, 'f', -1, 64), s)
		}
	case gnum:
		if s, ok := want.(string); ok {
			return quantityEqual(s, strconv.FormatFloat(gf, 'f', -1, 64))
		}
	default:
		ws, ok1 := want.(string)
		gs, ok2 := got.(string)
		if ok1 && ok2 {
			return quantityEqual(ws, gs)
		}
	}
	return false
}

func number(v any) (float64, bool) {
	switch n := v.(type) {
	case int64:
		return float64(n), true
	case int:
		return float64(n), true
	case int32:
		return float64(n), true
	case float64:
		return n, !math.IsNaN(n)
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	}
	return 0, false
}

// quantityEqual is true for two spellings of one resource quantity, as
// the server rewrites "0.5" to "500m" and "1000Mi" stays as it is.
func quantityEqual(a, b string) bool {
	if a == "" || b == "" || !startsNumeric(a) || !startsNumeric(b) {
		return false
	}
	qa, err := apiresource.ParseQuantity(a)
	if err != nil {
		return false
	}
	qb, err := apiresource.ParseQuantity(b)
	if err != nil {
		return false
	}
	return qa.Cmp(qb) == 0
}

func startsNumeric(s string) bool {
	c := s[0]
	return c >= '0' && c <= '9' || c == '.' || c == '+' || c == '-'
}

// maxRender bounds what Render returns, in bytes.
const maxRender = 80

// Render shows a value on one plan line: strings as they are, anything
// else as JSON, "" when absent (present is false).
func Render(v any, present bool) string {
	if !present {
		return ""
	}
	var s string
	switch x := v.(type) {
	case string:
		s = x
		if s == "" {
			s = `""`
		}
	case nil:
		s = "null"
	default:
		b, err := json.Marshal(x)
		if err != nil {
			s = fmt.Sprint(x)
		} else {
			s = string(b)
		}
	}
	s = strings.ReplaceAll(s, "\n", `\n`)
	if len(s) > maxRender {
		s = s[:maxRender-1] + "…"
	}
	return s
}

// Comparable returns the part of a wanted object that the live one must
// hold, in the form the server stores it: apiVersion and kind depend on
// how the object is read, status is not the applier's to set, and a
// Secret's stringData is written into data.
func Comparable(obj map[string]any) map[string]any {
	secret := obj["kind"] == "Secret" && obj["apiVersion"] == "v1"
	out := make(map[string]any, len(obj))
	for k, v := range obj {
		switch k {
		case "apiVersion", "kind", "status":
			continue
		}
		out[k] = v
	}
	sd, ok := obj["stringData"].(map[string]any)
	if !secret || !ok {
		return out
	}
	delete(out, "stringData")
	data := map[string]any{}
	if d, ok := obj["data"].(map[string]any); ok {
		for k, v := range d {
			data[k] = v
		}
	}
	for k, v := range sd {
		if s, ok := v.(string); ok {
			data[k] = base64.StdEncoding.EncodeToString([]byte(s))
		}
	}
	out["data"] = data
	return out
}
