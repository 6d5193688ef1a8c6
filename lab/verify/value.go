package verify

import (
	"fmt"
	"math"
	"math/big"
	"sort"
	"strings"

	"github.com/zclconf/go-cty/cty"
)

// Object is one live object as checks see it.
type Object struct {
	// Value is the object as `kubectl get -o json` shows it, without
	// metadata.managedFields.
	Value cty.Value
	// ManagedFields is metadata.managedFields as listed (decoded JSON),
	// kept out of Value: it is large, and only written() reads it.
	ManagedFields []any
}

// NewObject makes an Object of a decoded JSON object
// (unstructured.Object). obj is not changed.
func NewObject(obj map[string]any) Object {
	md, _ := obj["metadata"].(map[string]any)
	mf, _ := md["managedFields"].([]any)
	if len(obj) == 0 {
		return Object{Value: cty.EmptyObjectVal}
	}
	m := make(map[string]cty.Value, len(obj))
	for k, e := range obj {
		if k == "metadata" && md != nil {
			m[k] = metadataValue(md)
			continue
		}
		m[k] = objectValue(e)
	}
	return Object{Value: cty.ObjectVal(m), ManagedFields: mf}
}

// metadataValue is objectValue of an object's metadata without
// managedFields.
func metadataValue(md map[string]any) cty.Value {
	m := make(map[string]cty.Value, len(md))
	for k, e := range md {
		if k != "managedFields" {
			m[k] = objectValue(e)
		}
	}
	if len(m) == 0 {
		return cty.EmptyObjectVal
	}
	return cty.ObjectVal(m)
}

// objectValue turns a decoded JSON object (unstructured.Object) into a
// cty value: objects stay objects, arrays become tuples, so assertions
// read fields with dots (fleet.spec.replicas) and index lists freely.
func objectValue(v any) cty.Value {
	switch x := v.(type) {
	case nil:
		return cty.NullVal(cty.DynamicPseudoType)
	case map[string]any:
		if len(x) == 0 {
			return cty.EmptyObjectVal
		}
		m := make(map[string]cty.Value, len(x))
		for k, e := range x {
			m[k] = objectValue(e)
		}
		return cty.ObjectVal(m)
	case []any:
		if len(x) == 0 {
			return cty.EmptyTupleVal
		}
		l := make([]cty.Value, len(x))
		for i, e := range x {
			l[i] = objectValue(e)
		}
		return cty.TupleVal(l)
	case string:
		return cty.StringVal(x)
	case bool:
		return cty.BoolVal(x)
	case int64:
		return cty.NumberIntVal(x)
	case int:
		return cty.NumberIntVal(int64(x))
	case int32:
		return cty.NumberIntVal(int64(x))
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return cty.NullVal(cty.Number)
		}
		return cty.NumberFloatVal(x)
	case float32:
		return cty.NumberFloatVal(float64(x))
	default:
		return cty.StringVal(fmt.Sprint(x))
	}
}

// ObjectRef identifies a Kubernetes object in a failure.
type ObjectRef struct {
	APIVersion string `json:"apiVersion,omitempty"`
	Kind       string `json:"kind"`
	Namespace  string `json:"namespace,omitempty"`
	Name       string `json:"name"`
}

func (r ObjectRef) String() string {
	if r.Namespace != "" {
		return fmt.Sprintf("%s %s/%s", r.Kind, r.Namespace, r.Name)
	}
	return r.Kind + " " + r.Name
}

// refOf reads the identity of a Kubernetes object value; ok is false when
// v does not look like one.
func refOf(v cty.Value) (ObjectRef, bool) {
	str := func(v cty.Value, path ...string) string {
		for _, p := range path {
			if v.IsNull() || !v.IsKnown() || !v.Type().IsObjectType() || !v.Type().HasAttribute(p) {
				return ""
			}
			v = v.GetAttr(p)
		}
		if v.IsNull() || !v.IsKnown() || v.Type() != cty.String {
			return ""
		}
		return v.AsString()
	}
	r := ObjectRef{APIVersion: str(v, "apiVersion"), Kind: str(v, "kind"), Namespace: str(v, "metadata", "namespace"), Name: str(v, "metadata", "name")}
	return r, r.Kind != "" && r.Name != ""
}

// show renders a value for a person: strings quoted (so "1" and 1 look
// different), objects as their identity, long lists shortened.
func show(v cty.Value) string {
	var b strings.Builder
	writeValue(&b, v, 0)
	s := b.String()
	if len(s) > 200 {
		s = s[:197] + "..."
	}
	return s
}

func writeValue(b *strings.Builder, v cty.Value, depth int) {
	if v == cty.NilVal {
		b.WriteString("null (not set)")
		return
	}
	v, _ = v.UnmarkDeep()
	switch {
	case v.IsNull():
		b.WriteString("null (not set)")
		return
	case !v.IsKnown():
		b.WriteString("(unknown)")
		return
	}
	ty := v.Type()
	switch {
	case ty == cty.String:
		fmt.Fprintf(b, "%q", v.AsString())
	case ty == cty.Number:
		b.WriteString(numberString(v.AsBigFloat()))
	case ty == cty.Bool:
		fmt.Fprint(b, v.True())
	case ty.IsObjectType() || ty.IsMapType():
		if ref, ok := refOf(v); ok {
			b.WriteString(ref.String())
			return
		}
		if depth > 1 {
			b.WriteString("{...}")
			return
		}
		m := v.AsValueMap()
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b.WriteString("{")
		for i, k := range keys {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(k + ": ")
			writeValue(b, m[k], depth+1)
		}
		b.WriteString("}")
	case ty.IsTupleType() || ty.IsListType() || ty.IsSetType():
		n := v.LengthInt()
		b.WriteString("[")
		i := 0
		for it := v.ElementIterator(); it.Next(); i++ {
			if i == 5 {
				fmt.Fprintf(b, ", ... %d more", n-5)
				break
			}
			if i > 0 {
				b.WriteString(", ")
			}
			_, e := it.Element()
			writeValue(b, e, depth+1)
		}
		b.WriteString("]")
	default:
		b.WriteString(ty.FriendlyName())
	}
}

func numberString(f *big.Float) string {
	if f.IsInt() {
		i, _ := f.Int(nil)
		return i.String()
	}
	return f.Text('g', 10)
}

// attr walks a dotted path through object values; ok is false when a
// step is missing.
func attr(v cty.Value, path string) (cty.Value, bool) {
	for _, p := range strings.Split(path, ".") {
		if p == "" {
			continue
		}
		v, _ = v.Unmark()
		if v.IsNull() || !v.IsKnown() {
			return cty.NilVal, false
		}
		ty := v.Type()
		switch {
		case ty.IsObjectType():
			if !ty.HasAttribute(p) {
				return cty.NilVal, false
			}
			v = v.GetAttr(p)
		case ty.IsMapType():
			k := cty.StringVal(p)
			if !v.HasIndex(k).True() {
				return cty.NilVal, false
			}
			v = v.Index(k)
		case ty.IsTupleType() || ty.IsListType():
			var i int
			if _, err := fmt.Sscanf(p, "%d", &i); err != nil || i < 0 || i >= v.LengthInt() {
				return cty.NilVal, false
			}
			v = v.Index(cty.NumberIntVal(int64(i)))
		default:
			return cty.NilVal, false
		}
	}
	return v, true
}
