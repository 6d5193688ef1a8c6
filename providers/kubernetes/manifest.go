package kubernetes

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/zclconf/go-cty/cty"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation"

	"labs.dev/lab/lab/resource"
	"labs.dev/lab/providers/kube"
	"labs.dev/lab/providers/kube/objdiff"
)

type manifest struct {
	inCluster
	yaml *decoded
}

// Manifest is the `manifest` kind: Kubernetes objects from YAML, inline
// or in a file, server-side applied and waited for until ready. Objects
// dropped from the YAML are pruned. It connects through k.
func Manifest(k *kube.Connections) resource.Kind {
	return manifest{inCluster{k}, &decoded{byText: map[string][]object{}, byFile: map[fileVersion][]object{}}}
}

func (manifest) Type() string { return "manifest" }

func (manifest) Schema() hcldec.Spec {
	spec := hcldec.ObjectSpec{
		"content":   &hcldec.AttrSpec{Name: "content", Type: cty.String},
		"file":      &hcldec.AttrSpec{Name: "file", Type: cty.String},
		"namespace": &hcldec.AttrSpec{Name: "namespace", Type: cty.String},
		"wait":      &hcldec.AttrSpec{Name: "wait", Type: cty.Bool},
		"timeout":   &hcldec.AttrSpec{Name: "timeout", Type: cty.String},
	}
	for k, v := range kube.ConnectionSpec() {
		spec[k] = v
	}
	return &spec
}

// objectRef is how state records each applied object: enough to find,
// prune and delete it, and to tell drift from a changed lab file.
var objectRef = cty.Object(map[string]cty.Type{
	"api_version": cty.String,
	"kind":        cty.String,
	"namespace":   cty.String,
	"name":        cty.String,
	"uid":         cty.String,
	// digest of the object as declared
	"digest": cty.String,
	// fields the server stored differently from how they were applied;
	// plans ignore them while the declaration is unchanged
	"normalized": cty.List(cty.String),
})

func (manifest) Computed() map[string]cty.Type {
	return map[string]cty.Type{"objects": cty.List(objectRef)}
}

const defaultTimeout = 5 * time.Minute

type manifestConfig struct {
	namespace string
	wait      bool
	timeout   time.Duration
}

// load reads a manifest block's arguments and decodes its YAML, and
// reports every problem (errors.Join). An argument not known yet is
// skipped: Validate sees those, Plan and Apply never do.
func (m manifest) load(env resource.Env, v cty.Value) (manifestConfig, []object, error) {
	cfg, err := readManifestArgs(v)
	objs, serr := m.objects(env, v)
	return cfg, objs, errors.Join(err, serr)
}

// readManifestArgs reads the arguments other than the YAML.
func readManifestArgs(v cty.Value) (manifestConfig, error) {
	cfg := manifestConfig{
		namespace: resource.StringAttr(v, "namespace"),
		wait:      resource.BoolAttr(v, "wait", true),
		timeout:   defaultTimeout,
	}
	var errs []error
	if t := resource.StringAttr(v, "timeout"); t != "" {
		d, err := time.ParseDuration(t)
		if err != nil || d <= 0 {
			errs = append(errs, resource.ArgErrorf("timeout", "timeout %q is not a positive duration; write it like \"90s\" or \"5m\"", t))
		} else {
			cfg.timeout = d
		}
	}
	if ns := cfg.namespace; ns != "" {
		if msgs := validation.IsDNS1123Label(ns); len(msgs) > 0 {
			errs = append(errs, resource.ArgErrorf("namespace", "namespace %q is not a valid namespace name: %s", ns, msgs[0]))
		}
	}
	return cfg, errors.Join(errs...)
}

// objects reads and decodes the YAML of content or file; none while the
// argument that holds it is not known yet.
func (m manifest) objects(env resource.Env, v cty.Value) ([]object, error) {
	_, hasContent := resource.Attr(v, "content")
	file := resource.StringAttr(v, "file")
	switch {
	case hasContent && file != "":
		return nil, resource.ArgErrorf("file", "set content or file, not both")
	case hasContent:
		content := resource.StringAttr(v, "content")
		objs, err := m.yaml.text(content)
		return objs, sourceError("content", "content", err)
	case file != "":
		objs, err := m.yaml.file(env.Dir, file)
		return objs, sourceError("file", "file "+file, err)
	case resource.Unknown(v, "content") || resource.Unknown(v, "file"):
		return nil, nil
	}
	return nil, fmt.Errorf("set content (e.g. content = yamlencode({...})) or file (a YAML file beside the lab file)")
}

// sourceError names where YAML that could not be used came from.
func sourceError(arg, from string, err error) error {
	var read *readError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &read):
		return &resource.ArgError{Arg: arg, Err: err}
	case errors.Is(err, errNoObjects):
		return resource.ArgErrorf(arg, "%s holds no Kubernetes objects", from)
	}
	return resource.ArgErrorf(arg, "%s: %w", from, err)
}

var errNoObjects = errors.New("no Kubernetes objects")

// readError is a manifest file that could not be read; its message names
// the file.
type readError struct{ err error }

func (e *readError) Error() string { return e.err.Error() }
func (e *readError) Unwrap() error { return e.err }

// decoded remembers the YAML one command decoded, so Validate, Plan and
// Apply of a manifest read its file and decode it once: by the text of
// content, and by path, size and modification time of a file. Objects
// are shared; whatever places them on a cluster copies them first.
type decoded struct {
	mu     sync.Mutex
	byText map[string][]object
	byFile map[fileVersion][]object
}

// fileVersion is one version of a file: another write changes it.
type fileVersion struct {
	path  string
	size  int64
	mtime int64
}

func (d *decoded) text(src string) ([]object, error) {
	d.mu.Lock()
	objs, ok := d.byText[src]
	d.mu.Unlock()
	if ok {
		return objs, nil
	}
	objs, err := decodeSome([]byte(src))
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	d.byText[src] = objs
	d.mu.Unlock()
	return objs, nil
}

func (d *decoded) file(dir, file string) ([]object, error) {
	real, info, err := inside(dir, file)
	if err != nil {
		return nil, &readError{err}
	}
	key := fileVersion{real, info.Size(), info.ModTime().UnixNano()}
	d.mu.Lock()
	objs, ok := d.byFile[key]
	d.mu.Unlock()
	if ok {
		return objs, nil
	}
	b, err := os.ReadFile(real)
	if err != nil {
		return nil, &readError{fmt.Errorf("file %q: %w", file, err)}
	}
	if objs, err = decodeSome(b); err != nil {
		return nil, err
	}
	d.mu.Lock()
	d.byFile[key] = objs
	d.mu.Unlock()
	return objs, nil
}

// decodeSome decodes src, which must hold at least one object.
func decodeSome(src []byte) ([]object, error) {
	objs, err := decode(src)
	if err == nil && len(objs) == 0 {
		err = errNoObjects
	}
	return objs, err
}

// maxManifestFile bounds what a manifest file may hold (ten objects of
// the API server's largest size and change), so a stray huge file fails
// at once.
const maxManifestFile = 32 << 20

// inside resolves file, relative to dir, to a regular file of at most
// maxManifestFile bytes, and refuses one that resolves, through symlinks
// too, outside dir: a lab must carry its manifests with it, and a lab
// file must not read arbitrary files off the machine.
func inside(dir, file string) (string, os.FileInfo, error) {
	p := file
	if !filepath.IsAbs(p) {
		p = filepath.Join(dir, p)
	}
	real, err := filepath.EvalSymlinks(p)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "", nil, fmt.Errorf("file %q not found (paths are relative to the lab file's directory %s)", file, dir)
		}
		return "", nil, fmt.Errorf("file %q: %w", file, err)
	}
	base, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return "", nil, fmt.Errorf("lab directory %s: %w", dir, err)
	}
	rel, err := filepath.Rel(base, real)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(rel) {
		return "", nil, fmt.Errorf("file %q resolves to %s, outside the lab directory %s; keep manifests beside the lab file (e.g. in manifests/) so the lab is self-contained", file, real, base)
	}
	info, err := os.Stat(real)
	if err != nil {
		return "", nil, fmt.Errorf("file %q: %w", file, err)
	}
	if info.IsDir() {
		return "", nil, fmt.Errorf("file %q is a directory; name a YAML file", file)
	}
	if info.Size() > maxManifestFile {
		return "", nil, fmt.Errorf("file %q is %d bytes, over the %d-byte limit for a manifest file; split it", file, info.Size(), maxManifestFile)
	}
	return real, info, nil
}

// priorObject is one object state says lab applied.
type priorObject struct {
	id         objID
	apiVersion string
	uid        string
	digest     string
	normalized []string
}

func (p priorObject) gvk() schema.GroupVersionKind {
	return schema.FromAPIVersionAndKind(p.apiVersion, p.id.Kind)
}

func priorObjects(prior cty.Value) []priorObject {
	var out []priorObject
	for _, o := range resource.ListAttr(prior, "objects") {
		av, kind, name := resource.StringAttr(o, "api_version"), resource.StringAttr(o, "kind"), resource.StringAttr(o, "name")
		if av == "" || kind == "" || name == "" {
			continue
		}
		gv, err := schema.ParseGroupVersion(av)
		if err != nil {
			continue
		}
		out = append(out, priorObject{
			id:         objID{Group: gv.Group, Kind: kind, Namespace: resource.StringAttr(o, "namespace"), Name: name},
			apiVersion: av,
			uid:        resource.StringAttr(o, "uid"),
			digest:     resource.StringAttr(o, "digest"),
			normalized: resource.StringListAttr(o, "normalized"),
		})
	}
	return out
}

func sensitive(id objID, path string) bool {
	return id.Group == "" && id.Kind == "Secret" && (strings.HasPrefix(path, "data") || strings.HasPrefix(path, "stringData"))
}

// Validate checks the known arguments and reads and decodes the YAML as
// Plan does, without a cluster; Plan then reuses what it decoded.
func (m manifest) Validate(env resource.Env, _ resource.Addr, v cty.Value) error {
	_, _, err := m.load(env, v)
	return err
}

func (m manifest) Plan(ctx context.Context, req resource.PlanRequest) (*resource.Change, error) {
	cfg, objs, err := m.load(req.Env, req.Config)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", req.Addr, err)
	}
	c, err := m.connect(req.Env, req.Cluster, req.Config)
	if err != nil {
		return nil, err
	}
	r := newResolver(c, objs)
	items, err := r.resolve(objs, cfg.namespace, true)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", req.Addr, err)
	}
	inState := req.Prior != cty.NilVal && !req.Prior.IsNull()
	prior := map[objID]priorObject{}
	for _, p := range priorObjects(req.Prior) {
		prior[p.id] = p
	}
	var refs []liveRef
	declared := map[objID]bool{}
	for _, it := range items {
		declared[it.id] = true
		if it.served {
			refs = append(refs, liveRef{it.id, it.gvr, it.namespaced})
		}
	}
	var stale []objID // in state, no longer declared
	for _, p := range priorObjects(req.Prior) {
		if declared[p.id] {
			continue
		}
		mp, err := r.mapping(p.gvk())
		if meta.IsNoMatchError(err) {
			continue // its kind is gone, so is it
		}
		if err != nil {
			return nil, reach(c, fmt.Sprintf("%s: look up kind %s", req.Addr, p.id.Kind), err)
		}
		refs = append(refs, liveRef{p.id, mp.Resource, mp.Scope.Name() == meta.RESTScopeNameNamespace})
		stale = append(stale, p.id)
	}
	live, err := fetch(ctx, c, refs, req.Owner.Selector())
	if apierrors.IsForbidden(err) {
		// Say every permission the plan needs, not just the first.
		var needs []kube.Access
		for _, ref := range refs {
			ns := ref.id.Namespace
			if !ref.namespaced {
				ns = ""
			}
			for _, verb := range []string{"get", "create", "patch"} {
				needs = append(needs, kube.Access{Verb: verb, Resource: ref.gvr, Namespace: ns})
			}
		}
		if derr := c.RequireAll(ctx, needs); derr != nil {
			return nil, fmt.Errorf("%s: %w", req.Addr, derr)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", req.Addr, err)
	}

	var fields []resource.FieldDiff
	var deleted, changed, absent int
	var needs []kube.Access // what apply will ask of the cluster
	need := func(verb string, gvr schema.GroupVersionResource, ns string, namespaced bool) {
		if !namespaced {
			ns = ""
		}
		needs = append(needs, kube.Access{Verb: verb, Resource: gvr, Namespace: ns})
	}
	for _, it := range items {
		p, was := prior[it.id]
		l := live[it.id]
		if l == nil {
			if it.served {
				need("create", it.gvr, it.id.Namespace, it.namespaced)
			}
			absent++
			fd := resource.FieldDiff{Path: it.id.String(), New: "(create)"}
			if was {
				deleted++
				fd.New = "(create; deleted outside lab)"
			}
			fields = append(fields, fd)
			continue
		}
		ann := l.GetAnnotations()
		if other := ann[resource.AnnotationResource]; other != "" && other != req.Addr.String() && ann[resource.AnnotationFile] == req.Owner.File {
			return nil, fmt.Errorf("%s: %s (%s) is also declared by %s in this lab file; declare each object in one resource only", req.Addr, it.id, it.doc(), other)
		}
		want := withOwner(it.Obj, req.Owner, req.Addr, req.Owner.Owns(l.GetLabels()))
		unchanged := was && p.digest == it.digest
		ignore := map[string]bool{}
		if unchanged {
			for _, path := range p.normalized {
				ignore[path] = true
			}
		}
		n := 0
		for _, d := range objdiff.Subset(objdiff.Comparable(want.Object), l.Object) {
			if ignore[d.Path] {
				continue
			}
			n++
			fd := resource.FieldDiff{Path: it.id.String() + ": " + d.Path, Old: objdiff.Render(d.Old, !d.Absent), New: objdiff.Render(d.New, true)}
			if sensitive(it.id, d.Path) {
				fd.Sensitive = true
				fd.Old, fd.New = hide(fd.Old), hide(fd.New)
			}
			fields = append(fields, fd)
		}
		if n > 0 && unchanged {
			changed++
		}
		if n > 0 || !inState {
			need("patch", it.gvr, it.id.Namespace, it.namespaced)
		}
	}
	pruned := 0
	for _, ref := range refs {
		if l := live[ref.id]; l != nil && !declared[ref.id] && req.Owner.Owns(l.GetLabels()) {
			need("delete", ref.gvr, ref.id.Namespace, ref.namespaced)
		}
	}
	if err := c.RequireAll(ctx, needs); err != nil {
		return nil, fmt.Errorf("%s: %w", req.Addr, err)
	}
	for _, id := range stale {
		if l := live[id]; l != nil && req.Owner.Owns(l.GetLabels()) {
			pruned++
			fields = append(fields, resource.FieldDiff{Path: id.String(), Old: "(exists; no longer declared)"})
		}
	}

	ch := &resource.Change{Fields: fields}
	var why []string
	for _, it := range items {
		if _, ours := r.crds[it.gvk().GroupKind()]; !it.served && !ours {
			why = append(why, fmt.Sprintf("kind %s (%s) is not served by the cluster yet; apply fails unless a resource this one depends on installs its CRD", it.id.Kind, it.Obj.GetAPIVersion()))
			break
		}
	}
	if deleted > 0 {
		why = append(why, count(deleted, "object")+" deleted outside lab")
	}
	if changed > 0 {
		why = append(why, count(changed, "object")+" changed outside lab")
	}
	ch.Drift = deleted > 0 || changed > 0
	ch.Reason = strings.Join(why, "; ")
	switch {
	case !inState:
		ch.Action = resource.Create
		if exist := len(items) - absent; exist > 0 {
			ch.Reason = strings.Join(append(why, fmt.Sprintf("%d of %d objects exist already; lab applies over them and deletes only those it created", exist, len(items))), "; ")
		}
	case len(fields) == 0:
		ch.Action = resource.NoOp
	case absent == len(items) && pruned == 0:
		ch.Action = resource.Create
		if deleted == len(items) {
			ch.Reason = "deleted outside lab"
		}
	default:
		ch.Action = resource.Update
	}
	return ch, nil
}

func hide(s string) string {
	if s == "" {
		return ""
	}
	return "(sensitive)"
}

func count(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// applied is one object after its apply.
type applied struct {
	item
	live       *unstructured.Unstructured
	normalized []string
}

func (m manifest) Apply(ctx context.Context, req resource.ApplyRequest) (cty.Value, error) {
	cfg, objs, err := m.load(req.Env, req.Config)
	if err != nil {
		return cty.NilVal, fmt.Errorf("%s: %w", req.Addr, err)
	}
	c, err := m.connect(req.Env, req.Cluster, req.Config)
	if err != nil {
		return cty.NilVal, err
	}
	r := newResolver(c, objs)
	items, err := r.resolve(objs, cfg.namespace, true)
	if err != nil {
		return cty.NilVal, fmt.Errorf("%s: %w", req.Addr, err)
	}
	var first, rest []int // indexes into items
	for i, it := range items {
		if it.first() && it.served {
			first = append(first, i)
		} else {
			rest = append(rest, i)
		}
	}
	done := make([]*applied, len(items))
	if err := applyAll(ctx, req, c, items, first, done); err != nil {
		return cty.NilVal, err
	}
	var crds []*applied
	for _, i := range first {
		if done[i].isCRD() {
			crds = append(crds, done[i])
		}
	}
	if len(crds) > 0 {
		if err := waitReady(ctx, req.Env, req.Addr, c, crds, cfg.timeout, "established"); err != nil {
			return cty.NilVal, err
		}
		r.refresh()
	}
	for _, i := range rest {
		if items[i].served {
			continue
		}
		re, err := r.resolveOne(items[i].object, orDefault(cfg.namespace, c.Namespace), false)
		if err != nil {
			return cty.NilVal, fmt.Errorf("%s: %w", req.Addr, err)
		}
		items[i] = re
	}
	if err := applyAll(ctx, req, c, items, rest, done); err != nil {
		return cty.NilVal, err
	}
	if err := prune(ctx, req.Env, req.Addr, c, r, items, priorObjects(req.Prior), cfg.wait); err != nil {
		return cty.NilVal, err
	}
	if cfg.wait {
		if err := waitReady(ctx, req.Env, req.Addr, c, done, cfg.timeout, "ready"); err != nil {
			return cty.NilVal, err
		}
	}

	refs := make([]cty.Value, len(done))
	for i, x := range done {
		norm := cty.ListValEmpty(cty.String)
		if len(x.normalized) > 0 {
			vs := make([]cty.Value, len(x.normalized))
			for i, p := range x.normalized {
				vs[i] = cty.StringVal(p)
			}
			norm = cty.ListVal(vs)
		}
		refs[i] = cty.ObjectVal(map[string]cty.Value{
			"api_version": cty.StringVal(x.Obj.GetAPIVersion()),
			"kind":        cty.StringVal(x.id.Kind),
			"namespace":   cty.StringVal(x.id.Namespace),
			"name":        cty.StringVal(x.id.Name),
			"uid":         cty.StringVal(string(x.live.GetUID())),
			"digest":      cty.StringVal(x.digest),
			"normalized":  norm,
		})
	}
	list := cty.ListValEmpty(objectRef)
	if len(refs) > 0 {
		list = cty.ListVal(refs)
	}
	return resource.WithAttrs(req.Config, map[string]cty.Value{"objects": list}), nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// applyAll server-side applies items[idx...] in parallel into done[idx].
// Owner labels go only on objects that are absent or already this lab's
// (see withOwner).
func applyAll(ctx context.Context, req resource.ApplyRequest, c *kube.Client, items []item, idx []int, done []*applied) error {
	if len(idx) == 0 {
		return nil
	}
	refs := make([]liveRef, len(idx))
	for k, i := range idx {
		refs[k] = liveRef{items[i].id, items[i].gvr, items[i].namespaced}
	}
	live, err := fetch(ctx, c, refs, "")
	if err != nil {
		return fmt.Errorf("%s: %w", req.Addr, err)
	}
	var n atomic.Int64
	return forEach(ctx, len(idx), func(ctx context.Context, k int) error {
		it := items[idx[k]]
		owned := live[it.id] == nil || req.Owner.Owns(live[it.id].GetLabels())
		want := withOwner(it.Obj, req.Owner, req.Addr, owned)
		got, err := apply(ctx, it.resourceIn(c), want, it.id.String(), func(cs []fieldConflict) bool {
			current := map[string]string{}
			if l := live[it.id]; l != nil {
				for _, d := range objdiff.Subset(objdiff.Comparable(want.Object), l.Object) {
					current[d.Path] = objdiff.Render(d.Old, !d.Absent)
				}
			}
			return planned(req.Change, it.id.String()+": ", cs, current)
		})
		var ce *ConflictError
		if errors.As(err, &ce) {
			return fmt.Errorf("%s: %w", req.Addr, err)
		}
		if err != nil {
			return reach(c, fmt.Sprintf("%s: apply %s (%s)", req.Addr, it.id, it.doc()), err)
		}
		var norm []string
		for _, d := range objdiff.Subset(objdiff.Comparable(want.Object), got.Object) {
			norm = append(norm, d.Path)
		}
		if len(norm) > 0 {
			req.Log.Warn("the server stored fields differently from how they were applied; plans ignore them until the declaration changes",
				"addr", req.Addr.String(), "object", it.id.String(), "fields", strings.Join(norm, ", "))
		}
		done[idx[k]] = &applied{item: it, live: got, normalized: norm}
		if d := n.Add(1); d%50 == 0 || int(d) == len(idx) {
			req.Progress(resource.Progress{Addr: req.Addr, Msg: "applied objects", Done: int(d), Total: len(idx)})
		}
		return nil
	})
}

// prune deletes objects state lists that the manifest no longer declares,
// when they are still this lab's.
func prune(ctx context.Context, env resource.Env, addr resource.Addr, c *kube.Client, r *resolver, items []item, prior []priorObject, wait bool) error {
	declared := map[objID]bool{}
	for _, it := range items {
		declared[it.id] = true
	}
	var stale []priorObject
	for _, p := range prior {
		if !declared[p.id] {
			stale = append(stale, p)
		}
	}
	return deleteObjects(ctx, env, addr, c, r, stale, wait)
}

// deleteObjects deletes the objects that still carry this lab's owner
// labels, all but namespaces and CRDs first, since deleting those takes
// everything in them along.
func deleteObjects(ctx context.Context, env resource.Env, addr resource.Addr, c *kube.Client, r *resolver, objs []priorObject, wait bool) error {
	var early, late []priorObject
	for _, p := range objs {
		if isFirst(p.id.Group, p.id.Kind) {
			late = append(late, p)
		} else {
			early = append(early, p)
		}
	}
	for _, batch := range [][]priorObject{early, late} {
		err := forEach(ctx, len(batch), func(ctx context.Context, i int) error {
			return deleteOwned(ctx, env, addr, c, r, batch[i], wait)
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func deleteOwned(ctx context.Context, env resource.Env, addr resource.Addr, c *kube.Client, r *resolver, p priorObject, wait bool) error {
	m, err := r.mapping(p.gvk())
	if meta.IsNoMatchError(err) {
		return nil // its kind is gone, so is it
	}
	if err != nil {
		return reach(c, fmt.Sprintf("%s: look up kind %s", addr, p.id.Kind), err)
	}
	ri := resourceFor(c, m.Resource, m.Scope.Name() == meta.RESTScopeNameNamespace, p.id.Namespace)
	live, err := ri.Get(ctx, p.id.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return reach(c, fmt.Sprintf("%s: read %s", addr, p.id), err)
	}
	if !env.Owner.Owns(live.GetLabels()) {
		env.Log.Info("left in place: not created by this lab", "addr", addr.String(), "object", p.id.String())
		return nil
	}
	if !wait {
		err := ri.Delete(ctx, p.id.Name, deleteOptions(live))
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			return fmt.Errorf("%s: delete %s: %w", addr, p.id, err)
		}
		return nil
	}
	return deleteAndWait(ctx, env, addr, ri, p.id.String(), live)
}

func (m manifest) Delete(ctx context.Context, req resource.DeleteRequest) error {
	objs := priorObjects(req.Prior)
	if len(objs) == 0 {
		return nil
	}
	c, err := m.connect(req.Env, req.Cluster, req.Prior)
	if err != nil {
		return err
	}
	return deleteObjects(ctx, req.Env, req.Addr, c, newResolver(c, nil), objs, true)
}
