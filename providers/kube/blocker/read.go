package blocker

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
)

var (
	podsResource        = schema.GroupVersionResource{Version: "v1", Resource: "pods"}
	replicaSetsResource = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "replicasets"}
	eventsResource      = schema.GroupVersionResource{Version: "v1", Resource: "events"}
)

// Lister reads what Explain needs from a cluster: per namespace of the
// objects, one LIST of pods (and of ReplicaSets, for Deployments), and
// one of warning events only when the pods alone do not say why. It
// only lists, so the built-in view ClusterRole is enough.
type Lister struct {
	Dynamic dynamic.Interface
	Options Options
}

// needs says what explaining an object of kind gk reads.
func needs(gk schema.GroupKind) (pods, replicaSets, known bool) {
	switch gk.String() {
	case "Deployment.apps":
		return true, true, true
	case "ReplicaSet.apps", "StatefulSet.apps", "DaemonSet.apps", "Job.batch":
		return true, false, true
	case "Pod", "Namespace":
		return false, false, true
	}
	return false, false, false
}

// Explains reports whether Explain knows the kind, so a caller asks
// about those only.
func Explains(gk schema.GroupKind) bool {
	_, _, known := needs(gk)
	return known
}

// Explain reads the facts of objs' namespaces and explains each object:
// out[i] are the reasons of objs[i], most likely cause first.
func (l Lister) Explain(ctx context.Context, objs []*unstructured.Unstructured) ([][]Reason, error) {
	out := make([][]Reason, len(objs))
	byNS := map[string][]int{}
	type want struct{ pods, replicaSets bool }
	wants := map[string]want{}
	for i, u := range objs {
		if u == nil {
			continue
		}
		pods, rs, known := needs(u.GroupVersionKind().GroupKind())
		if !known {
			continue
		}
		if u.GetKind() == "Namespace" {
			out[i] = Explain(u, Facts{}, l.Options)
			continue
		}
		ns := u.GetNamespace()
		byNS[ns] = append(byNS[ns], i)
		w := wants[ns]
		w.pods, w.replicaSets = w.pods || pods, w.replicaSets || rs
		wants[ns] = w
	}
	namespaces := make([]string, 0, len(byNS))
	for ns := range byNS {
		namespaces = append(namespaces, ns)
	}
	sort.Strings(namespaces)
	for _, ns := range namespaces {
		w := wants[ns]
		f, err := l.read(ctx, ns, w.pods, w.replicaSets, false)
		if err != nil {
			return nil, err
		}
		more := false
		for _, i := range byNS[ns] {
			out[i] = Explain(objs[i], f, l.Options)
			more = more || wantsEvents(out[i])
		}
		if !more {
			continue
		}
		if f.Events, err = list[corev1.Event](ctx, l.Dynamic, eventsResource, ns, "type=Warning"); err != nil {
			return nil, err
		}
		for _, i := range byNS[ns] {
			out[i] = Explain(objs[i], f, l.Options)
		}
	}
	return out, nil
}

// Facts lists, all at once, everything Explain and Itemize read of
// namespace ns: its pods, ReplicaSets and warning events.
func (l Lister) Facts(ctx context.Context, ns string) (Facts, error) {
	return l.read(ctx, ns, true, true, true)
}

// Itemize reads obj's namespace and says why obj is not ready item by
// item (see Itemize).
func (l Lister) Itemize(ctx context.Context, obj *unstructured.Unstructured) ([]Reason, error) {
	f, err := l.Facts(ctx, obj.GetNamespace())
	if err != nil {
		return nil, err
	}
	return Itemize(obj, f, l.Options), nil
}

// read lists what is asked of namespace ns, all at once.
func (l Lister) read(ctx context.Context, ns string, pods, replicaSets, events bool) (Facts, error) {
	var f Facts
	var wg sync.WaitGroup
	errs := make([]error, 3)
	if pods {
		wg.Go(func() { f.Pods, errs[0] = list[corev1.Pod](ctx, l.Dynamic, podsResource, ns, "") })
	}
	if replicaSets {
		wg.Go(func() { f.ReplicaSets, errs[1] = list[appsv1.ReplicaSet](ctx, l.Dynamic, replicaSetsResource, ns, "") })
	}
	if events {
		wg.Go(func() { f.Events, errs[2] = list[corev1.Event](ctx, l.Dynamic, eventsResource, ns, "type=Warning") })
	}
	wg.Wait()
	return f, errors.Join(errs...)
}

// wantsEvents reports whether events would say more than rs: nothing
// found yet, or a reason whose cause only an event gives.
func wantsEvents(rs []Reason) bool {
	if len(rs) == 0 {
		return true
	}
	for _, r := range rs {
		switch r.Code {
		case Unready, ImagePullBackOff, ErrImagePull:
			return true
		}
	}
	return false
}

func list[T any](ctx context.Context, dyn dynamic.Interface, res schema.GroupVersionResource, ns, fieldSelector string) ([]T, error) {
	ul, err := dyn.Resource(res).Namespace(ns).List(ctx, metav1.ListOptions{FieldSelector: fieldSelector})
	if err != nil {
		return nil, fmt.Errorf("list %s in namespace %s: %w", res.Resource, ns, err)
	}
	out := make([]T, len(ul.Items))
	for i := range ul.Items {
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(ul.Items[i].Object, &out[i]); err != nil {
			return nil, fmt.Errorf("read %s %s/%s: %w", res.Resource, ns, ul.Items[i].GetName(), err)
		}
	}
	return out, nil
}
