package plan

import (
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"labs.dev/lab/lab/config"
	"labs.dev/lab/lab/graph"
)

// Graph returns the dependency graph of the configured resources, or
// diagnostics naming each cycle.
func Graph(cfg *config.Config) (*graph.Graph, hcl.Diagnostics) {
	g := graph.New()
	for _, r := range cfg.Resources {
		g.Add(r.Addr)
	}
	for _, r := range cfg.Resources {
		for _, d := range r.Deps {
			g.Connect(r.Addr, d)
		}
	}
	var diags hcl.Diagnostics
	for _, cycle := range g.Cycles() {
		var names []string
		for _, a := range cycle {
			names = append(names, a.String())
		}
		first := cfg.Resource(cycle[0])
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Dependency cycle",
			Detail: fmt.Sprintf("These resources depend on each other in a circle: %s → %s. Remove one reference or depends_on entry.",
				strings.Join(names, " → "), names[0]),
			Subject: first.DeclRange.Ptr(),
		})
	}
	return g, diags
}
