package kube

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"
)

// writes counts the requests this process has sent that may change a
// cluster (and Wrote's out-of-band ones). A listing read before the
// latest of them may be stale, so Client.Listed no longer answers from it.
var writes atomic.Int64

// Wrote says a cluster may have changed by other means than lab's own
// clients, e.g. a helm release installed by the lab-helm worker.
func Wrote() { writes.Add(1) }

// Written reports whether this process may have changed a cluster.
func Written() bool { return writes.Load() > 0 }

// CountWrites makes the requests through cfg that may change a cluster
// count for Listed; Connections' own configs do already.
func CountWrites(cfg *rest.Config) {
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper { return countWrites{rt} })
}

// countWrites wraps a transport so that every request that may change
// the cluster counts in writes, once when it is sent and once when it is
// answered: a LIST that overlaps a write, in either order, is never
// taken as current after it. Reviews (who am I, may I) are POSTs that
// store nothing.
type countWrites struct{ next http.RoundTripper }

func (c countWrites) RoundTrip(req *http.Request) (*http.Response, error) {
	switch req.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return c.next.RoundTrip(req)
	}
	if review(req.URL.Path) {
		return c.next.RoundTrip(req)
	}
	writes.Add(1)
	defer writes.Add(1)
	return c.next.RoundTrip(req)
}

// review reports whether path is an access or identity review, also
// behind a proxy that prefixes API paths (Rancher's /k8s/clusters/<id>).
func review(path string) bool {
	return strings.Contains(path, "/apis/authorization.k8s.io/") || strings.Contains(path, "/apis/authentication.k8s.io/")
}

// listing is one cluster-wide LIST of a resource's objects that carry a
// label selector, read at most once per Client.
type listing struct {
	once  sync.Once
	at    int64 // writes when it was read
	items map[string]*unstructured.Unstructured
	ok    bool // false: the LIST failed (e.g. forbidden); read one by one
}

type listingKey struct {
	gvr      schema.GroupVersionResource
	selector string
}

// Listed returns the object ns/name of gvr ("" ns for a cluster-scoped
// one) from one cluster-wide LIST of the objects that carry selector,
// read once per Client and shared by every caller, while no write has
// been made since it was read: a plan of 50 learners' namespaces and
// manifests is a handful of LISTs instead of a thousand GETs. ok false
// means the LIST cannot say (the object is not in it, a write came
// since, or the LIST was refused): read the object itself.
func (c *Client) Listed(ctx context.Context, gvr schema.GroupVersionResource, ns, name, selector string) (u *unstructured.Unstructured, ok bool) {
	l := c.listing(ctx, gvr, selector)
	if !l.ok || l.at != writes.Load() {
		return nil, false
	}
	if u := l.items[ns+"/"+name]; u != nil {
		return u.DeepCopy(), true
	}
	return nil, false
}

func (c *Client) listing(ctx context.Context, gvr schema.GroupVersionResource, selector string) *listing {
	c.listMu.Lock()
	if c.lists == nil {
		c.lists = map[listingKey]*listing{}
	}
	k := listingKey{gvr, selector}
	l := c.lists[k]
	if l == nil {
		l = &listing{}
		c.lists[k] = l
	}
	c.listMu.Unlock()
	l.once.Do(func() {
		l.at = writes.Load()
		list, err := c.Dynamic.Resource(gvr).List(ctx, metav1.ListOptions{LabelSelector: selector})
		if err != nil {
			return // forbidden, not served, or unreachable: the GETs say
		}
		l.items = make(map[string]*unstructured.Unstructured, len(list.Items))
		for i := range list.Items {
			u := &list.Items[i]
			l.items[u.GetNamespace()+"/"+u.GetName()] = u
		}
		l.ok = true
	})
	return l
}
