package worker

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// AnnotationResource mirrors resource.AnnotationResource (the wire side
// does not import lab's engine packages).
const annotationResource = "lab.dev/resource"

// namespaceExists tells apply whether create_namespace will create the
// namespace, so that only a namespace this release made is marked as its.
func (w *worker) namespaceExists(ctx context.Context) (bool, error) {
	cs, err := w.cfg.KubernetesClientSet()
	if err != nil {
		return false, err
	}
	_, err = cs.CoreV1().Namespaces().Get(ctx, w.req.Namespace, metav1.GetOptions{})
	switch {
	case err == nil:
		return true, nil
	case apierrors.IsNotFound(err):
		return false, nil
	}
	return false, fmt.Errorf("read namespace %s on %s: %w", w.req.Namespace, w.target(), err)
}

// claimNamespace labels the namespace helm created for the release as
// lab's and this resource's, so delete can remove it: lab down leaves
// nothing behind.
func (w *worker) claimNamespace(ctx context.Context) error {
	if len(w.req.Labels) == 0 {
		return nil
	}
	cs, err := w.cfg.KubernetesClientSet()
	if err != nil {
		return err
	}
	patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{"labels": w.req.Labels, "annotations": w.req.Annotations}})
	if _, err := cs.CoreV1().Namespaces().Patch(ctx, w.req.Namespace, types.MergePatchType, patch, metav1.PatchOptions{FieldManager: "lab"}); err != nil {
		return fmt.Errorf("label namespace %s, created for helm release %q, as lab's: %w", w.req.Namespace, w.req.Name, err)
	}
	return nil
}

// dropNamespace deletes the release's namespace if this resource created
// it (create_namespace) and waits until it is gone.
func (w *worker) dropNamespace(ctx context.Context) error {
	cs, err := w.cfg.KubernetesClientSet()
	if err != nil {
		return err
	}
	ns, err := cs.CoreV1().Namespaces().Get(ctx, w.req.Namespace, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read namespace %s: %w", w.req.Namespace, err)
	}
	if !w.ours(ns.Labels, ns.Annotations) {
		return nil
	}
	w.progress("deleting namespace %s, created for release %s", w.req.Namespace, w.req.Name)
	if err := cs.CoreV1().Namespaces().Delete(ctx, w.req.Namespace, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete namespace %s: %w", w.req.Namespace, err)
	}
	ctx, cancel := context.WithTimeout(ctx, w.timeout)
	defer cancel()
	for {
		_, err := cs.CoreV1().Namespaces().Get(ctx, w.req.Namespace, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("namespace %s not deleted within %s: `kubectl get ns %s -o yaml` shows what holds it", w.req.Namespace, w.timeout, w.req.Namespace)
		case <-time.After(waitInterval):
		}
	}
}
