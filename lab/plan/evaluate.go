package plan

import (
	"github.com/zclconf/go-cty/cty"

	"labs.dev/lab/lab/config"
	"labs.dev/lab/lab/resource"
)

// Evaluate decodes a resource's arguments against the values known so
// far and separates out sensitive marks, which the kinds never see.
func Evaluate(cfg *config.Config, r *config.Resource, known map[resource.Addr]cty.Value) (cty.Value, []resource.Path, error) {
	ctx, diags := cfg.EvalContextFor(r, known)
	val, d := r.Decode(ctx)
	diags = append(diags, d...)
	if diags.HasErrors() {
		return cty.NilVal, nil, &DiagError{Diags: diags}
	}
	val, pvms := val.UnmarkDeepWithPaths()
	var sensitive []resource.Path
	for _, pvm := range pvms {
		if _, ok := pvm.Marks[config.Sensitive]; ok {
			sensitive = append(sensitive, resource.CtyPath(pvm.Path))
		}
	}
	return val, sensitive, nil
}

// Planned is the value other resources see for a resource before it is
// applied: its arguments plus computed attributes, which are unknown when
// apply will create it and as recorded otherwise.
func Planned(kind resource.Kind, val, prior cty.Value, action resource.Action) cty.Value {
	attrs := map[string]cty.Value{}
	if val.Type().IsObjectType() && !val.IsNull() && val.IsKnown() {
		for k, v := range val.AsValueMap() {
			attrs[k] = v
		}
	}
	for name, ty := range kind.Computed() {
		v := cty.UnknownVal(ty)
		keep := action == resource.NoOp || action == resource.Update
		if keep && prior != cty.NilVal && !prior.IsNull() && prior.Type().IsObjectType() && prior.Type().HasAttribute(name) {
			v = prior.GetAttr(name)
		}
		attrs[name] = v
	}
	return cty.ObjectVal(attrs)
}
