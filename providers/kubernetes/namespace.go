package kubernetes

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/zclconf/go-cty/cty"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/dynamic"

	"labs.dev/lab/lab/resource"
	"labs.dev/lab/providers/kube"
	"labs.dev/lab/providers/kube/blocker"
)

var namespaces = schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}

type namespace struct{ inCluster }

// Namespace is the `namespace` kind: a namespace with labels and
// annotations. It adopts a namespace that exists already, and deletes
// only one this lab created. It connects through k.
func Namespace(k *kube.Connections) resource.Kind { return namespace{inCluster{k}} }

func (namespace) Type() string { return "namespace" }

func (namespace) Schema() hcldec.Spec {
	spec := hcldec.ObjectSpec{
		"name":        &hcldec.AttrSpec{Name: "name", Type: cty.String, Required: true},
		"labels":      &hcldec.AttrSpec{Name: "labels", Type: cty.Map(cty.String)},
		"annotations": &hcldec.AttrSpec{Name: "annotations", Type: cty.Map(cty.String)},
	}
	for k, v := range kube.ConnectionSpec() {
		spec[k] = v
	}
	return &spec
}

func (namespace) Computed() map[string]cty.Type {
	return map[string]cty.Type{"uid": cty.String}
}

type nsConfig struct {
	name        string
	labels      map[string]string
	annotations map[string]string
}

// readNS checks a namespace block's arguments and reports every problem
// (errors.Join). An argument, label or annotation not known yet is
// skipped: Validate sees those, Plan and Apply never do.
func readNS(v cty.Value) (nsConfig, error) {
	c := nsConfig{name: resource.StringAttr(v, "name"), labels: resource.StringMapAttr(v, "labels"), annotations: resource.StringMapAttr(v, "annotations")}
	var errs []error
	if !resource.Unknown(v, "name") {
		if msgs := validation.IsDNS1123Label(c.name); len(msgs) > 0 {
			errs = append(errs, resource.ArgErrorf("name", "name %q is not a valid namespace name: %s", c.name, msgs[0]))
		}
	}
	// A key is known even where its value is not.
	for _, k := range mapKeys(v, "labels") {
		if msgs := validation.IsQualifiedName(k); len(msgs) > 0 {
			errs = append(errs, resource.ArgErrorf("labels", "label key %q: %s", k, msgs[0]))
		}
		if val, ok := c.labels[k]; ok {
			if msgs := validation.IsValidLabelValue(val); len(msgs) > 0 {
				errs = append(errs, resource.ArgErrorf("labels", "label %s=%q: %s", k, val, msgs[0]))
			}
		}
	}
	for _, k := range mapKeys(v, "annotations") {
		if msgs := validation.IsQualifiedName(k); len(msgs) > 0 {
			errs = append(errs, resource.ArgErrorf("annotations", "annotation key %q: %s", k, msgs[0]))
		}
	}
	return c, errors.Join(errs...)
}

// mapKeys lists the keys of a map argument, sorted; none while the map
// itself is not known.
func mapKeys(v cty.Value, name string) []string {
	m, ok := resource.Attr(v, name)
	if !ok || !m.CanIterateElements() {
		return nil
	}
	var keys []string
	for it := m.ElementIterator(); it.Next(); {
		k, _ := it.Element()
		keys = append(keys, k.AsString())
	}
	sort.Strings(keys)
	return keys
}

// desired is what lab applies to the namespace.
func (c nsConfig) desired(owner resource.Owner, addr resource.Addr, ownLabels bool) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetAPIVersion("v1")
	u.SetKind("Namespace")
	u.SetName(c.name)
	if len(c.labels) > 0 {
		u.SetLabels(c.labels)
	}
	if len(c.annotations) > 0 {
		u.SetAnnotations(c.annotations)
	}
	return withOwner(u, owner, addr, ownLabels)
}

// Identity is the namespace's cluster, as its block states it, and name;
// the engine tells apart the clusters it connects blocks to.
func (namespace) Identity(v cty.Value) string {
	if !resource.Known(v, "kubeconfig", "context", "name") {
		return "" // a cluster made in this run: no prior can be in it
	}
	own, _ := kube.OwnConnection(resource.Env{}, v)
	return own.Kubeconfig + "\x00" + own.Context + "\x00" + resource.StringAttr(v, "name")
}

// Validate checks the known name, labels and annotations as Plan does.
func (namespace) Validate(_ resource.Env, _ resource.Addr, v cty.Value) error {
	_, err := readNS(v)
	return err
}

func (n namespace) Plan(ctx context.Context, req resource.PlanRequest) (*resource.Change, error) {
	cfg, err := readNS(req.Config)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", req.Addr, err)
	}
	inState := req.Prior != cty.NilVal && !req.Prior.IsNull()
	if old := resource.StringAttr(req.Prior, "name"); inState && old != "" && old != cfg.name {
		return &resource.Change{
			Action: resource.Replace,
			Reason: fmt.Sprintf("name changed from %q to %q; a namespace cannot be renamed", old, cfg.name),
			Fields: []resource.FieldDiff{{Path: "name", Old: old, New: cfg.name}},
		}, nil
	}
	c, err := n.connect(req.Env, req.Cluster, req.Config)
	if err != nil {
		return nil, err
	}
	live, listed := c.Listed(ctx, namespaces, "", cfg.name, req.Owner.Selector())
	if !listed {
		live, err = c.Dynamic.Resource(namespaces).Get(ctx, cfg.name, metav1.GetOptions{})
	}
	if apierrors.IsNotFound(err) {
		if err := c.Require(ctx, kube.Access{Verb: "create", Resource: namespaces}); err != nil {
			return nil, fmt.Errorf("%s: %w", req.Addr, err)
		}
		ch := &resource.Change{Action: resource.Create}
		if inState {
			ch.Drift, ch.Reason = true, "deleted outside lab"
		}
		return ch, nil
	}
	if apierrors.IsForbidden(err) {
		// Say every permission the plan needs, not just the first.
		if derr := c.RequireAll(ctx, []kube.Access{{Verb: "get", Resource: namespaces}, {Verb: "create", Resource: namespaces}, {Verb: "patch", Resource: namespaces}}); derr != nil {
			return nil, fmt.Errorf("%s: %w", req.Addr, derr)
		}
	}
	if err != nil {
		return nil, reach(c, fmt.Sprintf("%s: read namespace %s", req.Addr, cfg.name), err)
	}
	if live.GetDeletionTimestamp() != nil {
		return &resource.Change{Action: resource.Create, Drift: inState,
			Reason: "namespace is being deleted; apply waits until it is gone, then creates it"}, nil
	}

	owned := req.Owner.Owns(live.GetLabels())
	want := cfg.desired(req.Owner, req.Addr, owned)
	var fields []resource.FieldDiff
	drift := false
	check := func(what string, want, live, config, prior map[string]string) {
		for _, k := range sortedKeys(want) {
			if lv, ok := live[k]; !ok || lv != want[k] {
				fields = append(fields, resource.FieldDiff{Path: resource.Path{}.Attr(what).Key(k).String(), Old: lv, New: want[k]})
				if pv, ok := prior[k]; ok && pv == config[k] {
					drift = true
				}
			}
		}
		// keys lab set before and the config no longer has: apply drops them
		for _, k := range sortedKeys(prior) {
			if _, still := want[k]; still {
				continue
			}
			if lv, ok := live[k]; ok {
				fields = append(fields, resource.FieldDiff{Path: resource.Path{}.Attr(what).Key(k).String(), Old: lv})
			}
		}
	}
	check("labels", want.GetLabels(), live.GetLabels(), cfg.labels, resource.StringMapAttr(req.Prior, "labels"))
	check("annotations", want.GetAnnotations(), live.GetAnnotations(), cfg.annotations, resource.StringMapAttr(req.Prior, "annotations"))

	if !inState || len(fields) > 0 {
		if err := c.Require(ctx, kube.Access{Verb: "patch", Resource: namespaces}); err != nil {
			return nil, fmt.Errorf("%s: %w", req.Addr, err)
		}
	}
	switch {
	case !inState && owned:
		return &resource.Change{Action: resource.Create, Fields: fields,
			Reason: "namespace exists, made by this lab file; lab records it again"}, nil
	case !inState:
		return &resource.Change{Action: resource.Create, Fields: fields,
			Reason: "namespace exists already; lab adopts it and will not delete it on destroy"}, nil
	case len(fields) == 0:
		return &resource.Change{Action: resource.NoOp}, nil
	}
	ch := &resource.Change{Action: resource.Update, Fields: fields, Drift: drift}
	if drift {
		ch.Reason = "changed outside lab"
	}
	return ch, nil
}

func (n namespace) Apply(ctx context.Context, req resource.ApplyRequest) (cty.Value, error) {
	cfg, err := readNS(req.Config)
	if err != nil {
		return cty.NilVal, fmt.Errorf("%s: %w", req.Addr, err)
	}
	c, err := n.connect(req.Env, req.Cluster, req.Config)
	if err != nil {
		return cty.NilVal, err
	}
	ri := c.Dynamic.Resource(namespaces)
	owned := true
	live, err := ri.Get(ctx, cfg.name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
	case err != nil:
		return cty.NilVal, reach(c, fmt.Sprintf("%s: read namespace %s", req.Addr, cfg.name), err)
	case live.GetDeletionTimestamp() != nil:
		if err := waitGone(ctx, req.Env, req.Addr, ri, cfg.name, "namespace "+cfg.name, live.GetUID()); err != nil {
			return cty.NilVal, fmt.Errorf("%s: namespace %s is being deleted and %w", req.Addr, cfg.name, err)
		}
	default:
		owned = req.Owner.Owns(live.GetLabels())
	}
	// The plan names labels and annotations in its own form, so any of
	// them shown counts as planned.
	out, err := apply(ctx, ri, cfg.desired(req.Owner, req.Addr, owned), "Namespace "+cfg.name, func([]fieldConflict) bool {
		return req.Change != nil && len(req.Change.Fields) > 0
	})
	var ce *ConflictError
	if errors.As(err, &ce) {
		return cty.NilVal, fmt.Errorf("%s: %w", req.Addr, err)
	}
	if err != nil {
		return cty.NilVal, reach(c, fmt.Sprintf("%s: apply namespace %s", req.Addr, cfg.name), err)
	}
	return resource.WithAttrs(req.Config, map[string]cty.Value{"uid": cty.StringVal(string(out.GetUID()))}), nil
}

func (n namespace) Delete(ctx context.Context, req resource.DeleteRequest) error {
	name := resource.StringAttr(req.Prior, "name")
	if name == "" {
		return nil
	}
	c, err := n.connect(req.Env, req.Cluster, req.Prior)
	if err != nil {
		return err
	}
	ri := c.Dynamic.Resource(namespaces)
	live, err := ri.Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return reach(c, fmt.Sprintf("%s: read namespace %s", req.Addr, name), err)
	}
	if !req.Owner.Owns(live.GetLabels()) {
		// Adopted: give back the namespace without what lab put on it. An
		// apply that sets nothing drops every field lab alone managed.
		bare := &unstructured.Unstructured{}
		bare.SetAPIVersion("v1")
		bare.SetKind("Namespace")
		bare.SetName(name)
		if _, err := apply(ctx, ri, bare, "Namespace "+name, always); err != nil && !apierrors.IsNotFound(err) {
			return reach(c, fmt.Sprintf("%s: remove lab's labels from namespace %s", req.Addr, name), err)
		}
		req.Log.Info("namespace not created by this lab: kept, lab's labels and annotations removed", "addr", req.Addr.String(), "namespace", name)
		return nil
	}
	return deleteAndWait(ctx, req.Env, req.Addr, ri, "namespace "+name, live)
}

// deleteAndWait deletes live (only that incarnation of it) and waits
// until it is gone.
func deleteAndWait(ctx context.Context, env resource.Env, addr resource.Addr, ri dynamic.ResourceInterface, what string, live *unstructured.Unstructured) error {
	err := ri.Delete(ctx, live.GetName(), deleteOptions(live))
	switch {
	case apierrors.IsNotFound(err):
		return nil
	case apierrors.IsConflict(err):
		return nil // replaced meanwhile by another object of that name: not ours to delete
	case err != nil:
		return fmt.Errorf("%s: delete %s: %w", addr, what, err)
	}
	if err := waitGone(ctx, env, addr, ri, live.GetName(), what, live.GetUID()); err != nil {
		return fmt.Errorf("%s: %s was deleted but %w", addr, what, err)
	}
	return nil
}

// deleteOptions deletes only this incarnation of live. Built-in kinds go
// in the foreground, so "gone" includes their dependents (a Deployment's
// pods); other groups in the background, because the garbage
// collector may not watch a new CRD's kind yet and would hold a
// foreground deletion until it does (30 s and more).
func deleteOptions(live *unstructured.Unstructured) metav1.DeleteOptions {
	uid := live.GetUID()
	policy := metav1.DeletePropagationForeground
	if gv, err := schema.ParseGroupVersion(live.GetAPIVersion()); err != nil || !builtin(gv.Group) {
		policy = metav1.DeletePropagationBackground
	}
	return metav1.DeleteOptions{PropagationPolicy: &policy, Preconditions: &metav1.Preconditions{UID: &uid}}
}

// waitGone polls until the object name with this uid no longer exists.
// For a namespace it says what holds it (its conditions name the
// finalizers and content that remain), and once, prominently, when that
// has held for blocker.StallAfter.
func waitGone(ctx context.Context, env resource.Env, addr resource.Addr, ri dynamic.ResourceInterface, name, what string, uid types.UID) error {
	var b backoff
	var stall blocker.Stall
	var why *blocker.Reason
	said := ""
	for i := 0; ; i++ {
		live, err := ri.Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) || (err == nil && live.GetUID() != uid) {
			return nil
		}
		if err != nil && ctx.Err() == nil {
			return fmt.Errorf("waiting for it to go failed: %w", err)
		}
		if err == nil && live.GetKind() == "Namespace" {
			if rs := blocker.Explain(live, blocker.Facts{}, blocker.Options{}); len(rs) > 0 {
				why = &rs[0]
			}
		}
		if i >= 3 {
			p := resource.Progress{Addr: addr, Msg: "waiting for " + what + " to be deleted"}
			key := ""
			if why != nil {
				bl := why.Blocked()
				p.Blocked, p.Msg, key = &bl, p.Msg+": "+why.String(), why.Key()
			}
			if p.Msg != said {
				env.Progress(p)
				said = p.Msg
			}
			if stall.Observe(time.Now(), key, 0) {
				p.Stalled = true
				p.Msg = fmt.Sprintf("no progress for %s: %s (lab keeps waiting; Ctrl-C stops it)", blocker.StallAfter, why)
				env.Progress(p)
			}
		}
		if err := b.wait(ctx); err != nil {
			if why != nil {
				return &resource.BlockedError{Blocked: why.Blocked(), Err: fmt.Errorf("it is still there (%w): %s", err, why)}
			}
			return fmt.Errorf("it is still there (%w); a finalizer in its metadata.finalizers may be waiting on a controller", err)
		}
	}
}
