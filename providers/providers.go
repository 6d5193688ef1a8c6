// Package providers lists the resource kinds lab knows. Adding a kind is a
// new package under providers/ and one line here.
package providers

import "labs.dev/lab/lab/resource"

import "labs.dev/lab/providers/kubernetes"

import "labs.dev/lab/providers/helm"

import "labs.dev/lab/providers/kind"

// Kinds returns every resource kind by its block type.
func Kinds() map[string]resource.Kind {
	kinds := map[string]resource.Kind{}
	for _, k := range []resource.Kind{
		// one entry per kind, e.g. kind.New(), kubernetes.Namespace(), ...
		kubernetes.Namespace(),
		kubernetes.Manifest(),
		helm.Release(),
		kind.New(),
	} {
		kinds[k.Type()] = k
	}
	return kinds
}
