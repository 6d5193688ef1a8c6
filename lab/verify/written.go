package verify

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
)

// A lesson often asks the learner to set a field the API server would
// otherwise fill in (maxSurge defaults to 25%, which at 3 replicas is the
// 1 the task asks for). The object alone cannot tell the two apart; the
// records beside it can:
//
//   - a server-side apply (managedFields operation Apply) owns exactly the
//     fields it was sent;
//   - kubectl's client-side apply keeps what it sent last in the
//     kubectl.kubernetes.io/last-applied-configuration annotation;
//   - any other write (kubectl create, edit, patch, replace, and the
//     create of a first client-side apply) is an Update, and the API
//     server records the defaults it filled in on that request as the
//     writer's too. Such a field counts as written unless it holds the
//     default the author names: the one case no record can settle.

const (
	lastApplied       = "kubectl.kubernetes.io/last-applied-configuration"
	clientSideApplier = "kubectl-client-side-apply"
)

// writtenFunc is written(object, path[, default]) for the objects a
// check's selections matched (their managedFields).
func writtenFunc(seen [][]Object) function.Function {
	return function.New(&function.Spec{
		Description: "Whether the field at a dotted path of an object was written by someone (an apply, create, edit or patch) rather than filled in by the API server; a value equal to the optional default counts as written only where a record proves it.",
		Params: []function.Parameter{
			{Name: "object", Type: cty.DynamicPseudoType, AllowNull: true, AllowDynamicType: true},
			{Name: "path", Type: cty.String},
		},
		VarParam: &function.Parameter{Name: "default", Type: cty.DynamicPseudoType, AllowNull: true, AllowDynamicType: true},
		Type:     function.StaticReturnType(cty.Bool),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			if len(args) > 3 {
				return cty.UnknownVal(cty.Bool), fmt.Errorf("written takes an object, a path and an optional default, not %d arguments", len(args))
			}
			obj, _ := args[0].UnmarkDeep()
			if obj.IsNull() {
				return cty.False, nil // an optional object that is missing
			}
			if !obj.IsKnown() || !obj.Type().IsObjectType() {
				return cty.UnknownVal(cty.Bool), fmt.Errorf("written: the first argument must be one object (a selection with a name, or each.value), not %s", obj.Type().FriendlyName())
			}
			path, _ := args[1].Unmark()
			steps := splitPath(path.AsString())
			if len(steps) == 0 {
				return cty.UnknownVal(cty.Bool), fmt.Errorf("written: the path is empty; write it like \"spec.strategy.rollingUpdate.maxSurge\"")
			}
			def := cty.NilVal
			if len(args) == 3 {
				def, _ = args[2].UnmarkDeep()
			}
			return cty.BoolVal(written(find(seen, obj), steps, def)), nil
		},
	})
}

// find is the listed object whose value is obj (by uid), or obj alone.
func find(seen [][]Object, obj cty.Value) Object {
	uid, ok := attr(obj, "metadata.uid")
	for _, objs := range seen {
		for _, o := range objs {
			if ok && uid.Type() == cty.String && !uid.IsNull() {
				if u, ok := attr(o.Value, "metadata.uid"); ok && u.RawEquals(uid) {
					return o
				}
			} else if o.Value.RawEquals(obj) {
				return o
			}
		}
	}
	return Object{Value: obj}
}

func splitPath(p string) []string {
	var out []string
	for _, s := range strings.Split(p, ".") {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

// written reports whether someone wrote the field at steps of o (see the
// comment at the top of this file).
func written(o Object, steps []string, def cty.Value) bool {
	v, ok := attr(o.Value, strings.Join(steps, "."))
	if !ok || v.IsNull() {
		return false
	}
	applied, hasApplied := annotation(o.Value, lastApplied)
	for _, e := range o.ManagedFields {
		entry, _ := e.(map[string]any)
		fields, _ := entry["fieldsV1"].(map[string]any)
		if !owns(fields, o.Value, steps) {
			continue
		}
		switch {
		case entry["operation"] == "Apply":
			return true
		case hasApplied && entry["manager"] == clientSideApplier:
			// Its record holds the create's defaults; the annotation
			// says what it was sent.
		case def == cty.NilVal || !equal(v, def):
			return true
		}
	}
	return hasApplied && inApplied(applied, steps)
}

// owns reports whether a managedFields entry's fieldsV1 holds the field
// at steps of obj: "f:<name>" for a field, "k:{...}" for the list item
// with those keys, "i:<n>" for an item by position, "v:<json>" for an
// item of a set. A field set to {} is recorded as {} too, so a record
// ending above the path does not hold it (the items of an atomic list
// are not recorded one by one: name the list).
func owns(fields map[string]any, obj cty.Value, steps []string) bool {
	node, cur := fields, obj
	for _, step := range steps {
		cur, _ = cur.Unmark()
		if cur.IsNull() || !cur.IsKnown() {
			return false
		}
		var key string
		ty := cur.Type()
		switch {
		case ty.IsObjectType() || ty.IsMapType():
			key = "f:" + step
			next, ok := attr(cur, step)
			if !ok {
				return false
			}
			cur = next
		case ty.IsTupleType() || ty.IsListType():
			n, err := strconv.Atoi(step)
			if err != nil || n < 0 || n >= cur.LengthInt() {
				return false
			}
			item := cur.Index(cty.NumberIntVal(int64(n)))
			key = itemKey(node, item, n)
			cur = item
		default:
			return false
		}
		next, ok := node[key].(map[string]any)
		if !ok {
			return false
		}
		node = next
	}
	return true
}

// itemKey finds the key node gives the list item at position n.
func itemKey(node map[string]any, item cty.Value, n int) string {
	if k := "i:" + strconv.Itoa(n); node[k] != nil {
		return k
	}
	for k := range node {
		switch {
		case strings.HasPrefix(k, "k:"):
			var keys map[string]any
			if json.Unmarshal([]byte(k[2:]), &keys) != nil || len(keys) == 0 {
				continue
			}
			match := true
			for name, want := range keys {
				got, ok := attr(item, name)
				if !ok || !equal(got, objectValue(want)) {
					match = false
					break
				}
			}
			if match {
				return k
			}
		case strings.HasPrefix(k, "v:"):
			var want any
			if json.Unmarshal([]byte(k[2:]), &want) == nil && equal(item, objectValue(want)) {
				return k
			}
		}
	}
	return ""
}

// inApplied reports whether kubectl's last-applied configuration (JSON)
// sets the field at steps.
func inApplied(applied string, steps []string) bool {
	var cur any
	if json.Unmarshal([]byte(applied), &cur) != nil {
		return false
	}
	for _, step := range steps {
		switch x := cur.(type) {
		case map[string]any:
			cur = x[step]
		case []any:
			n, err := strconv.Atoi(step)
			if err != nil || n < 0 || n >= len(x) {
				return false
			}
			cur = x[n]
		default:
			return false
		}
	}
	return cur != nil
}

func annotation(obj cty.Value, name string) (string, bool) {
	a, ok := attr(obj, "metadata.annotations")
	if !ok || a.IsNull() || !a.Type().IsObjectType() || !a.Type().HasAttribute(name) {
		return "", false
	}
	v := a.GetAttr(name)
	if v.IsNull() || !v.IsKnown() || v.Type() != cty.String {
		return "", false
	}
	return v.AsString(), true
}

// equal compares two known values of one type.
func equal(a, b cty.Value) bool {
	a, _ = a.UnmarkDeep()
	b, _ = b.UnmarkDeep()
	if a == cty.NilVal || b == cty.NilVal || !a.IsWhollyKnown() || !b.IsWhollyKnown() || a.IsNull() || b.IsNull() || !a.Type().Equals(b.Type()) {
		return false
	}
	return a.Equals(b).True()
}
