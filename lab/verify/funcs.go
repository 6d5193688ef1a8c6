package verify

import (
	"fmt"
	"math/big"
	"strings"

	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"k8s.io/apimachinery/pkg/api/resource"
)

// Functions are what assertions may call besides the lab file's own:
// the facts lessons state about live objects. Here written() knows only
// an object's annotations; during a check it also reads the
// managedFields of the objects the check selected.
func Functions() map[string]function.Function {
	return functions(nil)
}

func functions(seen [][]Object) map[string]function.Function {
	return map[string]function.Function{
		"owned":        ownedFunc,
		"owners":       ownersFunc,
		"quantity":     quantityFunc,
		"intorpercent": intOrPercentFunc,
		"get":          getFunc,
		"written":      writtenFunc(seen),
	}
}

// uids collects metadata.uid of one object, a list of objects, or null.
func uids(v cty.Value) map[string]bool {
	out := map[string]bool{}
	v, _ = v.UnmarkDeep()
	if v.IsNull() || !v.IsKnown() {
		return out
	}
	ty := v.Type()
	if ty.IsTupleType() || ty.IsListType() || ty.IsSetType() {
		for it := v.ElementIterator(); it.Next(); {
			_, e := it.Element()
			for u := range uids(e) {
				out[u] = true
			}
		}
		return out
	}
	if u, ok := attr(v, "metadata.uid"); ok && u.Type() == cty.String && !u.IsNull() {
		out[u.AsString()] = true
	}
	return out
}

// ownerUIDs lists the uids in an object's metadata.ownerReferences.
func ownerUIDs(v cty.Value) []string {
	refs, ok := attr(v, "metadata.ownerReferences")
	if !ok || refs.IsNull() || !(refs.Type().IsTupleType() || refs.Type().IsListType()) {
		return nil
	}
	var out []string
	for it := refs.ElementIterator(); it.Next(); {
		_, r := it.Element()
		if u, ok := attr(r, "uid"); ok && u.Type() == cty.String && !u.IsNull() {
			out = append(out, u.AsString())
		}
	}
	return out
}

func elements(v cty.Value, fn string) ([]cty.Value, error) {
	v, _ = v.UnmarkDeep()
	if v.IsNull() {
		return nil, nil
	}
	ty := v.Type()
	if ty.IsObjectType() {
		return []cty.Value{v}, nil
	}
	if !(ty.IsTupleType() || ty.IsListType() || ty.IsSetType()) {
		return nil, fmt.Errorf("%s: the objects must be a list of objects (a selection without name), not %s", fn, ty.FriendlyName())
	}
	var out []cty.Value
	for it := v.ElementIterator(); it.Next(); {
		_, e := it.Element()
		out = append(out, e)
	}
	return out, nil
}

func tuple(vs []cty.Value) cty.Value {
	if len(vs) == 0 {
		return cty.EmptyTupleVal
	}
	return cty.TupleVal(vs)
}

var objectsParams = []function.Parameter{
	{Name: "objects", Type: cty.DynamicPseudoType, AllowNull: true, AllowDynamicType: true},
	{Name: "of", Type: cty.DynamicPseudoType, AllowNull: true, AllowDynamicType: true},
}

// owned(objects, owner) is the objects whose ownerReferences name owner
// (one object or a list of them): owned(pods, owned(replicasets, fleet))
// are the pods of the Deployment fleet.
var ownedFunc = function.New(&function.Spec{
	Description: "The objects among the first argument that the second (an object or a list of objects) owns through ownerReferences.",
	Params:      objectsParams,
	Type:        function.StaticReturnType(cty.DynamicPseudoType),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		objs, err := elements(args[0], "owned")
		if err != nil {
			return cty.DynamicVal, err
		}
		owners := uids(args[1])
		var out []cty.Value
		for _, o := range objs {
			for _, u := range ownerUIDs(o) {
				if owners[u] {
					out = append(out, o)
					break
				}
			}
		}
		return tuple(out), nil
	},
})

// owners(objects, object) is the objects among the first argument that own
// the second (an object or a list): owners(replicasets, pod).
var ownersFunc = function.New(&function.Spec{
	Description: "The objects among the first argument that own the second (an object or a list of objects) through its ownerReferences.",
	Params:      objectsParams,
	Type:        function.StaticReturnType(cty.DynamicPseudoType),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		objs, err := elements(args[0], "owners")
		if err != nil {
			return cty.DynamicVal, err
		}
		owned, err := elements(args[1], "owners")
		if err != nil {
			return cty.DynamicVal, err
		}
		want := map[string]bool{}
		for _, o := range owned {
			for _, u := range ownerUIDs(o) {
				want[u] = true
			}
		}
		var out []cty.Value
		for _, o := range objs {
			for u := range uids(o) {
				if want[u] {
					out = append(out, o)
				}
			}
		}
		return tuple(out), nil
	},
})

// quantity("170Mi") is 178257920: Kubernetes quantities as numbers, so
// limits compare with < and >.
var quantityFunc = function.New(&function.Spec{
	Description: "A Kubernetes quantity (\"170Mi\", \"100m\", \"2\") as a number.",
	Params:      []function.Parameter{{Name: "quantity", Type: cty.DynamicPseudoType, AllowDynamicType: true}},
	Type:        function.StaticReturnType(cty.Number),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		v, _ := args[0].Unmark()
		if v.Type() == cty.Number {
			return v, nil
		}
		if v.Type() != cty.String {
			return cty.UnknownVal(cty.Number), fmt.Errorf("quantity: want a string like \"170Mi\", got %s", v.Type().FriendlyName())
		}
		q, err := resource.ParseQuantity(v.AsString())
		if err != nil {
			return cty.UnknownVal(cty.Number), fmt.Errorf("quantity: %q is not a Kubernetes quantity (like \"170Mi\", \"100m\" or \"2\")", v.AsString())
		}
		n, err := cty.ParseNumberVal(q.AsDec().String())
		if err != nil {
			return cty.UnknownVal(cty.Number), fmt.Errorf("quantity: %q: %w", v.AsString(), err)
		}
		return n, nil
	},
})

// intorpercent(value, total[, round_up]) resolves an int-or-percent field
// (maxSurge, maxUnavailable) against total the way the Deployment
// controller does: 1 and "1" are 1; "25%" of 3 is 1 rounded up (maxSurge),
// 0 rounded down (pass false, as for maxUnavailable).
var intOrPercentFunc = function.New(&function.Spec{
	Description: "Resolve an int-or-percent value (1, \"1\", \"25%\") against a total, rounding percentages up unless the third argument is false.",
	Params: []function.Parameter{
		{Name: "value", Type: cty.DynamicPseudoType, AllowDynamicType: true},
		{Name: "total", Type: cty.Number},
	},
	VarParam: &function.Parameter{Name: "round_up", Type: cty.Bool},
	Type:     function.StaticReturnType(cty.Number),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		v, _ := args[0].Unmark()
		total, _ := args[1].Unmark()
		up := true
		if len(args) > 2 {
			up = args[2].True()
		}
		if v.Type() == cty.Number {
			return v, nil
		}
		if v.Type() != cty.String {
			return cty.UnknownVal(cty.Number), fmt.Errorf("intorpercent: want a number or a string like \"25%%\", got %s", v.Type().FriendlyName())
		}
		s := strings.TrimSpace(v.AsString())
		if p, ok := strings.CutSuffix(s, "%"); ok {
			pct, ok := new(big.Float).SetString(p)
			if !ok || pct.Sign() < 0 {
				return cty.UnknownVal(cty.Number), fmt.Errorf("intorpercent: %q is not a percentage", s)
			}
			x := new(big.Float).Mul(pct, total.AsBigFloat())
			x.Quo(x, big.NewFloat(100))
			i, acc := x.Int(nil)
			if up && acc == big.Below {
				i.Add(i, big.NewInt(1))
			}
			return cty.NumberVal(new(big.Float).SetInt(i)), nil
		}
		n, err := cty.ParseNumberVal(s)
		if err != nil {
			return cty.UnknownVal(cty.Number), fmt.Errorf("intorpercent: %q is neither a number nor a percentage like \"25%%\"", s)
		}
		return n, nil
	},
})

// get(obj, "spec.strategy.rollingUpdate.maxSurge", default) reads a
// dotted path (list items by index: "spec.containers.0.image") and falls
// back to default when any step is missing or null.
var getFunc = function.New(&function.Spec{
	Description: "Read a dotted path from an object, or the default when it is not set.",
	Params: []function.Parameter{
		{Name: "object", Type: cty.DynamicPseudoType, AllowNull: true, AllowDynamicType: true},
		{Name: "path", Type: cty.String},
		{Name: "default", Type: cty.DynamicPseudoType, AllowNull: true, AllowDynamicType: true},
	},
	Type: func(args []cty.Value) (cty.Type, error) { return cty.DynamicPseudoType, nil },
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		v, ok := attr(args[0], args[1].AsString())
		if !ok || v.IsNull() {
			return args[2], nil
		}
		return v, nil
	},
})
