package verify

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"labs.dev/lab/providers/kube/blocker"
)

// whyFinder is a Source that can say why a workload is not available,
// for a failed check on its status.
type whyFinder interface {
	// Why may answer from reads made no earlier than notBefore, as
	// Objects does, so the failures of one round share them.
	Why(ctx context.Context, ref ObjectRef, notBefore time.Time) ([]blocker.Reason, error)
}

// whyTimeout bounds the reading behind one failure's reasons.
const whyTimeout = 10 * time.Second

// Why reads ref, its pods and their events, and says why it is not
// ready item by item: what holds the object itself (a paused rollout, a
// quota), then each pod that is not ready. It only gets and lists, so
// the view ClusterRole is enough. With AllNamespaces it answers from
// reads shared by every failure of the round (see sharedWhy).
func (c *Cluster) Why(ctx context.Context, ref ObjectRef, notBefore time.Time) ([]blocker.Reason, error) {
	ctx, cancel := context.WithTimeout(ctx, whyTimeout)
	defer cancel()
	if c.AllNamespaces {
		return c.sharedWhy(ctx, ref, notBefore)
	}
	m, err := mapping(c.mapper, ref.APIVersion, ref.Kind)
	if err != nil {
		return nil, err
	}
	l := blocker.Lister{Dynamic: c.dyn}
	// The object and its namespace at once: a failing check answers
	// sooner.
	var u *unstructured.Unstructured
	var f blocker.Facts
	var getErr, listErr error
	var wg sync.WaitGroup
	wg.Go(func() {
		u, getErr = c.dyn.Resource(m.Resource).Namespace(ref.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
	})
	wg.Go(func() { f, listErr = l.Facts(ctx, ref.Namespace) })
	wg.Wait()
	if err := errors.Join(getErr, listErr); err != nil {
		return nil, err
	}
	return blocker.Itemize(u, f, l.Options), nil
}

// sharedWhy is Why across many learners' namespaces. A GET and three
// LISTs per failing workload would grow with the learners who fail;
// instead the object comes from the listing of its kind that its check
// read, and the rest from its namespace's share of one cluster-wide
// reading per round.
func (c *Cluster) sharedWhy(ctx context.Context, ref ObjectRef, notBefore time.Time) ([]blocker.Reason, error) {
	objs, err := c.Objects(ctx, &Selection{APIVersion: ref.APIVersion, Kind: ref.Kind, Namespace: ref.Namespace}, notBefore)
	if err != nil {
		return nil, err
	}
	var u *unstructured.Unstructured
	for _, o := range objs {
		if n, ok := attr(o.Value, "metadata.name"); ok && n.Type() == cty.String && !n.IsNull() && n.AsString() == ref.Name {
			if u, err = unstructuredOf(o); err != nil {
				return nil, err
			}
			break
		}
	}
	if u == nil {
		return nil, fmt.Errorf("%s is not in the listing of its kind", ref)
	}
	byNS, err := c.allFacts(ctx, notBefore)
	if err != nil {
		return nil, err
	}
	return blocker.Itemize(u, byNS[ref.Namespace], blocker.Options{}), nil
}

// unstructuredOf turns a listed object back into what blocker reads.
// Only failing objects take the trip, so listings need not keep their
// decoded JSON beside their values.
func unstructuredOf(o Object) (*unstructured.Unstructured, error) {
	b, err := ctyjson.Marshal(o.Value, o.Value.Type())
	if err != nil {
		return nil, err
	}
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(b); err != nil {
		return nil, err
	}
	return u, nil
}

// factsReading is one cluster-wide reading of what blocker.Itemize
// reads, split by namespace.
type factsReading struct {
	started time.Time
	done    chan struct{}
	byNS    map[string]blocker.Facts
	err     error
}

// allFacts returns a reading started no earlier than notBefore, making
// one if there is none: the first failure of a round reads, the others
// wait for it.
func (c *Cluster) allFacts(ctx context.Context, notBefore time.Time) (map[string]blocker.Facts, error) {
	c.mu.Lock()
	r := c.facts
	if r == nil || r.started.Before(notBefore) {
		r = &factsReading{started: time.Now(), done: make(chan struct{})}
		c.facts = r
		go c.readFacts(r)
	}
	c.mu.Unlock()
	select {
	case <-r.done:
		return r.byNS, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (c *Cluster) readFacts(r *factsReading) {
	defer close(r.done)
	// Bounded on its own, as a listing is: no one failure's context may
	// cancel it for the others.
	ctx, cancel := context.WithTimeout(context.Background(), whyTimeout)
	defer cancel()
	all, err := blocker.Lister{Dynamic: c.dyn}.Facts(ctx, metav1.NamespaceAll)
	if err != nil {
		r.err = err
		return
	}
	r.byNS = map[string]blocker.Facts{}
	for _, p := range all.Pods {
		f := r.byNS[p.Namespace]
		f.Pods = append(f.Pods, p)
		r.byNS[p.Namespace] = f
	}
	for _, rs := range all.ReplicaSets {
		f := r.byNS[rs.Namespace]
		f.ReplicaSets = append(f.ReplicaSets, rs)
		r.byNS[rs.Namespace] = f
	}
	for _, e := range all.Events {
		f := r.byNS[e.Namespace]
		f.Events = append(f.Events, e)
		r.byNS[e.Namespace] = f
	}
}

// explainStatus adds, to the last failure of a check about the status
// of each workload (status.availableReplicas, say), why that workload is
// not available, so the reasons follow every message and hint the author
// wrote about it. It reads only for checks that failed, so checks that
// pass cost nothing more. notBefore is the round's start.
func explainStatus(ctx context.Context, w whyFinder, fs []Failure, notBefore time.Time) {
	done := map[ObjectRef]bool{}
	for i := len(fs) - 1; i >= 0; i-- {
		f := &fs[i]
		if f.Object == nil || done[*f.Object] || (f.Field != "status" && !strings.HasPrefix(f.Field, "status.")) {
			continue
		}
		gk := schema.FromAPIVersionAndKind(f.Object.APIVersion, f.Object.Kind).GroupKind()
		if !blocker.Explains(gk) || gk.Kind == "Namespace" {
			continue
		}
		done[*f.Object] = true
		rs, err := w.Why(ctx, *f.Object, notBefore)
		if err != nil {
			continue // a courtesy: the failure already says what is wrong
		}
		f.Why = rs
	}
}
