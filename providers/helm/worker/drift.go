package worker

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"helm.sh/helm/v3/pkg/release"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	cliresource "k8s.io/cli-runtime/pkg/resource"

	"labs.dev/lab/providers/helm/wire"
	labkube "labs.dev/lab/providers/kube"
	"labs.dev/lab/providers/kube/objdiff"
)

// liveDrift compares every object of the release's manifest with the live
// cluster. helm's own record says only what helm last did; a learner's
// `kubectl delete` or `kubectl scale` shows up only here.
func (w *worker) liveDrift(ctx context.Context, rel *release.Release) ([]wire.ObjectDrift, error) {
	infos, err := w.cfg.KubeClient.Build(bytes.NewBufferString(rel.Manifest), false)
	if err != nil {
		return nil, fmt.Errorf("read the objects of helm release %q in namespace %q: %w", rel.Name, rel.Namespace, err)
	}
	// Objects lab labelled come from one LIST per kind that every
	// release's plan shares (labkube.Client.Listed), while nothing has
	// been written: 100 releases' plans are then a few LISTs, not 200 GETs.
	var listed *labkube.Client
	selector := labels.SelectorFromSet(w.req.Labels).String()
	if w.req.Listed && len(w.req.Labels) > 0 {
		listed, _ = w.conns.Connect(labkube.Target{Kubeconfig: w.req.Kubeconfig, Context: w.req.Context})
	}
	var drift []wire.ObjectDrift
	for _, info := range infos {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		want, ok := info.Object.(*unstructured.Unstructured)
		if !ok {
			continue
		}
		d := wire.ObjectDrift{Kind: want.GetKind(), Namespace: info.Namespace, Name: info.Name}
		var live runtime.Object
		var err error
		if u, ok := listedObject(ctx, listed, info, selector); ok {
			live = u
		} else {
			live, err = cliresource.NewHelper(info.Client, info.Mapping).Get(info.Namespace, info.Name)
		}
		switch {
		case apierrors.IsNotFound(err):
			d.Missing = true
			drift = append(drift, d)
			continue
		case err != nil:
			return nil, fmt.Errorf("read %s of helm release %q: %w", d.ID(), rel.Name, err)
		}
		u, ok := live.(*unstructured.Unstructured)
		if !ok {
			continue
		}
		if u.GetDeletionTimestamp() != nil {
			d.Missing = true
			drift = append(drift, d)
			continue
		}
		if d.Fields = objectDiff(want.Object, u.Object); len(d.Fields) > 0 {
			drift = append(drift, d)
		}
	}
	return drift, nil
}

// listedObject is info's live object from c's shared LIST, ok false when
// that cannot say (no LIST, not in it, or a write since).
func listedObject(ctx context.Context, c *labkube.Client, info *cliresource.Info, selector string) (*unstructured.Unstructured, bool) {
	if c == nil {
		return nil, false
	}
	ns := ""
	if info.Namespaced() {
		ns = info.Namespace
	}
	return c.Listed(ctx, info.Mapping.Resource, ns, info.Name, selector)
}

// objectDiff lists the fields of the rendered object that the live object
// does not match. The rendered object is a subset of the live one: fields
// the server defaulted or added are not drift. Of metadata only labels and
// annotations count: helm sets the namespace and others its own fields.
func objectDiff(want, live map[string]any) []wire.Field {
	want = objdiff.Comparable(want)
	if wm, ok := want["metadata"].(map[string]any); ok {
		want["metadata"] = map[string]any{"labels": wm["labels"], "annotations": wm["annotations"]}
	}
	var out []wire.Field
	for _, f := range objdiff.Subset(want, live) {
		out = append(out, wire.Field{Path: f.Path, Live: render(f.Old), Want: render(f.New)})
	}
	return out
}

// render shows a value compactly for a plan line, as JSON so that "2" and
// 2 differ; "" means absent.
func render(v any) string {
	if v == nil {
		return ""
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	const max = 120
	if len(b) > max {
		return string(b[:max]) + "..."
	}
	return string(b)
}

// relabel puts lab's labels back on the release's objects. helm forces
// app.kubernetes.io/managed-by=Helm onto every object it creates or
// patches, after any post-renderer; lab's ownership contract needs
// managed-by=lab, or destroy, reset and drift would not see the objects as
// lab's. helm itself does not look at the label again except to adopt an
// object it did not create, which lab never asks it to.
func (w *worker) relabel(rel *release.Release) error {
	if len(w.req.Labels) == 0 {
		return nil
	}
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"labels": w.req.Labels}})
	if err != nil {
		return err
	}
	infos, err := w.cfg.KubeClient.Build(bytes.NewBufferString(rel.Manifest), false)
	if err != nil {
		return fmt.Errorf("read the objects of helm release %q in namespace %q: %w", rel.Name, rel.Namespace, err)
	}
	for _, info := range infos {
		h := cliresource.NewHelper(info.Client, info.Mapping).WithFieldManager("lab")
		if _, err := h.Patch(info.Namespace, info.Name, types.MergePatchType, patch, nil); err != nil {
			d := wire.ObjectDrift{Kind: info.Mapping.GroupVersionKind.Kind, Namespace: info.Namespace, Name: info.Name}
			return fmt.Errorf("label %s of helm release %q as lab's: %w (apply again to retry)", d.ID(), rel.Name, err)
		}
	}
	return nil
}
