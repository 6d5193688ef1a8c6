// Package existing is the existing_cluster kind: a Kubernetes cluster
// that lab uses but never creates or deletes, reached through any
// kubeconfig context (EKS, GKE, a cluster a colleague made), as
// Terraform's data blocks read what they do not manage. What lives in it
// connects through it as through a kind_cluster; deleting it leaves the
// cluster and everything lab did not make there as they were.
package existing

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/zclconf/go-cty/cty"
	"k8s.io/client-go/tools/clientcmd"

	"labs.dev/lab/lab/resource"
	"labs.dev/lab/providers/kube"
)

type cluster struct{ kube *kube.Connections }

// New is the existing_cluster kind; it connects through k.
func New(k *kube.Connections) resource.Kind { return cluster{kube: k} }

func (cluster) Type() string { return "existing_cluster" }

func (cluster) Schema() hcldec.Spec {
	return &hcldec.ObjectSpec{
		"kubeconfig": &hcldec.AttrSpec{Name: "kubeconfig", Type: cty.String},
		"context":    &hcldec.AttrSpec{Name: "context", Type: cty.String},
	}
}

// Computed are what the cluster said when lab recorded it; context_name
// pins the context that was current then, so lab down goes to the
// cluster lab up went to, whichever context is current by then.
func (cluster) Computed() map[string]cty.Type {
	return map[string]cty.Type{
		"context_name":       cty.String,
		"endpoint":           cty.String,
		"kubernetes_version": cty.String,
		"user":               cty.String,
	}
}

// Connection is the declared kubeconfig and context; once recorded, the
// context that was in use then.
func (cluster) Connection(env resource.Env, attrs cty.Value) (resource.Connection, bool) {
	if !resource.Known(attrs, "kubeconfig", "context") {
		return resource.Connection{}, false
	}
	ctx := resource.StringAttr(attrs, "context")
	if ctx == "" {
		ctx = resource.StringAttr(attrs, "context_name")
	}
	return resource.Connection{Kubeconfig: kube.KubeconfigPath(env.Dir, resource.StringAttr(attrs, "kubeconfig")), Context: ctx}, true
}

// RemovesContents is false: lab never deletes an existing cluster, so
// what lab made in it is deleted on its own.
func (cluster) RemovesContents() bool { return false }

// Validate checks that a kubeconfig named in the lab file exists.
func (cluster) Validate(env resource.Env, addr resource.Addr, v cty.Value) error {
	p := kube.KubeconfigPath(env.Dir, resource.StringAttr(v, "kubeconfig"))
	if p == "" {
		return nil
	}
	if _, err := os.Stat(p); err != nil {
		return fmt.Errorf("%s: kubeconfig %s: %w", addr, p, err)
	}
	return nil
}

// facts are what the cluster says about itself.
type facts struct {
	context, endpoint, version, user string
}

func (f facts) attrs(config cty.Value) cty.Value {
	return resource.WithAttrs(config, map[string]cty.Value{
		"context_name":       cty.StringVal(f.context),
		"endpoint":           cty.StringVal(f.endpoint),
		"kubernetes_version": cty.StringVal(f.version),
		"user":               cty.StringVal(f.user),
	})
}

// probeTimeout bounds how long plan waits for the cluster to answer.
const probeTimeout = 30 * time.Second

// probe reaches the cluster config names: which context that is, and
// that its API server answers (its version) and to whom.
func (k cluster) probe(ctx context.Context, env resource.Env, addr resource.Addr, config cty.Value) (facts, error) {
	t := kube.Target{Kubeconfig: kube.KubeconfigPath(env.Dir, resource.StringAttr(config, "kubeconfig")), Context: resource.StringAttr(config, "context")}
	name, err := contextName(t)
	if err != nil {
		return facts{}, fmt.Errorf("%s: %w", addr, err)
	}
	c, err := k.kube.Connect(kube.Target{Kubeconfig: t.Kubeconfig, Context: name})
	if err != nil {
		return facts{}, fmt.Errorf("%s: %w", addr, err)
	}
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	raw, err := c.Discovery.RESTClient().Get().AbsPath("/version").Do(ctx).Raw()
	if err != nil {
		return facts{}, fmt.Errorf("%s: the cluster of context %s does not answer at %s: %w; check that it is up and that this machine reaches it (kubectl --context %s version)", addr, name, c.Config.Host, err, name)
	}
	var v struct {
		GitVersion string `json:"gitVersion"`
	}
	_ = json.Unmarshal(raw, &v)
	return facts{context: name, endpoint: c.Config.Host, version: v.GitVersion, user: c.User(ctx)}, nil
}

// contextName is the context t names, or the current one of its
// kubeconfig.
func contextName(t kube.Target) (string, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if t.Kubeconfig != "" {
		rules.ExplicitPath = t.Kubeconfig
	}
	raw, err := rules.Load()
	if err != nil {
		return "", fmt.Errorf("cannot load %s: %w", t, err)
	}
	name := t.Context
	if name == "" {
		name = raw.CurrentContext
	}
	if name == "" {
		return "", fmt.Errorf("%s has no current context; name one with context = \"...\" (kubectl config get-contexts lists them)", t)
	}
	if _, ok := raw.Contexts[name]; !ok {
		return "", fmt.Errorf("there is no context %q in %s; kubectl config get-contexts lists the contexts there", name, t)
	}
	return name, nil
}

func (k cluster) Plan(ctx context.Context, req resource.PlanRequest) (*resource.Change, error) {
	f, err := k.probe(ctx, req.Env, req.Addr, req.Config)
	if err != nil {
		return nil, err
	}
	who := ""
	if f.user != "" {
		who = ", as " + f.user
	}
	if req.Prior == cty.NilVal || req.Prior.IsNull() {
		return &resource.Change{Action: resource.Create,
			Reason: fmt.Sprintf("lab records the cluster of context %s (%s, Kubernetes %s%s); it never creates or deletes the cluster itself", f.context, f.endpoint, f.version, who)}, nil
	}
	if old := resource.StringAttr(req.Prior, "endpoint"); old != "" && old != f.endpoint {
		return nil, fmt.Errorf("%s: context %s now reaches %s, but lab made its objects in the cluster at %s; point the context back at that cluster (or run lab down before switching clusters)", req.Addr, f.context, f.endpoint, old)
	}
	var fields []resource.FieldDiff
	for _, d := range []struct{ name, now string }{{"context_name", f.context}, {"kubernetes_version", f.version}, {"user", f.user}} {
		if old := resource.StringAttr(req.Prior, d.name); old != d.now {
			fields = append(fields, resource.FieldDiff{Path: d.name, Old: old, New: d.now})
		}
	}
	if len(fields) == 0 {
		return &resource.Change{Action: resource.NoOp}, nil
	}
	return &resource.Change{Action: resource.Update, Fields: fields, Reason: "the cluster says something else about itself than when lab recorded it"}, nil
}

func (k cluster) Apply(ctx context.Context, req resource.ApplyRequest) (cty.Value, error) {
	f, err := k.probe(ctx, req.Env, req.Addr, req.Config)
	if err != nil {
		return cty.NilVal, err
	}
	if old := resource.StringAttr(req.Prior, "endpoint"); old != "" && old != f.endpoint {
		return cty.NilVal, fmt.Errorf("%s: context %s now reaches %s, not %s where lab made its objects", req.Addr, f.context, f.endpoint, old)
	}
	return f.attrs(req.Config), nil
}

// Delete leaves the cluster as it is: lab did not make it.
func (cluster) Delete(_ context.Context, req resource.DeleteRequest) error {
	req.Progress(resource.Progress{Addr: req.Addr, Msg: fmt.Sprintf("the cluster at %s stays: lab did not make it, and deleted only what it made there", resource.StringAttr(req.Prior, "endpoint"))})
	return nil
}
