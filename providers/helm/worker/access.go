package worker

import (
	"context"
	"sort"

	"helm.sh/helm/v3/pkg/release"
	"helm.sh/helm/v3/pkg/releaseutil"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"

	labkube "labs.dev/lab/providers/kube"
)

// maxHistory is how many revisions an upgrade keeps (helm prunes older
// release records as it writes a new one).
const maxHistory = 10

var (
	secrets    = schema.GroupVersionResource{Version: "v1", Resource: "secrets"}
	namespaces = schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}
)

// denied asks the cluster whether the request's credentials may do what
// apply will do to install (last nil) or upgrade the release rendered as
// rendered, and returns every permission they lack (nil when none, or
// when the cluster cannot say). Each question goes to the cluster once
// per process and cluster, however many releases ask it.
func (w *worker) denied(ctx context.Context, rendered, last *release.Release) error {
	c, err := w.conns.Connect(labkube.Target{Kubeconfig: w.req.Kubeconfig, Context: w.req.Context})
	if err != nil {
		return err
	}
	mapper, err := w.cfg.RESTClientGetter.ToRESTMapper()
	if err != nil {
		return nil
	}
	return c.RequireAll(ctx, w.needs(rendered, last, mapper))
}

// needs are the questions for denied. What helm calls, in helm v3.22:
//   - its release records, Secrets in the release's namespace: list
//     (history), create (the new revision), update (its status, and the
//     previous revision's); an upgrade past maxHistory revisions also
//     gets and deletes the oldest.
//   - each rendered object: get (helm looks for an object in the way of
//     an install, and for the live object of an upgrade), create, and
//     patch (helm's 3-way merge on upgrade; relabel after either).
//   - each hook: create.
//   - create_namespace on install: create namespaces, which helm calls
//     even when the namespace exists.
func (w *worker) needs(rendered, last *release.Release, mapper meta.RESTMapper) []labkube.Access {
	ns := w.req.Namespace
	install := last == nil || last.Info.Status == release.StatusUninstalled || last.Info.Status == release.StatusUninstalling
	var as []labkube.Access
	for _, verb := range []string{"list", "create", "update"} {
		as = append(as, labkube.Access{Verb: verb, Resource: secrets, Namespace: ns})
	}
	if !install && last.Version >= maxHistory {
		as = append(as, labkube.Access{Verb: "get", Resource: secrets, Namespace: ns}, labkube.Access{Verb: "delete", Resource: secrets, Namespace: ns})
	}
	if install && w.req.CreateNamespace {
		as = append(as, labkube.Access{Verb: "create", Resource: namespaces})
	}
	verbs := []string{"get", "create"}
	if !install || len(w.req.Labels) > 0 {
		verbs = append(verbs, "patch")
	}
	for _, o := range objects(rendered.Manifest, ns, mapper) {
		for _, verb := range verbs {
			as = append(as, labkube.Access{Verb: verb, Resource: o.Resource, Namespace: o.Namespace})
		}
	}
	for _, h := range rendered.Hooks {
		for _, o := range objects(h.Manifest, ns, mapper) {
			as = append(as, labkube.Access{Verb: "create", Resource: o.Resource, Namespace: o.Namespace})
		}
	}
	return as
}

// objects are the resource and namespace of each object in manifest;
// a namespaced object without a namespace goes to ns. Kinds the server
// does not serve (yet: a chart's own CRDs) are left out: install fails on
// them with the server's words.
func objects(manifest, ns string, mapper meta.RESTMapper) []labkube.Access {
	var out []labkube.Access
	docs := releaseutil.SplitManifests(manifest)
	keys := make([]string, 0, len(docs))
	for k := range docs {
		keys = append(keys, k)
	}
	sort.Sort(releaseutil.BySplitManifestsOrder(keys))
	for _, k := range keys {
		doc := docs[k]
		var o struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
			Metadata   struct {
				Namespace string `json:"namespace"`
			} `json:"metadata"`
		}
		if err := yaml.Unmarshal([]byte(doc), &o); err != nil || o.Kind == "" {
			continue
		}
		gv, err := schema.ParseGroupVersion(o.APIVersion)
		if err != nil {
			continue
		}
		m, err := mapper.RESTMapping(gv.WithKind(o.Kind).GroupKind(), gv.Version)
		if err != nil {
			continue
		}
		a := labkube.Access{Resource: m.Resource}
		if m.Scope.Name() == meta.RESTScopeNameNamespace {
			a.Namespace = o.Metadata.Namespace
			if a.Namespace == "" {
				a.Namespace = ns
			}
		}
		out = append(out, a)
	}
	return out
}
