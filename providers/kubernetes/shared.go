package kubernetes

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"

	"labs.dev/lab/providers/kube"
)

// What the rest of lab shares with the manifest kind, so a YAML file and
// a server-side apply mean one thing everywhere (lab test applies a lab's
// reference solution through these).

// Object is one object of a YAML stream: where it was written and, once
// Resolve has placed it on a cluster, the resource that serves it.
type Object struct {
	*unstructured.Unstructured
	Doc  int // 1-based position of its document in the stream
	Line int // first line of its document
	// Resource reads and writes the object; nil until Resolve.
	Resource dynamic.ResourceInterface
}

// String names the object: "Deployment dev/fleet".
func (o Object) String() string {
	id := objID{Kind: o.GetKind(), Namespace: o.GetNamespace(), Name: o.GetName()}
	return id.String()
}

// Decode reads a multi-document YAML stream as the manifest kind does:
// split where kubectl splits it, each document within yamlguard's limits,
// "kind: List" flattened, every object with an apiVersion, a kind and a
// name. Errors name the document and its line.
func Decode(src []byte) ([]Object, error) {
	objs, err := decode(src)
	if err != nil {
		return nil, err
	}
	out := make([]Object, len(objs))
	for i, o := range objs {
		out[i] = Object{Unstructured: o.Obj, Doc: o.Doc, Line: o.Line}
	}
	return out, nil
}

// Resolve maps objs to the resources that serve them through c's
// discovery, as the manifest kind does: namespaced objects that name no
// namespace go to namespace (the context's when ""), cluster-scoped ones
// lose theirs. A kind the cluster does not serve is an error. objs are
// not changed.
func Resolve(c *kube.Client, objs []Object, namespace string) ([]Object, error) {
	in := make([]object, len(objs))
	for i, o := range objs {
		in[i] = object{Doc: o.Doc, Line: o.Line, Obj: o.Unstructured}
	}
	items, err := newResolver(c, in).resolve(in, namespace, false)
	if err != nil {
		return nil, err
	}
	out := make([]Object, len(items))
	for i, it := range items {
		out[i] = Object{Unstructured: it.Obj, Doc: it.Doc, Line: it.Line, Resource: it.resourceIn(c)}
	}
	return out, nil
}

// Apply server-side applies a resolved object as field manager manager,
// taking over the fields another manager holds, with the API server's
// strict field validation. It returns the object as stored.
func Apply(ctx context.Context, o Object, manager string) (*unstructured.Unstructured, error) {
	if o.Resource == nil {
		return nil, fmt.Errorf("%s (document %d): not resolved against a cluster", o, o.Doc)
	}
	return applyAs(ctx, o.Resource, o.Unstructured, manager, o.String(), always)
}
