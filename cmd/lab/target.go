package main

import (
	"path/filepath"

	"github.com/zclconf/go-cty/cty"

	"labs.dev/lab/lab/config"
	"labs.dev/lab/lab/resource"
	"labs.dev/lab/lab/state"
	"labs.dev/lab/providers/kube"
)

// stateValues reads the attributes lab recorded at the last apply, so
// commands that only read (verify, reset) see the same values as apply.
// A missing or unreadable state gives none: those commands still work
// from the lab file alone.
func stateValues(cfg *config.Config) map[resource.Addr]cty.Value {
	st, err := state.Load(filepath.Join(cfg.Dir, stateDirName, state.FileName))
	if err != nil {
		return nil
	}
	return st.Values()
}

// clusterTarget is the cluster that commands without a resource of their
// own (verify, reset) talk to: the lab file's kind_cluster as recorded in
// state, else as declared (context kind-<name>), else the first
// kubeconfig/context a resource names, else the current context of the
// default kubeconfig.
func (a *app) clusterTarget(cfg *config.Config, known map[resource.Addr]cty.Value) kube.Target {
	ctx, _ := cfg.EvalContext(known)
	var fallback *kube.Target
	for _, r := range cfg.Resources {
		if r.Addr.Type == "kind_cluster" {
			if v := known[r.Addr]; resource.StringAttr(v, "context") != "" {
				return kube.Target{Kubeconfig: resource.StringAttr(v, "kubeconfig"), Context: resource.StringAttr(v, "context")}
			}
		}
		v, diags := r.Decode(ctx)
		if diags.HasErrors() {
			continue
		}
		v, _ = v.UnmarkDeep()
		if r.Addr.Type == "kind_cluster" {
			if name := resource.StringAttr(v, "name"); name != "" {
				return kube.Target{Kubeconfig: resource.StringAttr(v, "kubeconfig_path"), Context: "kind-" + name}
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
