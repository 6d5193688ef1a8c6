package plan

import (
	"fmt"

	"github.com/zclconf/go-cty/cty"

	"labs.dev/lab/lab/config"
	"labs.dev/lab/lab/resource"
)

// makesCluster reports whether r is a cluster others live in that lab
// makes (and so starts or repairs): when one changes, what lives in it
// is refreshed after. A cluster lab only connects to (its contents
// outlive it) answered its own refresh, so what lives in it is refreshed
// now, even the first time it is recorded.
func makesCluster(r *config.Resource) bool {
	if r == nil {
		return false
	}
	c, ok := r.Kind.(resource.Cluster)
	return ok && c.RemovesContents()
}

// connectsOnly reports whether r is a cluster lab only connects to:
// applying it changes nothing in the cluster, so it cannot be why a
// refresh there fails.
func connectsOnly(r *config.Resource) bool {
	if r == nil {
		return false
	}
	c, ok := r.Kind.(resource.Cluster)
	return ok && !c.RemovesContents()
}

// ClusterOf is the connection of the cluster r lives in (r.Cluster), read
// by the cluster's kind from its value in known: zero and true when the
// engine connects r to none, false while the cluster's connection is
// known only after apply.
func ClusterOf(cfg *config.Config, r *config.Resource, env resource.Env, known map[resource.Addr]cty.Value) (resource.Connection, bool) {
	if r.Cluster == nil {
		return resource.Connection{}, true
	}
	c := cfg.Resource(*r.Cluster)
	if c == nil {
		return resource.Connection{}, false
	}
	return ClusterConnection(env, c.Kind, known[c.Addr])
}

// Moved says why a resource recorded as living in cluster from is
// replaced when its block now lives in to; "" when it stays.
func Moved(from, to *resource.Addr) string {
	if from == nil || to == nil || *from == *to {
		return ""
	}
	return fmt.Sprintf("moved from cluster %s to %s: it is deleted from the one and created in the other", *from, *to)
}

// ClusterConnection reads the connection of a cluster of kind from its
// attributes; false when kind is no cluster, or attrs are missing or not
// known yet.
func ClusterConnection(env resource.Env, kind resource.Kind, attrs cty.Value) (resource.Connection, bool) {
	ck, ok := kind.(resource.Cluster)
	if !ok || attrs == cty.NilVal {
		return resource.Connection{}, false
	}
	return ck.Connection(env, attrs)
}
