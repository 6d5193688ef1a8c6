package verify

import (
	"context"
	"fmt"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"

	"labs.dev/lab/providers/kube"
)

// Source lists the live objects a selection looks at.
type Source interface {
	// Objects returns every object of the selection's apiVersion and kind
	// in its namespace ("" all), as listed no earlier than notBefore, so
	// checks that start together share one list call.
	Objects(ctx context.Context, s *Selection, notBefore time.Time) ([]Object, error)
}

// elsewhereFinder is a Source that can look for a missing object in
// other namespaces, to tell a learner where it went by mistake.
type elsewhereFinder interface {
	Elsewhere(ctx context.Context, s *Selection) []ObjectRef
}

// Cluster is a Source over a live API server. It lists each (kind,
// namespace) once per round of checks and never writes.
type Cluster struct {
	dyn    dynamic.Interface
	mapper meta.RESTMapper // for kinds that are not built in; may be nil
	// Host and Context name the cluster in errors.
	Host, Context string
	kubeconfig    string // to name the current context in errors
	// AllNamespaces lists each kind once across every namespace and
	// hands each selection its namespace's share: many learners'
	// namespaces cost one request per kind, not one per learner. It needs
	// cluster-wide read access (the view ClusterRole).
	AllNamespaces bool

	mu    sync.Mutex
	lists map[string]*listing
	facts *factsReading // with AllNamespaces, for Why
}

type listing struct {
	started time.Time
	done    chan struct{}
	items   []Object
	byNS    map[string][]Object // with AllNamespaces
	err     error
}

// NewCluster reads through c.
func NewCluster(c *kube.Client) *Cluster {
	return &Cluster{dyn: c.Dynamic, mapper: c.Mapper, Host: c.Config.Host, Context: c.Target.Context, kubeconfig: c.Target.Kubeconfig}
}

// NewClusterFrom is NewCluster from parts, for callers with their own
// clients.
func NewClusterFrom(dyn dynamic.Interface, mapper meta.RESTMapper, host, context string) *Cluster {
	return &Cluster{dyn: dyn, mapper: mapper, Host: host, Context: context}
}

// wrap types a failed request (see Reach).
func (c *Cluster) wrap(err error) error {
	return unreachable(err, c.Host, c.Context, c.kubeconfig)
}

// Objects implements Source.
func (c *Cluster) Objects(ctx context.Context, s *Selection, notBefore time.Time) ([]Object, error) {
	m, err := mapping(c.mapper, s.APIVersion, s.Kind)
	if err != nil {
		return nil, c.wrap(err)
	}
	ns := s.Namespace
	if m.Scope.Name() != meta.RESTScopeNameNamespace {
		ns = ""
	}
	listNS := ns
	if c.AllNamespaces {
		listNS = ""
	}
	key := m.Resource.String() + "|" + listNS
	c.mu.Lock()
	if c.lists == nil {
		c.lists = map[string]*listing{}
	}
	l := c.lists[key]
	if l == nil || l.started.Before(notBefore) {
		l = &listing{started: time.Now(), done: make(chan struct{})}
		c.lists[key] = l
		go c.list(l, m, listNS, s)
	}
	c.mu.Unlock()
	select {
	case <-l.done:
		if l.err != nil || listNS == ns {
			return l.items, l.err
		}
		return l.byNS[ns], nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (c *Cluster) list(l *listing, m *meta.RESTMapping, ns string, s *Selection) {
	defer close(l.done)
	// Bounded on its own: a listing is shared, so no one caller's
	// context may cancel it for the others.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	list, err := c.dyn.Resource(m.Resource).Namespace(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		l.err = c.listError(err, m, ns)
		return
	}
	l.items = make([]Object, 0, len(list.Items))
	for i := range list.Items {
		obj := list.Items[i].Object
		if obj["apiVersion"] == nil {
			obj["apiVersion"] = s.APIVersion
		}
		if obj["kind"] == nil {
			obj["kind"] = s.Kind
		}
		l.items = append(l.items, NewObject(obj))
	}
	if c.AllNamespaces {
		l.byNS = map[string][]Object{}
		for i, o := range l.items {
			ns := list.Items[i].GetNamespace()
			l.byNS[ns] = append(l.byNS[ns], o)
		}
	}
}

// Elsewhere finds objects named like a missing one in other namespaces.
func (c *Cluster) Elsewhere(ctx context.Context, s *Selection) []ObjectRef {
	m, err := mapping(c.mapper, s.APIVersion, s.Kind)
	if err != nil || m.Scope.Name() != meta.RESTScopeNameNamespace || s.Name == "" {
		return nil
	}
	if c.AllNamespaces {
		// Across many learners, another namespace holding the object
		// is most often another learner's work, not this one's mistake.
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	list, err := c.dyn.Resource(m.Resource).List(ctx, metav1.ListOptions{FieldSelector: "metadata.name=" + s.Name})
	if err != nil {
		return nil // only a courtesy; the failure already says what is missing
	}
	var out []ObjectRef
	for _, o := range list.Items {
		// Objects lab or helm made (a lab's sample fleets) are not the
		// learner's misplaced work.
		if m := o.GetLabels()["app.kubernetes.io/managed-by"]; m == "lab" || m == "Helm" {
			continue
		}
		if o.GetNamespace() != s.Namespace {
			out = append(out, ObjectRef{APIVersion: s.APIVersion, Kind: s.Kind, Namespace: o.GetNamespace(), Name: o.GetName()})
		}
	}
	return out
}

func (c *Cluster) listError(err error, m *meta.RESTMapping, ns string) error {
	where := "across all namespaces"
	if ns != "" {
		where = "in namespace " + ns
	}
	switch {
	case apierrors.IsForbidden(err), apierrors.IsUnauthorized(err):
		return &DeniedError{Host: c.Host, Resource: m.Resource.Resource, Where: where, Err: err}
	case apierrors.IsNotFound(err):
		return &NotServedError{APIVersion: m.GroupVersionKind.GroupVersion().String(), Kind: m.GroupVersionKind.Kind}
	}
	if w := c.wrap(err); w != err {
		return w
	}
	return fmt.Errorf("list %s %s: %w", m.Resource.Resource, where, err)
}
