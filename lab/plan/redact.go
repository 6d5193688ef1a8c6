package plan

import (
	"sort"
	"strings"

	"github.com/zclconf/go-cty/cty"

	"labs.dev/lab/lab/config"
	"labs.dev/lab/lab/resource"
)

// redact hides sensitive fields in a change's diff: those under a path
// that holds a sensitive value, and, since a kind may show a value under
// a path of its own (a manifest field built from content = yamlencode(...)),
// any that shows one of the sensitive values in secrets.
func redact(c *Change, secrets []string) {
	for i, f := range c.Fields {
		// A kind's free-form path ("Deployment dev/x: spec") is no path
		// of the arguments.
		if path, err := resource.ParsePath(f.Path); err == nil {
			for _, s := range c.Sensitive {
				if path.HasPrefix(s) {
					c.Fields[i].Sensitive = true
				}
			}
		}
		if showsSecret(f.Old, secrets) || showsSecret(f.New, secrets) || showsSecret(f.Path, secrets) {
			c.Fields[i].Sensitive = true
			c.Fields[i].Path = hideSecrets(f.Path, secrets)
		}
		if c.Fields[i].Sensitive {
			if c.Fields[i].Old != "" {
				c.Fields[i].Old = "(sensitive)"
			}
			if c.Fields[i].New != "" {
				c.Fields[i].New = "(sensitive)"
			}
		}
	}
	c.Reason = hideSecrets(c.Reason, secrets)
}

// minContained is the shortest sensitive value looked for inside longer
// text; a shorter one is hidden only where it is the whole value, or
// every "1" in a plan would be.
const minContained = 4

func showsSecret(s string, secrets []string) bool {
	for _, x := range secrets {
		if s == x || len(x) >= minContained && strings.Contains(s, x) {
			return true
		}
	}
	return false
}

func hideSecrets(s string, secrets []string) string {
	for _, x := range secrets {
		if s == x {
			return "(sensitive)"
		}
		if len(x) >= minContained {
			s = strings.ReplaceAll(s, x, "(sensitive)")
		}
	}
	return s
}

// sensitiveStrings lists every string and number inside the values of
// sensitive variables.
func sensitiveStrings(cfg *config.Config) []string {
	var out []string
	for _, v := range cfg.VariableValues() {
		if !v.HasMark(config.Sensitive) {
			continue
		}
		v, _ = v.UnmarkDeep()
		_ = cty.Walk(v, func(_ cty.Path, x cty.Value) (bool, error) {
			if x.IsNull() || !x.IsKnown() {
				return true, nil
			}
			switch x.Type() {
			case cty.String:
				if x.AsString() != "" {
					out = append(out, x.AsString())
				}
			case cty.Number:
				out = append(out, x.AsBigFloat().Text('f', -1))
			}
			return true, nil
		})
	}
	// Longest first, so a secret containing another is hidden whole.
	sort.Slice(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return out
}
