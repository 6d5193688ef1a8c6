package worker

import (
	"bytes"
	"context"
	"fmt"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/release"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	cliresource "k8s.io/cli-runtime/pkg/resource"
)

// adopt retries an install that helm refused because the release's objects
// already exist, when every one of them is this resource's (lab's labels
// and this resource's annotation): the helm record was lost (its secrets
// deleted by hand) but the objects are lab's, so taking them over is what
// converging means. Anything else keeps helm's refusal.
func (w *worker) adopt(ctx context.Context, newInstall func() *action.Install, ch *chart.Chart, vals map[string]any, conflict error) (*release.Release, error) {
	dry := newInstall()
	dry.DryRun = true
	dry.TakeOwnership = true
	rendered, err := dry.RunWithContext(ctx, ch, vals)
	if err != nil {
		return nil, conflict
	}
	infos, err := w.cfg.KubeClient.Build(bytes.NewBufferString(rendered.Manifest), false)
	if err != nil {
		return nil, conflict
	}
	for _, info := range infos {
		live, err := cliresource.NewHelper(info.Client, info.Mapping).Get(info.Namespace, info.Name)
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return nil, conflict
		}
		m, err := meta.Accessor(live)
		if err != nil || !w.ours(m.GetLabels(), m.GetAnnotations()) {
			return nil, fmt.Errorf("%w (lab installs only over objects it made for this resource; delete %s %s/%s or rename the release)", conflict, info.Mapping.GroupVersionKind.Kind, info.Namespace, info.Name)
		}
	}
	w.progress("release %s has no helm record but its objects are lab's; taking them over", w.req.Name)
	inst := newInstall()
	inst.TakeOwnership = true
	return inst.RunWithContext(ctx, ch, vals)
}

// ours reports whether an object carries this resource's ownership marks.
func (w *worker) ours(labels, annotations map[string]string) bool {
	if len(w.req.Labels) == 0 || w.req.Annotations[annotationResource] == "" {
		return false
	}
	for k, v := range w.req.Labels {
		if labels[k] != v {
			return false
		}
	}
	return annotations[annotationResource] == w.req.Annotations[annotationResource]
}
