package plan

import (
	"strings"

	"github.com/hashicorp/hcl/v2"

	"labs.dev/lab/lab/config"
	"labs.dev/lab/lab/resource"
)

// Validate asks each resource whose arguments are known before apply
// (no reference to another resource's attributes) to check them as plan
// would, without a cluster: `lab validate` then catches a namespace named
// "Dev" or a missing manifest file, not the first `lab up`.
func Validate(cfg *config.Config) hcl.Diagnostics {
	env := resource.Env{Dir: cfg.Dir, File: cfg.File}
	secrets := sensitiveStrings(cfg)
	ctx, d := cfg.EvalContext(nil) // once: it evaluates every local
	if d.HasErrors() {
		return nil // Load reported them
	}
	var diags hcl.Diagnostics
	for _, r := range cfg.Resources {
		v, ok := r.Kind.(resource.Validator)
		if !ok {
			continue
		}
		val, d := r.Decode(ctx)
		if d.HasErrors() {
			continue // Load reported them
		}
		if val, _ = val.UnmarkDeep(); !val.IsWhollyKnown() {
			continue // unknowns are plan's
		}
		if err := v.Validate(env, r.Addr, val); err != nil {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid " + r.Addr.Type + " arguments",
				Detail:   hideSecrets(strings.TrimPrefix(err.Error(), r.Addr.String()+": "), secrets),
				Subject:  r.DeclRange.Ptr(),
			})
		}
	}
	return diags
}
