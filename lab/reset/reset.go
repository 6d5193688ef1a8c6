// Package reset removes a learner's work for a lab (`lab reset`): the
// objects in the lab's namespaces that the lab file did not create. It
// keeps what lab made (its ownership labels), what that owns, the lab
// file's helm releases and every namespace's defaults; objects owned by
// something else go with their owner.
package reset

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery"

	"labs.dev/lab/lab/resource"
	"labs.dev/lab/lab/verify"
	"labs.dev/lab/providers/kube"
)

// Options control Run.
type Options struct {
	// Owner identifies what the lab file created (resource.NewOwner).
	Owner resource.Owner
	// HelmReleases are the lab file's helm releases by name; the value is
	// the release namespace, or "" when not known before apply (then the
	// release is recognised in any of the lab's namespaces).
	HelmReleases map[string]string
	// DryRun lists what would be deleted without deleting it.
	DryRun bool
}

// Result lists what Run deleted (or would delete).
type Result struct {
	Lab        string             `json:"lab"`
	Namespaces []string           `json:"namespaces"`
	Deleted    []verify.ObjectRef `json:"deleted"`
	DryRun     bool               `json:"dry_run,omitempty"`
}

// skipResources are never the learner's: written by controllers, not
// people, and going away with what they describe.
var skipResources = map[string]bool{
	"events": true, "endpoints": true, "endpointslices": true, "leases": true,
	"pods/binding": true, "bindings": true, "localsubjectaccessreviews": true,
}

// Run deletes the objects in the lab's namespaces that the lab file
// did not create: not carrying its ownership labels, not owned through
// ownerReferences by something it created, not helm objects or release
// storage of its releases, and not the defaults every namespace gets.
// Objects owned by something else go with their owner (garbage
// collection), so only roots are deleted. Every kind the cluster serves
// in a namespace is looked at, as its discovery lists them.
func Run(ctx context.Context, l *verify.Lab, c *kube.Client, opts Options) (*Result, error) {
	if len(l.Namespaces) == 0 {
		return nil, fmt.Errorf("lab %s names no namespaces, so reset would not know what is the learner's; add namespaces = [\"...\"] to its lab block", l.Name)
	}
	res := &Result{Lab: l.Name, Namespaces: l.Namespaces, DryRun: opts.DryRun}
	lists, err := discovery.ServerPreferredNamespacedResources(c.Discovery)
	if err != nil && len(lists) == 0 {
		return nil, fmt.Errorf("list the cluster's resource types: %w", verify.Reach(c, err))
	}
	var gvrs []schema.GroupVersionResource
	for _, list := range lists {
		gv, err := schema.ParseGroupVersion(list.GroupVersion)
		if err != nil {
			continue
		}
		for _, r := range list.APIResources {
			if skipResources[r.Name] || strings.Contains(r.Name, "/") || !hasVerbs(r.Verbs, "list", "delete") {
				continue
			}
			gvrs = append(gvrs, gv.WithResource(r.Name))
		}
	}

	type item struct {
		gvr schema.GroupVersionResource
		obj unstructured.Unstructured
	}
	var all []item
	for _, ns := range l.Namespaces {
		for _, gvr := range gvrs {
			list, err := c.Dynamic.Resource(gvr).Namespace(ns).List(ctx, metav1.ListOptions{})
			if err != nil {
				if apierrors.IsNotFound(err) || apierrors.IsMethodNotSupported(err) {
					continue
				}
				return nil, fmt.Errorf("list %s in namespace %s: %w", gvr.Resource, ns, verify.Reach(c, err))
			}
			for _, o := range list.Items {
				all = append(all, item{gvr: gvr, obj: o})
			}
		}
	}

	// Keep what the lab made, then everything owned by kept objects.
	kept := map[types.UID]bool{}
	for _, it := range all {
		if labsOwn(&it.obj, opts) {
			kept[it.obj.GetUID()] = true
		}
	}
	for changed := true; changed; {
		changed = false
		for _, it := range all {
			if kept[it.obj.GetUID()] {
				continue
			}
			for _, ref := range it.obj.GetOwnerReferences() {
				if kept[ref.UID] {
					kept[it.obj.GetUID()] = true
					changed = true
					break
				}
			}
		}
	}
	var doomed []item
	for _, it := range all {
		if kept[it.obj.GetUID()] || len(it.obj.GetOwnerReferences()) > 0 || it.obj.GetDeletionTimestamp() != nil {
			continue
		}
		doomed = append(doomed, it)
	}
	sort.Slice(doomed, func(i, j int) bool {
		a, b := doomed[i].obj, doomed[j].obj
		if a.GetNamespace() != b.GetNamespace() {
			return a.GetNamespace() < b.GetNamespace()
		}
		if a.GetKind() != b.GetKind() {
			return a.GetKind() < b.GetKind()
		}
		return a.GetName() < b.GetName()
	})
	var errs []error
	policy := metav1.DeletePropagationBackground
	for _, it := range doomed {
		ref := verify.ObjectRef{APIVersion: it.obj.GetAPIVersion(), Kind: it.obj.GetKind(), Namespace: it.obj.GetNamespace(), Name: it.obj.GetName()}
		if !opts.DryRun {
			err := c.Dynamic.Resource(it.gvr).Namespace(it.obj.GetNamespace()).Delete(ctx, it.obj.GetName(),
				metav1.DeleteOptions{PropagationPolicy: &policy, Preconditions: &metav1.Preconditions{UID: ptr(it.obj.GetUID())}})
			if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
				errs = append(errs, fmt.Errorf("delete %s: %w", ref, verify.Reach(c, err)))
				continue
			}
		}
		res.Deleted = append(res.Deleted, ref)
	}
	if len(errs) > 0 {
		return res, errors.Join(errs...)
	}
	if !opts.DryRun {
		// Wait briefly so a verify right after sees the namespace clean.
		wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		for _, it := range doomed {
			for wctx.Err() == nil {
				_, err := c.Dynamic.Resource(it.gvr).Namespace(it.obj.GetNamespace()).Get(wctx, it.obj.GetName(), metav1.GetOptions{})
				if apierrors.IsNotFound(err) || err != nil {
					break
				}
				select {
				case <-wctx.Done():
				case <-time.After(200 * time.Millisecond):
				}
			}
		}
	}
	return res, nil
}

func ptr[T any](v T) *T { return &v }

func hasVerbs(have []string, want ...string) bool {
	for _, w := range want {
		found := false
		for _, h := range have {
			if h == w {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// writtenByHelm reports whether helm (lab's worker, lab-helm, or helm
// itself) wrote any of o's fields.
func writtenByHelm(o *unstructured.Unstructured) bool {
	for _, m := range o.GetManagedFields() {
		if m.Manager == "lab-helm" || m.Manager == "helm" {
			return true
		}
	}
	return false
}

// labsOwn reports whether the lab file made o (or o is a namespace
// default, which nobody should delete).
func labsOwn(o *unstructured.Unstructured, opts Options) bool {
	if opts.Owner.Owns(o.GetLabels()) {
		// A learner who copies a lab object (kubectl get -o yaml, edit,
		// apply in their namespace) copies its labels too; helm's
		// annotations still say where the original lives, and helm did
		// not write the copy. (A chart may put objects outside its
		// release namespace: those helm wrote.)
		if n := o.GetAnnotations()["meta.helm.sh/release-namespace"]; n != "" && n != o.GetNamespace() && !writtenByHelm(o) {
			return false
		}
		return true
	}
	switch {
	case o.GetKind() == "ServiceAccount" && o.GetName() == "default",
		o.GetKind() == "ConfigMap" && o.GetName() == "kube-root-ca.crt",
		o.GetKind() == "Service" && o.GetName() == "kubernetes" && o.GetNamespace() == "default":
		return true
	case o.GetKind() == "Secret":
		if t, _, _ := unstructured.NestedString(o.Object, "type"); t == "kubernetes.io/service-account-token" {
			return true // belongs to its ServiceAccount
		}
	}
	release, ns := "", o.GetNamespace()
	if l := o.GetLabels(); l["owner"] == "helm" && o.GetKind() == "Secret" {
		release = l["name"] // release storage: sh.helm.release.v1.<name>.v<n>
	}
	if a := o.GetAnnotations(); a["meta.helm.sh/release-name"] != "" {
		release = a["meta.helm.sh/release-name"]
		if n := a["meta.helm.sh/release-namespace"]; n != "" {
			ns = n
		}
	}
	if release != "" {
		if want, ok := opts.HelmReleases[release]; ok && (want == "" || want == ns) {
			return true
		}
	}
	return false
}
