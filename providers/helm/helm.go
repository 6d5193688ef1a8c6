// Package helm is the helm_release resource kind: a local chart installed,
// upgraded and uninstalled with helm. helm itself runs in the lab-helm
// worker process (cmd/lab-helm), one process per operation, so that lab's
// own start stays free of helm's package initialisers; this package only
// speaks the wire protocol to it.
package helm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"

	labconfig "labs.dev/lab/lab/config"
	"labs.dev/lab/lab/resource"
	"labs.dev/lab/providers/helm/wire"
	"labs.dev/lab/providers/kube"
)

// Release returns the helm_release kind.
// Every call of the kind it returns goes to one lab-helm process.
func Release() resource.Kind { return releaseKind{srv: &server{}} }

type releaseKind struct{ srv *server }

func (releaseKind) Type() string { return "helm_release" }

func (releaseKind) Schema() hcldec.Spec {
	spec := hcldec.ObjectSpec{
		"name":      &hcldec.AttrSpec{Name: "name", Type: cty.String, Required: true},
		"chart":     &hcldec.AttrSpec{Name: "chart", Type: cty.String, Required: true},
		"namespace": &hcldec.AttrSpec{Name: "namespace", Type: cty.String, Required: true},
		"create_namespace": &hcldec.DefaultSpec{
			Primary: &hcldec.AttrSpec{Name: "create_namespace", Type: cty.Bool},
			Default: &hcldec.LiteralSpec{Value: cty.False},
		},
		"values": &hcldec.AttrSpec{Name: "values", Type: cty.DynamicPseudoType},
		"wait": &hcldec.DefaultSpec{
			Primary: &hcldec.AttrSpec{Name: "wait", Type: cty.Bool},
			Default: &hcldec.LiteralSpec{Value: cty.True},
		},
		"timeout": &hcldec.DefaultSpec{
			Primary: &hcldec.AttrSpec{Name: "timeout", Type: cty.String},
			Default: &hcldec.LiteralSpec{Value: cty.StringVal("5m")},
		},
	}
	for k, v := range kube.ConnectionSpec() {
		spec[k] = v
	}
	return spec
}

func (releaseKind) Computed() map[string]cty.Type {
	return map[string]cty.Type{
		"revision":      cty.Number,
		"chart_version": cty.String,
		"status":        cty.String,
	}
}

// args are a helm_release block's arguments, checked.
type args struct {
	Name, Namespace string
	Chart           string // absolute
	CreateNamespace bool
	Values          map[string]any
	Wait            bool
	Timeout         string
	Target          kube.Target
}

var (
	// helm's own rule for release names (chartutil.ValidateReleaseName).
	releaseName   = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
	namespaceName = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
)

// parseArgs checks a helm_release block's arguments, every one of them,
// and reports each problem (errors.Join); cluster is the one the engine
// connected it to. An argument not known yet is skipped: Validate sees
// those, Plan and Apply never do.
func parseArgs(env resource.Env, cluster resource.Connection, v cty.Value) (args, error) {
	var a args
	if v.IsNull() || !v.Type().IsObjectType() {
		return a, fmt.Errorf("helm_release: no arguments")
	}
	a.CreateNamespace = resource.BoolAttr(v, "create_namespace", false)
	a.Wait = resource.BoolAttr(v, "wait", true)
	a.Target = kube.TargetFor(env, cluster, v)
	var errs [5]error
	a.Name, errs[0] = nameArg(v)
	a.Namespace, errs[1] = namespaceArg(v)
	a.Timeout, errs[2] = timeoutArg(v)
	a.Chart, errs[3] = chartArg(env.Dir, v)
	a.Values, errs[4] = valuesOf(v)
	return a, errors.Join(errs[:]...)
}

// nameArg reads the release name.
func nameArg(v cty.Value) (string, error) {
	name := resource.StringAttr(v, "name")
	switch {
	case resource.Unknown(v, "name"):
	case name == "":
		return "", resource.ArgErrorf("name", "name: a release name is required")
	case len(name) > 53 || !releaseName.MatchString(name):
		return name, resource.ArgErrorf("name", "name %q is not a valid helm release name: lower-case letters, digits, '-' and '.', starting and ending with a letter or digit, at most 53 characters", name)
	}
	return name, nil
}

// namespaceArg reads the release's namespace.
func namespaceArg(v cty.Value) (string, error) {
	ns := resource.StringAttr(v, "namespace")
	switch {
	case resource.Unknown(v, "namespace"):
	case ns == "":
		return "", resource.ArgErrorf("namespace", "namespace: the release's namespace is required")
	case len(ns) > 63 || !namespaceName.MatchString(ns):
		return ns, resource.ArgErrorf("namespace", "namespace %q is not a valid namespace name: lower-case letters, digits and '-', at most 63 characters", ns)
	}
	return ns, nil
}

// timeoutArg reads how long helm waits; 5m when not set.
func timeoutArg(v cty.Value) (string, error) {
	if resource.Unknown(v, "timeout") {
		return "", nil
	}
	t := resource.StringAttr(v, "timeout")
	if t == "" {
		return "5m", nil
	}
	if d, err := time.ParseDuration(t); err != nil || d <= 0 {
		return t, resource.ArgErrorf("timeout", "timeout %q is not a positive duration like \"5m\" or \"90s\"", t)
	}
	return t, nil
}

// chartArg reads the chart argument as a directory inside the lab
// directory dir.
func chartArg(dir string, v cty.Value) (string, error) {
	if resource.Unknown(v, "chart") {
		return "", nil
	}
	p, err := chartDir(dir, resource.StringAttr(v, "chart"))
	if err != nil {
		return "", &resource.ArgError{Arg: "chart", Err: err}
	}
	return p, nil
}

// chartDir resolves a chart directory relative to the lab directory and
// refuses one that leaves it: a lab file must not install whatever lies
// elsewhere on the learner's machine.
func chartDir(dir, chart string) (string, error) {
	if chart == "" {
		return "", fmt.Errorf("chart: a local chart directory is required, e.g. chart = \"charts/fleet\"")
	}
	p, err := labconfig.ResolvePath(dir, chart)
	if err != nil {
		return "", fmt.Errorf("chart %q: %w", chart, err)
	}
	if fi, err := os.Stat(p); err != nil || !fi.IsDir() {
		return "", fmt.Errorf("chart %q: no chart directory at %s", chart, p)
	}
	return p, nil
}

// valuesOf converts the values argument, any HCL object, to helm values.
// Values not all known yet are checked as far as they are: an object.
func valuesOf(v cty.Value) (map[string]any, error) {
	if !v.Type().HasAttribute("values") {
		return nil, nil
	}
	vals, _ := v.GetAttr("values").Unmark()
	if vals.IsNull() || !vals.IsKnown() {
		return nil, nil
	}
	ty := vals.Type()
	if !ty.IsObjectType() && !ty.IsMapType() {
		return nil, resource.ArgErrorf("values", "values must be an object like { replicas = 3 }, not a %s", ty.FriendlyName())
	}
	if !vals.IsWhollyKnown() {
		return nil, nil
	}
	b, err := ctyjson.Marshal(vals, ty)
	if err != nil {
		return nil, resource.ArgErrorf("values", "values: %w", err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, resource.ArgErrorf("values", "values: %w", err)
	}
	return m, nil
}

func (a args) request(env resource.Env, addr resource.Addr, op wire.Op) wire.Request {
	req := wire.Request{
		Version:         wire.Version,
		Op:              op,
		Kubeconfig:      a.Target.Kubeconfig,
		Context:         a.Target.Context,
		Name:            a.Name,
		Namespace:       a.Namespace,
		Chart:           a.Chart,
		Values:          a.Values,
		CreateNamespace: a.CreateNamespace,
		Wait:            a.Wait,
		Timeout:         a.Timeout,
		Labels:          env.Owner.Labels(),
		Annotations:     env.Owner.Annotations(addr),
	}
	if env.StateDir != "" {
		req.CacheDir = filepath.Join(env.StateDir, "cache", "kube")
	}
	// Before lab's first write (a plan, not a plan again during apply),
	// the releases' plans may share one LIST per kind.
	req.Listed = op == wire.OpPlan && !kube.Written()
	return req
}

// private is what Plan tells Apply.
type private struct {
	// StateOnly means only arguments that live in lab's state changed
	// (wait, timeout, create_namespace): Apply need not touch helm.
	StateOnly bool `json:"state_only,omitempty"`
}

// Identity is the release's cluster, as its block states it, namespace
// and name; the engine tells apart the clusters it connects blocks to.
func (releaseKind) Identity(v cty.Value) string {
	if !resource.Known(v, "kubeconfig", "context", "namespace", "name") {
		return ""
	}
	own, _ := kube.OwnConnection(resource.Env{}, v)
	return own.Kubeconfig + "\x00" + own.Context + "\x00" + resource.StringAttr(v, "namespace") + "/" + resource.StringAttr(v, "name")
}

// OwnConnection reads the kubeconfig and context arguments.
func (releaseKind) OwnConnection(env resource.Env, v cty.Value) (resource.Connection, bool) {
	return kube.OwnConnection(env, v)
}

// Release names the release; lab reset keeps its objects and records.
func (releaseKind) Release(v cty.Value) (name, namespace string) {
	return resource.StringAttr(v, "name"), resource.StringAttr(v, "namespace")
}

// Validate checks the known arguments and the chart path as Plan does;
// the chart's templates render only in the worker, at plan.
func (releaseKind) Validate(env resource.Env, _ resource.Addr, v cty.Value) error {
	_, err := parseArgs(env, resource.Connection{}, v)
	return err
}

func (k releaseKind) Plan(ctx context.Context, req resource.PlanRequest) (*resource.Change, error) {
	a, err := parseArgs(req.Env, req.Cluster, req.Config)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", req.Addr, err)
	}
	hasPrior := req.Prior != cty.NilVal && !req.Prior.IsNull()
	if hasPrior {
		pn, pns := resource.StringAttr(req.Prior, "name"), resource.StringAttr(req.Prior, "namespace")
		if (pn != "" && pn != a.Name) || (pns != "" && pns != a.Namespace) {
			return &resource.Change{
				Action: resource.Replace,
				Reason: fmt.Sprintf("helm cannot rename or move a release: %s/%s becomes %s/%s", pns, pn, a.Namespace, a.Name),
				Fields: replaceFields(pn, pns, a),
			}, nil
		}
	}
	resp, err := k.srv.call(ctx, req.Env, req.Addr, a.request(req.Env, req.Addr, wire.OpPlan))
	if err != nil {
		return nil, err
	}
	if rel := resp.Release; !hasPrior && rel != nil && rel.ChartDigest == "" && rel.Status == "deployed" {
		// Taking it over would make lab down uninstall what someone
		// else installed.
		return nil, fmt.Errorf("%s: helm release %s in namespace %s exists and was not installed by lab, so lab will not take it over (lab down would uninstall it). Uninstall it first (helm uninstall %s -n %s), or give this release another name",
			req.Addr, a.Name, a.Namespace, a.Name, a.Namespace)
	}
	c := decide(a, resp, req.Prior, hasPrior)
	if resp.Denied != "" && c.Action != resource.NoOp && len(c.Private) == 0 {
		// An install or upgrade would fail halfway on these; a plan that
		// leaves the release alone needs none of them.
		return nil, fmt.Errorf("%s: %s", req.Addr, resp.Denied)
	}
	return c, nil
}

func replaceFields(pn, pns string, a args) []resource.FieldDiff {
	var f []resource.FieldDiff
	if pn != a.Name {
		f = append(f, resource.FieldDiff{Path: "name", Old: pn, New: a.Name})
	}
	if pns != a.Namespace {
		f = append(f, resource.FieldDiff{Path: "namespace", Old: pns, New: a.Namespace})
	}
	return f
}

// decide turns what the worker saw into a Change. It is pure, for tests.
func decide(a args, resp *wire.Response, prior cty.Value, hasPrior bool) *resource.Change {
	rel := resp.Release
	if rel == nil {
		c := &resource.Change{Action: resource.Create}
		if hasPrior {
			c.Drift = true
			c.Reason = "deleted outside lab"
		}
		return c
	}
	c := &resource.Change{Action: resource.Update}
	switch rel.Status {
	case "deployed":
	case "failed":
		c.Reason = fmt.Sprintf("the last helm operation on the release failed (%s); apply retries it", strings.TrimSpace(rel.Description))
	default:
		c.Reason = fmt.Sprintf("the release is %s (an earlier apply was interrupted); apply finishes it", rel.Status)
	}
	if !hasPrior && c.Reason == "" {
		c.Reason = "release exists, installed by lab; lab records it again"
		if rel.ChartDigest == "" {
			c.Reason = "release exists, not installed by lab; lab takes it over (helm upgrade)"
		}
	}
	if local := resp.Chart; local != nil {
		switch {
		case local.Name != rel.ChartName:
			c.Fields = append(c.Fields, resource.FieldDiff{Path: "chart", Old: rel.ChartName + " " + rel.ChartVersion, New: local.Name + " " + local.Version})
		case local.Version != rel.ChartVersion:
			c.Fields = append(c.Fields, resource.FieldDiff{Path: "chart_version", Old: rel.ChartVersion, New: local.Version})
		case local.Digest != rel.ChartDigest:
			c.Fields = append(c.Fields, resource.FieldDiff{Path: "chart", Old: "files of " + rel.ChartVersion, New: "files changed, same version"})
		}
	}
	c.Fields = append(c.Fields, valuesDiff(resource.Path{}.Attr("values"), rel.Values, a.Values)...)
	if c.Reason != "" || len(c.Fields) > 0 {
		return c
	}
	if len(resp.Drift) > 0 {
		c.Drift = true
		c.Reason = "objects of the release were changed outside lab"
		for _, d := range resp.Drift {
			if d.Missing {
				c.Fields = append(c.Fields, resource.FieldDiff{Path: d.ID(), Old: "deleted outside lab", New: "recreated"})
				continue
			}
			for _, f := range d.Fields {
				c.Fields = append(c.Fields, resource.FieldDiff{Path: d.ID() + " " + f.Path, Old: f.Live, New: f.Want})
			}
		}
		return c
	}
	if hasPrior {
		if f := stateOnlyDiff(prior, a); len(f) > 0 {
			p, _ := json.Marshal(private{StateOnly: true})
			return &resource.Change{Action: resource.Update, Fields: f, Private: p}
		}
	} else {
		// Live and up to date but not in state (a renamed block, a lost
		// state file): a no-op would never record it, and a later run
		// would not know to uninstall it.
		return c
	}
	return &resource.Change{Action: resource.NoOp}
}

func stateOnlyDiff(prior cty.Value, a args) []resource.FieldDiff {
	var f []resource.FieldDiff
	if !prior.Type().IsObjectType() {
		return nil
	}
	if p := resource.BoolAttr(prior, "wait", true); p != a.Wait {
		f = append(f, resource.FieldDiff{Path: "wait", Old: fmt.Sprint(p), New: fmt.Sprint(a.Wait)})
	}
	if p := resource.StringAttr(prior, "timeout"); p != "" && p != a.Timeout {
		f = append(f, resource.FieldDiff{Path: "timeout", Old: p, New: a.Timeout})
	}
	if p := resource.BoolAttr(prior, "create_namespace", false); p != a.CreateNamespace {
		f = append(f, resource.FieldDiff{Path: "create_namespace", Old: fmt.Sprint(p), New: fmt.Sprint(a.CreateNamespace)})
	}
	return f
}

func (k releaseKind) Apply(ctx context.Context, req resource.ApplyRequest) (cty.Value, error) {
	a, err := parseArgs(req.Env, req.Cluster, req.Config)
	if err != nil {
		return cty.NilVal, fmt.Errorf("%s: %w", req.Addr, err)
	}
	var p private
	if req.Change != nil && len(req.Change.Private) > 0 {
		_ = json.Unmarshal(req.Change.Private, &p)
	}
	hasPrior := req.Prior != cty.NilVal && !req.Prior.IsNull() && req.Prior.Type().IsObjectType()
	if p.StateOnly && hasPrior && req.Prior.Type().HasAttribute("revision") {
		return result(req.Config, req.Prior.GetAttr("revision"), req.Prior.GetAttr("chart_version"), req.Prior.GetAttr("status")), nil
	}
	resp, err := k.srv.call(ctx, req.Env, req.Addr, a.request(req.Env, req.Addr, wire.OpApply))
	if err != nil {
		return cty.NilVal, err
	}
	if resp.Release == nil {
		return cty.NilVal, fmt.Errorf("%s: lab-helm reported success but no release (a lab-helm bug)", req.Addr)
	}
	r := resp.Release
	return result(req.Config, cty.NumberIntVal(int64(r.Revision)), cty.StringVal(r.ChartVersion), cty.StringVal(r.Status)), nil
}

// result is the config plus the computed attributes.
func result(config, revision, chartVersion, status cty.Value) cty.Value {
	attrs := map[string]cty.Value{}
	if !config.IsNull() && config.Type().IsObjectType() {
		for k, v := range config.AsValueMap() {
			attrs[k] = v
		}
	}
	attrs["revision"] = revision
	attrs["chart_version"] = chartVersion
	attrs["status"] = status
	return cty.ObjectVal(attrs)
}

func (k releaseKind) Delete(ctx context.Context, req resource.DeleteRequest) error {
	a := args{
		Name:      resource.StringAttr(req.Prior, "name"),
		Namespace: resource.StringAttr(req.Prior, "namespace"),
		Timeout:   resource.StringAttr(req.Prior, "timeout"),
		Target:    kube.TargetFor(req.Env, req.Cluster, req.Prior),
	}
	if a.Name == "" || a.Namespace == "" {
		return fmt.Errorf("%s: the state has no release name or namespace; nothing lab can uninstall", req.Addr)
	}
	if d, err := time.ParseDuration(a.Timeout); err != nil || d <= 0 {
		a.Timeout = "5m"
	}
	_, err := k.srv.call(ctx, req.Env, req.Addr, a.request(req.Env, req.Addr, wire.OpDelete))
	return err
}
