//go:build tools

// Package tools records the upstream commands this module builds, so
// `go mod tidy` keeps them pinned.
package tools

import (
	_ "github.com/rancher/local-path-provisioner"
	_ "sigs.k8s.io/cri-tools/cmd/crictl"
)
