// Package providers lists the resource kinds lab knows. Adding a kind is a
// new package under providers/ and one line here.
package providers

import (
	"labs.dev/lab/lab/resource"
	"labs.dev/lab/providers/existing"
	"labs.dev/lab/providers/helm"
	"labs.dev/lab/providers/kind"
	"labs.dev/lab/providers/kube"
	"labs.dev/lab/providers/kubernetes"
)

// Config is what the kinds of one command share.
type Config struct {
	// Kube are the command's connections to clusters: one client per
	// cluster, shared by every kind that talks to one.
	Kube *kube.Connections
}

// Kinds returns every resource kind by its block type, built for one
// command.
func Kinds(cfg Config) map[string]resource.Kind {
	if cfg.Kube == nil {
		cfg.Kube = kube.NewConnections()
	}
	kinds := map[string]resource.Kind{}
	for _, k := range []resource.Kind{
		// one entry per kind, e.g. kind.New(cfg.Kube), kubernetes.Namespace(cfg.Kube), ...
		kubernetes.Namespace(cfg.Kube),
		kubernetes.Manifest(cfg.Kube),
		kubernetes.KubeconfigFile(cfg.Kube),
		helm.Release(),
		kind.New(cfg.Kube),
		existing.New(cfg.Kube),
	} {
		kinds[k.Type()] = k
	}
	return kinds
}
