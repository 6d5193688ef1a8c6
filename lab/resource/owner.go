package resource

import (
	"crypto/sha256"
	"encoding/hex"
)

// Labels and annotations lab puts on every object it creates.
const (
	// LabelManagedBy is set to ManagedBy on everything lab creates.
	LabelManagedBy = "app.kubernetes.io/managed-by"
	ManagedBy      = "lab"
	// LabelInstance identifies the lab file (a hash of its absolute path),
	// so two labs on one cluster never touch each other's objects.
	LabelInstance = "lab.dev/instance"
	// AnnotationResource names the resource block, e.g. "namespace.dev".
	AnnotationResource = "lab.dev/resource"
	// AnnotationFile is the absolute path of the lab file.
	AnnotationFile = "lab.dev/file"
)

// Owner identifies one lab file's objects.
type Owner struct {
	Instance string // LabelInstance value
	File     string // absolute path of the lab file
}

// NewOwner derives the owner of the lab file at the absolute path file.
func NewOwner(file string) Owner {
	sum := sha256.Sum256([]byte(file))
	return Owner{Instance: hex.EncodeToString(sum[:])[:12], File: file}
}

// Labels are the ownership labels for an object of resource addr.
func (o Owner) Labels() map[string]string {
	return map[string]string{LabelManagedBy: ManagedBy, LabelInstance: o.Instance}
}

// Annotations are the ownership annotations for an object of resource addr.
func (o Owner) Annotations(addr Addr) map[string]string {
	return map[string]string{AnnotationResource: addr.String(), AnnotationFile: o.File}
}

// Owns reports whether an object with these labels was created by this lab.
func (o Owner) Owns(labels map[string]string) bool {
	return labels[LabelManagedBy] == ManagedBy && labels[LabelInstance] == o.Instance
}

// Selector is a label selector for everything this lab created.
func (o Owner) Selector() string {
	return LabelManagedBy + "=" + ManagedBy + "," + LabelInstance + "=" + o.Instance
}
