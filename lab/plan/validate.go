package plan

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"labs.dev/lab/lab/config"
	"labs.dev/lab/lab/resource"
	"labs.dev/lab/lab/state"
)

// Validate checks every resource's arguments as plan does before it
// refreshes anything, without a cluster or state: `lab validate` then
// catches a namespace named "Dev", a missing manifest file or chart, not
// the first `lab up` after it made the cluster.
func Validate(cfg *config.Config) hcl.Diagnostics {
	return check(cfg, nil)
}

// check asks the kind of every resource that is a resource.Validator to
// check the resource's arguments, those plan will defer as "known after
// apply" too, in dependency order and without touching anything live. A
// reference to another resource reads its arguments as configured and
// its computed attributes as st records them (unknown for a resource st
// lacks); what is still unknown, the kind skips. A resource that fails
// its checks, or cannot be evaluated yet, is unknown to those that use
// it, so one mistake is reported once. Problems are located diagnostics
// at the argument, sensitive values hidden.
func check(cfg *config.Config, st *state.State) hcl.Diagnostics {
	env := resource.Env{Dir: cfg.Dir, File: cfg.File}
	secrets := sensitiveStrings(cfg)
	known := map[resource.Addr]cty.Value{}
	used := map[resource.Addr]bool{} // what others reference
	for _, r := range cfg.Resources {
		for _, d := range r.Deps {
			used[d] = true
		}
	}
	var diags hcl.Diagnostics
	for _, level := range levels(cfg) {
		// Locals that fail evaluate as unknown; Load reported them.
		ctx, _ := cfg.EvalContext(known)
		for _, r := range level {
			val, d := r.Decode(ctx)
			if d.HasErrors() {
				continue // Load, or plan with the values it plans, reports them
			}
			val, marks := val.UnmarkDeepWithPaths()
			if v, ok := r.Kind.(resource.Validator); ok {
				if err := v.Validate(env, r.Addr, val); err != nil {
					diags = append(diags, diagnose(r, err, val, marks, secrets)...)
					continue
				}
			}
			if used[r.Addr] {
				known[r.Addr] = Planned(r.Kind, val, recorded(st, r), resource.NoOp)
			}
		}
	}
	return diags
}

// levels orders the resources so each comes after those it depends on:
// level by level, so one evaluation context serves a whole level.
// Resources in a cycle (reported elsewhere) come last.
func levels(cfg *config.Config) [][]*config.Resource {
	placed := map[resource.Addr]bool{}
	rest := cfg.Resources
	var out [][]*config.Resource
	for len(rest) > 0 {
		var level, next []*config.Resource
		for _, r := range rest {
			ready := true
			for _, d := range r.Deps {
				if !placed[d] && cfg.Resource(d) != nil {
					ready = false
					break
				}
			}
			if ready {
				level = append(level, r)
			} else {
				next = append(next, r)
			}
		}
		if len(level) == 0 {
			level, next = next, nil
		}
		for _, r := range level {
			placed[r.Addr] = true
		}
		out = append(out, level)
		rest = next
	}
	return out
}

// recorded is r's value in st when apply will keep what st records
// about it, else cty.NilVal.
func recorded(st *state.State, r *config.Resource) cty.Value {
	if st == nil {
		return cty.NilVal
	}
	sr, ok := st.Get(r.Addr)
	if !ok || sr.Status == state.StatusTainted || Moved(sr.Cluster, r.Cluster) != "" {
		return cty.NilVal
	}
	v, err := sr.Value()
	if err != nil {
		return cty.NilVal
	}
	return v
}

// diagnose turns what a kind's Validate found into one diagnostic per
// problem, at the argument it names (else at the block), with the values
// of sensitive arguments hidden.
func diagnose(r *config.Resource, err error, val cty.Value, marks []cty.PathValueMarks, secrets []string) hcl.Diagnostics {
	attrs, _ := r.Body.JustAttributes()
	var diags hcl.Diagnostics
	for _, e := range resource.Problems(err) {
		d := &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Invalid arguments for " + r.Addr.String(),
			Detail:   strings.TrimPrefix(e.Error(), r.Addr.String()+": "),
			Subject:  r.DeclRange.Ptr(),
		}
		var ae *resource.ArgError
		if errors.As(e, &ae) {
			d.Summary = fmt.Sprintf("Invalid value for %q in %s", ae.Arg, r.Addr)
			if a := attrs[ae.Arg]; a != nil {
				d.Subject = argRange(a).Ptr()
			}
			d.Detail = hideValues(d.Detail, sensitiveUnder(ae.Arg, val, marks))
		}
		d.Detail = hideSecrets(d.Detail, secrets)
		diags = append(diags, d)
	}
	return diags
}

// argRange is where a diagnostic about a points: its value, or its name
// when the value spans lines (a heredoc manifest would fill the screen).
func argRange(a *hcl.Attribute) hcl.Range {
	if r := a.Expr.Range(); r.Start.Line == r.End.Line {
		return r
	}
	return a.NameRange
}

// sensitiveUnder lists the strings held at sensitive paths of argument
// arg: a value built from a sensitive variable is sensitive as a whole,
// though no variable's value may appear in it whole.
func sensitiveUnder(arg string, val cty.Value, marks []cty.PathValueMarks) []string {
	var out []string
	for _, pvm := range marks {
		if _, ok := pvm.Marks[config.Sensitive]; !ok || len(pvm.Path) == 0 {
			continue
		}
		if step, ok := pvm.Path[0].(cty.GetAttrStep); !ok || step.Name != arg {
			continue
		}
		v, err := pvm.Path.Apply(val)
		if err != nil {
			continue
		}
		_ = cty.Walk(v, func(_ cty.Path, x cty.Value) (bool, error) {
			if x.IsKnown() && !x.IsNull() && x.Type() == cty.String && x.AsString() != "" {
				out = append(out, x.AsString())
			}
			return true, nil
		})
	}
	return out
}

// hideValues hides each of values in s where a message quotes it, and
// where it stands in s unquoted when it is long enough not to be a word.
func hideValues(s string, values []string) string {
	for _, x := range values {
		s = strings.ReplaceAll(s, strconv.Quote(x), `"(sensitive)"`)
	}
	return hideSecrets(s, values)
}
