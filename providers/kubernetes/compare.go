package kubernetes

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"
)

// fieldDiff is one field a desired object sets that the live object lacks
// or holds differently. Old is "" when live lacks it.
type fieldDiff struct {
	Path     string
	Old, New string
}

// subsetDiff lists every field set in want that differs in got: want is
// what lab applies, got the live object, which also holds fields others
// set and the server defaulted, so only want's fields count. Values the
// server normalises (1 vs 1.0, "0.5" vs "500m") compare equal.
func subsetDiff(want, got map[string]any) []fieldDiff {
	var out []fieldDiff
	diffMap(want, got, "", &out)
	return out
}

func diffValue(want, got any, present bool, path string, out *[]fieldDiff) {
	switch w := want.(type) {
	case nil:
		return // null in an apply configuration sets nothing
	case map[string]any:
		if len(w) == 0 && (!present || got == nil) {
			return
		}
		g, ok := got.(map[string]any)
		if !ok {
			*out = append(*out, fieldDiff{Path: path, Old: render(got, present), New: render(want, true)})
			return
		}
		diffMap(w, g, path, out)
	case []any:
		if len(w) == 0 && (!present || got == nil) {
			return
		}
		g, ok := got.([]any)
		if !ok {
			*out = append(*out, fieldDiff{Path: path, Old: render(got, present), New: render(want, true)})
			return
		}
		diffList(w, g, path, out)
	default:
		if !present || !scalarEqual(want, got) {
			*out = append(*out, fieldDiff{Path: path, Old: render(got, present), New: render(want, true)})
		}
	}
}

func diffMap(want, got map[string]any, path string, out *[]fieldDiff) {
	keys := make([]string, 0, len(want))
	for k := range want {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		g, ok := got[k]
		diffValue(want[k], g, ok, joinKey(path, k), out)
	}
}

// diffList matches items by their name when every wanted item has one
// (containers, env, ports, volumes: lists the server keys by name and
// others may add to), else by position, where lengths must agree.
func diffList(want, got []any, path string, out *[]fieldDiff) {
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
			diffValue(it, g, ok, fmt.Sprintf("%s[name=%s]", path, names[i]), out)
		}
		return
	}
	if len(want) != len(got) {
		*out = append(*out, fieldDiff{Path: path, Old: render(got, true), New: render(want, true)})
		return
	}
	for i := range want {
		diffValue(want[i], got[i], true, fmt.Sprintf("%s[%d]", path, i), out)
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

var plainKey = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]*$`)

func joinKey(path, k string) string {
	if !plainKey.MatchString(k) {
		return path + "[" + strconv.Quote(k) + "]"
	}
	if path == "" {
		return k
	}
	return path + "." + k
}

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
	qa, err := resource.ParseQuantity(a)
	if err != nil {
		return false
	}
	qb, err := resource.ParseQuantity(b)
	if err != nil {
		return false
	}
	return qa.Cmp(qb) == 0
}

func startsNumeric(s string) bool {
	c := s[0]
	return c >= '0' && c <= '9' || c == '.' || c == '+' || c == '-'
}

const maxRender = 80

func render(v any, present bool) string {
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

// comparable returns the form of a desired object that the live one is
// compared with: a Secret's stringData is written into data by the server.
func comparable(obj map[string]any) map[string]any {
	if obj["kind"] != "Secret" || obj["apiVersion"] != "v1" {
		return obj
	}
	sd, ok := obj["stringData"].(map[string]any)
	if !ok {
		return obj
	}
	out := make(map[string]any, len(obj))
	for k, v := range obj {
		out[k] = v
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
