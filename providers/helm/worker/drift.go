package worker

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strconv"

	"helm.sh/helm/v3/pkg/release"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	cliresource "k8s.io/cli-runtime/pkg/resource"

	"labs.dev/lab/providers/helm/wire"
)

// liveDrift compares every object of the release's manifest with the live
// cluster. helm's own record says only what helm last did; a learner's
// `kubectl delete` or `kubectl scale` shows up only here.
func (w *worker) liveDrift(ctx context.Context, rel *release.Release) ([]wire.ObjectDrift, error) {
	infos, err := w.cfg.KubeClient.Build(bytes.NewBufferString(rel.Manifest), false)
	if err != nil {
		return nil, fmt.Errorf("read the objects of helm release %q in namespace %q: %w", rel.Name, rel.Namespace, err)
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
		live, err := cliresource.NewHelper(info.Client, info.Mapping).Get(info.Namespace, info.Name)
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

// objectDiff lists the fields of the rendered object that the live object
// does not match. The rendered object is a subset of the live one: fields
// the server defaulted or added are not drift.
func objectDiff(want, live map[string]any) []wire.Field {
	var out []wire.Field
	for _, k := range sortedKeys(want) {
		switch k {
		case "apiVersion", "kind", "status":
			continue
		case "metadata":
			wm, _ := want[k].(map[string]any)
			lm, _ := live[k].(map[string]any)
			for _, mk := range []string{"labels", "annotations"} {
				if wm[mk] != nil {
					out = append(out, subsetDiff("metadata."+mk, wm[mk], lm[mk])...)
				}
			}
			continue
		}
		out = append(out, subsetDiff(k, want[k], live[k])...)
	}
	return out
}

func subsetDiff(path string, want, live any) []wire.Field {
	switch w := want.(type) {
	case map[string]any:
		l, ok := live.(map[string]any)
		if !ok {
			if live == nil && isEmpty(w) {
				return nil
			}
			return []wire.Field{{Path: path, Live: render(live), Want: render(want)}}
		}
		var out []wire.Field
		for _, k := range sortedKeys(w) {
			out = append(out, subsetDiff(joinKey(path, k), w[k], l[k])...)
		}
		return out
	case []any:
		l, ok := live.([]any)
		if !ok || len(l) != len(w) {
			if live == nil && len(w) == 0 {
				return nil
			}
			return []wire.Field{{Path: path, Live: render(live), Want: render(want)}}
		}
		var out []wire.Field
		for i := range w {
			out = append(out, subsetDiff(path+"["+strconv.Itoa(i)+"]", w[i], l[i])...)
		}
		return out
	case nil:
		return nil
	}
	if scalarEqual(want, live) {
		return nil
	}
	return []wire.Field{{Path: path, Live: render(live), Want: render(want)}}
}

// scalarEqual compares the way the API server normalises: 2 and 2.0 are
// one number, "0.5" and "500m" one quantity.
func scalarEqual(want, live any) bool {
	if want == live {
		return true
	}
	if a, ok := number(want); ok {
		b, ok := number(live)
		return ok && a == b
	}
	ws, ok1 := want.(string)
	ls, ok2 := live.(string)
	if ok1 && ok2 {
		wq, err1 := resource.ParseQuantity(ws)
		lq, err2 := resource.ParseQuantity(ls)
		return err1 == nil && err2 == nil && wq.Cmp(lq) == 0
	}
	return false
}

func number(v any) (float64, bool) {
	switch n := v.(type) {
	case int64:
		return float64(n), true
	case int:
		return float64(n), true
	case int32:
		return float64(n), true
	case float64:
		return n, true
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	}
	return 0, false
}

func isEmpty(m map[string]any) bool { return len(m) == 0 }

var plainKey = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]*$`)

// joinKey writes map keys like kubectl's JSONPath would need them:
// metadata.labels["app.kubernetes.io/name"].
func joinKey(path, k string) string {
	if plainKey.MatchString(k) {
		return path + "." + k
	}
	return path + "[" + strconv.Quote(k) + "]"
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

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
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
