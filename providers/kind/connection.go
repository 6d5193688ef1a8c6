package kind

import (
	"github.com/zclconf/go-cty/cty"

	"labs.dev/lab/lab/resource"
	"labs.dev/lab/providers/kube"
)

// Connection is how the resources in a kind_cluster reach it: the
// kubeconfig it merged its context into and context kind-<name>, as
// recorded after apply; for a declared block (nothing applied yet) the
// same worked out from name and kubeconfig_path, as kind would name them.
func (*clusterKind) Connection(env resource.Env, attrs cty.Value) (resource.Connection, bool) {
	if !resource.Known(attrs, "kubeconfig", "context", "name", "kubeconfig_path") {
		return resource.Connection{}, false // made by this run
	}
	if ctx := resource.StringAttr(attrs, "context"); ctx != "" {
		return resource.Connection{Kubeconfig: kube.KubeconfigPath(env.Dir, resource.StringAttr(attrs, "kubeconfig")), Context: ctx}, true
	}
	name := resource.StringAttr(attrs, "name")
	if name == "" {
		return resource.Connection{}, false
	}
	return resource.Connection{Kubeconfig: kube.KubeconfigPath(env.Dir, resource.StringAttr(attrs, "kubeconfig_path")), Context: "kind-" + name}, true
}

// RemovesContents is true: deleting a kind cluster deletes its nodes and
// everything that ran on them.
func (*clusterKind) RemovesContents() bool { return true }
