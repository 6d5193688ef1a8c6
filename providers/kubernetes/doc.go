// Package kubernetes holds the resource kinds that manage objects inside a
// cluster through client-go: `namespace` and `manifest`. Both server-side
// apply with field manager "lab", mark what they create with
// resource.Owner labels, refresh plans against the live cluster, and delete
// only objects that still carry this lab's labels.
package kubernetes
