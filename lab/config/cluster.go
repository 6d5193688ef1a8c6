package config

import (
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"labs.dev/lab/lab/resource"
)

// clusters are the resources whose kind is a resource.Cluster, in file
// order.
func (c *Config) clusters() []*Resource {
	var out []*Resource
	for _, r := range c.Resources {
		if _, ok := r.Kind.(resource.Cluster); ok {
			out = append(out, r)
		}
	}
	return out
}

func (c *Config) env() resource.Env { return resource.Env{Dir: c.Dir, File: c.File} }

// resolveClusters connects every block of an InCluster kind that states
// no connection of its own to a cluster resource (its cluster argument,
// else the lab file's only cluster) and orders it after that cluster.
// decoded holds each resource's arguments, with unknowns for what is
// known only after apply; a resource missing from it had errors. A
// problem is reported once per block, not once per instance.
func (c *Config) resolveClusters(decoded map[resource.Addr]cty.Value) hcl.Diagnostics {
	var diags hcl.Diagnostics
	clusters := c.clusters()
	for _, b := range c.Blocks {
		ic, ok := b.Kind.(resource.InCluster)
		if !ok {
			continue
		}
		var named *resource.Addr
		if b.clusterExpr != nil {
			addr, d := c.clusterRef(b.clusterExpr, clusters)
			diags = append(diags, d...)
			if d.HasErrors() {
				continue
			}
			named = &addr
		}
		reported := false
		for _, a := range b.Instances() {
			r := c.byAddr[a]
			v, ok := decoded[r.Addr]
			own := false
			if ok {
				v, _ = v.UnmarkDeep()
				_, own = ic.OwnConnection(c.env(), v)
			}
			switch {
			case named != nil && own:
				if !reported {
					diags = append(diags, &hcl.Diagnostic{
						Severity: hcl.DiagError,
						Summary:  "Two connections",
						Detail:   fmt.Sprintf("%s names its cluster (cluster = %s) and also states a connection of its own (kubeconfig or context). Keep one of them.", r.Addr, *named),
						Subject:  b.clusterExpr.Range().Ptr(),
					})
					reported = true
				}
				continue
			case named != nil:
				r.Cluster = named
			case !ok || own || len(clusters) == 0:
				// Errors are reported already; a block that states its
				// connection, or a lab file without a cluster, uses its own
				// (the default kubeconfig's current context at the least).
			case len(clusters) == 1:
				r.Cluster = &clusters[0].Addr
			default:
				if !reported {
					diags = append(diags, &hcl.Diagnostic{
						Severity: hcl.DiagError,
						Summary:  "Which cluster?",
						Detail: fmt.Sprintf("%s lives in a cluster, and this lab file declares %d: %s. Say which one with cluster = %s (or state kubeconfig and context).",
							b.Addr, len(clusters), clusterList(clusters), clusters[0].Addr),
						Subject: r.DeclRange.Ptr(),
					})
					reported = true
				}
			}
			if r.Cluster != nil {
				r.Deps = uniqueAddrs(append(r.Deps, *r.Cluster))
			}
		}
	}
	return diags
}

// clusterRef reads a cluster argument: a reference to a cluster resource
// of the lab file, like kind_cluster.kind, or one instance of a block
// with for_each or count, like kind_cluster.room["a"].
func (c *Config) clusterRef(expr hcl.Expression, clusters []*Resource) (resource.Addr, hcl.Diagnostics) {
	trav, d := hcl.AbsTraversalForExpr(expr)
	var name hcl.TraverseAttr
	ok := !d.HasErrors() && (len(trav) == 2 || len(trav) == 3)
	if ok {
		name, ok = trav[1].(hcl.TraverseAttr)
	}
	if ok && len(trav) == 3 {
		_, ok = trav[2].(hcl.TraverseIndex)
	}
	if !ok || c.kinds[trav.RootName()] == nil {
		return resource.Addr{}, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Invalid cluster",
			Detail:   "cluster must name a cluster resource, like kind_cluster.kind (no quotes); " + declared(clusters) + ".",
			Subject:  expr.Range().Ptr(),
		}}
	}
	addrs, diag := c.resolveResource(trav, trav.RootName(), name.Name)
	if diag != nil {
		return resource.Addr{}, hcl.Diagnostics{diag}
	}
	b := c.blocks[resource.Addr{Type: trav.RootName(), Name: name.Name}]
	if _, ok := b.Kind.(resource.Cluster); !ok {
		return b.Addr, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Not a cluster",
			Detail:   fmt.Sprintf("%s is not a cluster; cluster must name one, and %s.", b.Addr, declared(clusters)),
			Subject:  expr.Range().Ptr(),
		}}
	}
	if len(addrs) != 1 || (b.Multi() && len(trav) != 3) {
		return b.Addr, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Invalid cluster",
			Detail:   fmt.Sprintf("%s has %s, so it stands for several clusters: name one of them, like %s[%s].", b.Addr, metaName(b.ForEach), b.Addr, map[bool]string{true: `"a"`, false: "0"}[b.ForEach != nil]),
			Subject:  expr.Range().Ptr(),
		}}
	}
	return addrs[0], nil
}

func declared(clusters []*Resource) string {
	if len(clusters) == 0 {
		return "this lab file declares none"
	}
	return "this lab file declares " + clusterList(clusters)
}

func clusterList(clusters []*Resource) string {
	var names []string
	for _, r := range clusters {
		names = append(names, fmt.Sprintf("%s (%s)", r.Addr, shortRange(r.DeclRange)))
	}
	return strings.Join(names, ", ")
}

// Connection is the cluster that commands without a resource of their
// own (verify, test, reset) talk to: the lab file's first cluster, as
// recorded in known (the state) or else as declared; else the first
// connection a block states itself; else the zero Connection, the
// default kubeconfig's current context.
func (c *Config) Connection(known map[resource.Addr]cty.Value) resource.Connection {
	ctx, _ := c.EvalContext(known)
	decode := func(r *Resource) (cty.Value, bool) {
		v, diags := r.Decode(ctx)
		if diags.HasErrors() {
			return cty.NilVal, false
		}
		v, _ = v.UnmarkDeep()
		return v, true
	}
	if clusters := c.clusters(); len(clusters) > 0 {
		r := clusters[0]
		kind := r.Kind.(resource.Cluster)
		if v, ok := known[r.Addr]; ok {
			if conn, ok := kind.Connection(c.env(), v); ok {
				return conn
			}
		}
		if v, ok := decode(r); ok {
			if conn, ok := kind.Connection(c.env(), v); ok {
				return conn
			}
		}
	}
	for _, r := range c.Resources {
		ic, ok := r.Kind.(resource.InCluster)
		if !ok {
			continue
		}
		if v, ok := decode(r); ok {
			if conn, ok := ic.OwnConnection(c.env(), v); ok && conn != (resource.Connection{}) {
				return conn
			}
		}
	}
	return resource.Connection{}
}
