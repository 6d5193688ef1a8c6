package kubernetes

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"labs.dev/lab/providers/kube"
)

// objID names one object independently of the API version it is read at.
type objID struct {
	Group, Kind, Namespace, Name string
}

func (id objID) String() string {
	if id.Namespace != "" {
		return id.Kind + " " + id.Namespace + "/" + id.Name
	}
	return id.Kind + " " + id.Name
}

// item is a desired object resolved against the cluster.
type item struct {
	object
	id         objID
	gvr        schema.GroupVersionResource
	namespaced bool
	// served is false for a kind the cluster does not know yet, e.g. one
	// whose CustomResourceDefinition this run creates.
	served bool
	digest string
}

// first are applied before everything else and deleted after it.
func (it item) first() bool { return isFirst(it.id.Group, it.id.Kind) }

func isFirst(group, kind string) bool {
	return group == "" && kind == "Namespace" || group == "apiextensions.k8s.io" && kind == "CustomResourceDefinition"
}

func (it item) isCRD() bool {
	return it.id.Group == "apiextensions.k8s.io" && it.id.Kind == "CustomResourceDefinition"
}

func (it item) resourceIn(c *kube.Client) dynamic.ResourceInterface {
	return resourceFor(c, it.gvr, it.namespaced, it.id.Namespace)
}

func resourceFor(c *kube.Client, gvr schema.GroupVersionResource, namespaced bool, ns string) dynamic.ResourceInterface {
	if namespaced {
		return c.Dynamic.Resource(gvr).Namespace(ns)
	}
	return c.Dynamic.Resource(gvr)
}

// digest identifies what the lab file declared for an object, so a later
// plan can tell a change in the file from a change in the cluster.
func digest(obj map[string]any) string {
	b, err := json.Marshal(obj)
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

type crdInfo struct {
	resource   string
	namespaced bool
}

// resolver maps kinds to resources through the cluster's discovery,
// refreshing it once per operation when a kind is missing, since a CRD
// may have been created since it was read.
type resolver struct {
	c     *kube.Client
	mu    sync.Mutex
	reset bool
	cache map[schema.GroupVersionKind]*meta.RESTMapping
	crds  map[schema.GroupKind]crdInfo // CRDs declared in the manifest
}

func newResolver(c *kube.Client, objs []object) *resolver {
	r := &resolver{c: c, cache: map[schema.GroupVersionKind]*meta.RESTMapping{}, crds: map[schema.GroupKind]crdInfo{}}
	for _, o := range objs {
		gvk := o.gvk()
		if gvk.Group != "apiextensions.k8s.io" || gvk.Kind != "CustomResourceDefinition" {
			continue
		}
		group, _, _ := unstructured.NestedString(o.Obj.Object, "spec", "group")
		kind, _, _ := unstructured.NestedString(o.Obj.Object, "spec", "names", "kind")
		plural, _, _ := unstructured.NestedString(o.Obj.Object, "spec", "names", "plural")
		scope, _, _ := unstructured.NestedString(o.Obj.Object, "spec", "scope")
		if kind != "" && plural != "" {
			r.crds[schema.GroupKind{Group: group, Kind: kind}] = crdInfo{resource: plural, namespaced: scope != "Cluster"}
		}
	}
	return r
}

func (r *resolver) mapping(gvk schema.GroupVersionKind) (*meta.RESTMapping, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if m, ok := r.cache[gvk]; ok {
		return m, nil
	}
	m, err := r.c.Mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if meta.IsNoMatchError(err) && !r.reset {
		r.reset = true
		r.c.Mapper.Reset()
		m, err = r.c.Mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	}
	if err == nil {
		r.cache[gvk] = m
	}
	return m, err
}

// refresh forgets what discovery said, after CRDs were established.
func (r *resolver) refresh() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.c.Mapper.Reset()
	r.cache = map[schema.GroupVersionKind]*meta.RESTMapping{}
	r.reset = true
}

// builtin groups are served by every API server, so a kind missing from
// them is a typo, not a CRD still to come.
func builtin(group string) bool { return !strings.Contains(group, ".") }

// resolve maps each object to its resource and fills in its namespace:
// the manifest's, else the kubeconfig context's. With lenient, kinds the
// cluster does not serve (yet) outside the built-in groups are kept as
// not served instead of failing.
func (r *resolver) resolve(objs []object, defaultNS string, lenient bool) ([]item, error) {
	if defaultNS == "" {
		defaultNS = r.c.Namespace
	}
	items := make([]item, 0, len(objs))
	seen := map[objID]object{}
	for _, o := range objs {
		it, err := r.resolveOne(o, defaultNS, lenient)
		if err != nil {
			return nil, err
		}
		if prev, dup := seen[it.id]; dup {
			return nil, fmt.Errorf("%s and %s both declare %s; declare each object once", prev.doc(), o.doc(), it.id)
		}
		seen[it.id] = o
		items = append(items, it)
	}
	return items, nil
}

func (r *resolver) resolveOne(o object, defaultNS string, lenient bool) (item, error) {
	gvk := o.gvk()
	obj := o.Obj.DeepCopy()
	it := item{object: object{Doc: o.Doc, Line: o.Line, Obj: obj}, served: true}
	m, err := r.mapping(gvk)
	switch {
	case err == nil:
		it.gvr = m.Resource
		it.namespaced = m.Scope.Name() == meta.RESTScopeNameNamespace
	case !meta.IsNoMatchError(err):
		return it, reach(r.c, fmt.Sprintf("%s: look up kind %s", o.doc(), gvk.Kind), err)
	case r.crds[gvk.GroupKind()] != crdInfo{}:
		crd := r.crds[gvk.GroupKind()]
		it.served = false
		it.gvr = gvk.GroupVersion().WithResource(crd.resource)
		it.namespaced = crd.namespaced
	case lenient && !builtin(gvk.Group):
		it.served = false
		it.namespaced = obj.GetNamespace() != ""
	default:
		hint := "`kubectl api-resources` lists the kinds the cluster serves"
		if !builtin(gvk.Group) {
			hint = "is its CustomResourceDefinition installed? If another resource installs it, add that resource to depends_on"
		}
		return it, fmt.Errorf("%s: the cluster (%s) does not serve kind %s in apiVersion %s; %s", o.doc(), r.c.Target, gvk.Kind, gvk.GroupVersion(), hint)
	}
	if it.namespaced && obj.GetNamespace() == "" {
		obj.SetNamespace(defaultNS)
	}
	if !it.namespaced && it.served {
		unstructured.RemoveNestedField(obj.Object, "metadata", "namespace")
	}
	it.id = objID{Group: gvk.Group, Kind: gvk.Kind, Namespace: obj.GetNamespace(), Name: obj.GetName()}
	it.digest = digest(obj.Object)
	return it, nil
}

// liveRef is an object to read from the cluster.
type liveRef struct {
	id         objID
	gvr        schema.GroupVersionResource
	namespaced bool
}

// listFrom is how many objects of one resource in one namespace make a
// LIST cheaper than a GET each.
const listFrom = 4

// fetch reads the live objects; absent ones are missing from the result.
// One LIST per resource and namespace serves many objects in one round
// trip, where kubectl diff would dry-run each object. With a selector
// (a plan's), objects that carry it come from the command's one
// cluster-wide LIST per resource (kube.Client.Listed) first.
func fetch(ctx context.Context, c *kube.Client, refs []liveRef, selector string) (map[objID]*unstructured.Unstructured, error) {
	out := map[objID]*unstructured.Unstructured{}
	if selector != "" {
		var rest []liveRef
		for _, r := range refs {
			ns := r.id.Namespace
			if !r.namespaced {
				ns = ""
			}
			if u, ok := c.Listed(ctx, r.gvr, ns, r.id.Name, selector); ok {
				out[r.id] = u
				continue
			}
			rest = append(rest, r)
		}
		refs = rest
	}
	type group struct {
		gvr        schema.GroupVersionResource
		namespaced bool
		ns         string
	}
	byGroup := map[group][]objID{}
	var order []group
	for _, r := range refs {
		g := group{r.gvr, r.namespaced, r.id.Namespace}
		if _, ok := byGroup[g]; !ok {
			order = append(order, g)
		}
		byGroup[g] = append(byGroup[g], r.id)
	}
	type task struct {
		g   group
		ids []objID // one for a GET, all of the group for a LIST
	}
	var tasks []task
	for _, g := range order {
		ids := byGroup[g]
		if len(ids) >= listFrom {
			tasks = append(tasks, task{g, ids})
			continue
		}
		for _, id := range ids {
			tasks = append(tasks, task{g, []objID{id}})
		}
	}
	var mu sync.Mutex
	get := func(ctx context.Context, ri dynamic.ResourceInterface, id objID) error {
		u, err := ri.Get(ctx, id.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return reach(c, "read "+id.String(), err)
		}
		mu.Lock()
		out[id] = u
		mu.Unlock()
		return nil
	}
	err := forEach(ctx, len(tasks), func(ctx context.Context, i int) error {
		t := tasks[i]
		ri := resourceFor(c, t.g.gvr, t.g.namespaced, t.g.ns)
		if len(t.ids) == 1 {
			return get(ctx, ri, t.ids[0])
		}
		list, err := ri.List(ctx, metav1.ListOptions{})
		if apierrors.IsForbidden(err) || apierrors.IsMethodNotSupported(err) {
			for _, id := range t.ids {
				if err := get(ctx, ri, id); err != nil {
					return err
				}
			}
			return nil
		}
		if err != nil {
			return reach(c, fmt.Sprintf("list %s in %s", t.g.gvr.Resource, orCluster(t.g.ns)), err)
		}
		want := map[string]objID{}
		for _, id := range t.ids {
			want[id.Name] = id
		}
		mu.Lock()
		defer mu.Unlock()
		for i := range list.Items {
			if id, ok := want[list.Items[i].GetName()]; ok {
				out[id] = &list.Items[i]
			}
		}
		return nil
	})
	return out, err
}

func orCluster(ns string) string {
	if ns == "" {
		return "the cluster"
	}
	return "namespace " + ns
}
