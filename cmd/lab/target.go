package main

import (
	"github.com/zclconf/go-cty/cty"

	"labs.dev/lab/lab/config"
	"labs.dev/lab/providers/kube"
)

// clusterTarget is the cluster that commands without a resource of their
// own (verify, reset, status) talk to: the lab file's kind_cluster
// (context kind-<name>), else the first kubeconfig/context a resource
// names, else the current context of the default kubeconfig.
func (a *app) clusterTarget(cfg *config.Config) kube.Target {
	ctx, _ := cfg.EvalContext(nil)
	str := func(v cty.Value, name string) string {
		if v.IsNull() || !v.IsKnown() || !v.Type().IsObjectType() || !v.Type().HasAttribute(name) {
			return ""
		}
		s := v.GetAttr(name)
		s, _ = s.Unmark()
		if s.IsNull() || !s.IsKnown() || s.Type() != cty.String {
			return ""
		}
		return s.AsString()
	}
	var fallback *kube.Target
	for _, r := range cfg.Resources {
		v, diags := r.Decode(ctx)
		if diags.HasErrors() {
			continue
		}
		v, _ = v.UnmarkDeep()
		if r.Addr.Type == "kind_cluster" {
			if name := str(v, "name"); name != "" {
				return kube.Target{Kubeconfig: str(v, "kubeconfig_path"), Context: "kind-" + name}
			}
		}
		if fallback == nil {
			if t := kube.TargetOf(v); t != (kube.Target{}) {
				fallback = &t
			}
		}
	}
	if fallback != nil {
		return *fallback
	}
	return kube.Target{}
}
