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
// own (verify, reset) talk to (config.Connection).
func (a *app) clusterTarget(cfg *config.Config, known map[resource.Addr]cty.Value) kube.Target {
	return kube.Target(cfg.Connection(known))
}
