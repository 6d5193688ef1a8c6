package kubernetes

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	"labs.dev/lab/lab/resource"
	"labs.dev/lab/providers/kube"
)

// sent records the requests a client makes, as "GET /api/v1/configmaps".
type sent struct {
	mu   sync.Mutex
	reqs []string
}

func (s *sent) take() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.reqs
	s.reqs = nil
	return out
}

// counted makes the command's shared client of f's cluster record what it
// sends.
func counted(t *testing.T, conns *kube.Connections, f *fixture) *sent {
	t.Helper()
	c, err := conns.Connect(kube.TargetFor(f.env, resource.Connection{}, f.config(nil)))
	if err != nil {
		t.Fatal(err)
	}
	s := &sent{}
	cfg := rest.CopyConfig(c.Config)
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		return roundTripFunc(func(r *http.Request) (*http.Response, error) {
			s.mu.Lock()
			s.reqs = append(s.reqs, r.Method+" "+r.URL.Path)
			s.mu.Unlock()
			return rt.RoundTrip(r)
		})
	})
	if c.Dynamic, err = dynamic.NewForConfig(cfg); err != nil {
		t.Fatal(err)
	}
	return s
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// A plan of many blocks reads this lab's objects of a kind with one
// cluster-wide LIST for the whole command, not a GET each; once lab has
// written to the cluster, its reads go to the cluster again, so a change
// made since is seen.
func TestPlanReadsOwnObjectsWithOneList(t *testing.T) {
	const n = 6
	ns := "t-listed"
	setup := newFixture(t, Manifest(kube.NewConnections()), "ns")
	setup.up(mfConfig(setup, nsDoc(ns)))
	t.Cleanup(setup.destroy)

	cm := func(i int, value string) string {
		return fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm-%d, namespace: %s}\ndata: {key: %s}\n", i, ns, value)
	}
	// n blocks of one lab file, one ConfigMap each, as a workshop's
	// for_each makes them; then a new command (new connections) plans them.
	conns := kube.NewConnections()
	kind := Manifest(conns)
	blocks := make([]*fixture, n)
	for i := range blocks {
		f := newFixture(t, kind, fmt.Sprintf("cm%d", i))
		f.env = setup.env
		f.up(mfConfig(f, cm(i, "v1")))
		t.Cleanup(f.destroy)
		blocks[i] = f
	}

	conns = kube.NewConnections()
	kind = Manifest(conns)
	s := counted(t, conns, blocks[0])
	for i, f := range blocks {
		f.kind = kind
		if ch := f.plan(mfConfig(f, cm(i, "v1"))); ch.Action != resource.NoOp {
			t.Fatalf("%s: %s %+v, want no-op", f.addr, ch.Action, ch.Fields)
		}
	}
	if got, want := s.take(), []string{"GET /api/v1/configmaps"}; !slices.Equal(got, want) {
		t.Errorf("plan of %d blocks sent %d requests %v, want %v", n, len(got), got, want)
	}

	// Another hand changes cm-1; lab then writes cm-0. The plan of cm-1
	// after that write must read it again and see the change.
	setup.edit(configmaps, ns, "cm-1", func(u *unstructured.Unstructured) {
		_ = unstructured.SetNestedField(u.Object, "edited", "data", "key")
	})
	blocks[0].apply(mfConfig(blocks[0], cm(0, "v2")), blocks[0].plan(mfConfig(blocks[0], cm(0, "v2"))))
	s.take()
	ch := blocks[1].plan(mfConfig(blocks[1], cm(1, "v1")))
	if ch.Action != resource.Update || !strings.Contains(fields(ch), "edited") {
		t.Errorf("plan of cm-1 after lab wrote and cm-1 was edited: %s %q, want an update from \"edited\"", ch.Action, fields(ch))
	}
	if got := s.take(); !slices.Contains(got, "GET /api/v1/namespaces/"+ns+"/configmaps/cm-1") {
		t.Errorf("plan after a write sent %v, want a GET of cm-1", got)
	}

	// Objects not this lab's are not in its LIST: they are read, and
	// adopted, as before.
	setup.create(configmaps, fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: foreign, namespace: %s}\ndata: {key: theirs}\n", ns))
	t.Cleanup(func() {
		_ = setup.dyn.Resource(configmaps).Namespace(ns).Delete(context.Background(), "foreign", metav1.DeleteOptions{})
	})
	conns = kube.NewConnections()
	f := newFixture(t, Manifest(conns), "foreign")
	f.env = setup.env
	ch = f.plan(mfConfig(f, fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: foreign, namespace: %s}\ndata: {key: ours}\n", ns)))
	if ch.Action != resource.Create || !strings.Contains(fields(ch), "theirs") {
		t.Errorf("plan of a ConfigMap lab did not make: %s %q, want create over the live one (theirs → ours)", ch.Action, fields(ch))
	}
}
