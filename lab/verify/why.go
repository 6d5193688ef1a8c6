package verify

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"labs.dev/lab/providers/kube/blocker"
)

// whyFinder is a Source that can say why a workload is not available,
// for a failed check on its status.
type whyFinder interface {
	Why(ctx context.Context, ref ObjectRef) ([]blocker.Reason, error)
}

// whyTimeout bounds the reading behind one failure's reasons.
const whyTimeout = 10 * time.Second

// Why reads ref, its pods and their events, and says why it is not
// ready item by item: what holds the object itself (a paused rollout, a
// quota), then each pod that is not ready. It only gets and lists, so
// the view ClusterRole is enough.
func (c *Cluster) Why(ctx context.Context, ref ObjectRef) ([]blocker.Reason, error) {
	m, err := mapping(c.mapper, ref.APIVersion, ref.Kind)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, whyTimeout)
	defer cancel()
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

// explainStatus adds, to the last failure of a check about the status
// of each workload (status.availableReplicas, say), why that workload is
// not available, so the reasons follow every message and hint the author
// wrote about it. It reads only for checks that failed, so checks that
// pass cost nothing more.
func explainStatus(ctx context.Context, w whyFinder, fs []Failure) {
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
		rs, err := w.Why(ctx, *f.Object)
		if err != nil {
			continue // a courtesy: the failure already says what is wrong
		}
		f.Why = rs
	}
}
