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
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/zclconf/go-cty/cty"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

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

// Validate checks, without a cluster, what Plan will read first: the
// kubeconfig file named in the lab file, and the context named in it.
func (cluster) Validate(env resource.Env, _ resource.Addr, v cty.Value) error {
	_, err := readConfig(env, v)
	return err
}

// readConfig is where config says the cluster is. A kubeconfig the lab
// file names must be a file, and a context it names must be in that
// file; either not known yet is skipped. The default kubeconfig
// ($KUBECONFIG, ~/.kube/config) is read only by Plan: lab validate may
// run where it is not.
func readConfig(env resource.Env, v cty.Value) (kube.Target, error) {
	written := resource.StringAttr(v, "kubeconfig")
	t := kube.Target{Kubeconfig: kube.KubeconfigPath(env.Dir, written), Context: resource.StringAttr(v, "context")}
	if t.Kubeconfig == "" {
		return t, nil
	}
	info, err := os.Stat(t.Kubeconfig)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return t, resource.ArgErrorf("kubeconfig", "kubeconfig %q: there is no file %s; name the kubeconfig file of the cluster (kubectl config view shows the one kubectl uses)", written, t.Kubeconfig)
	case err != nil:
		return t, resource.ArgErrorf("kubeconfig", "kubeconfig %q: %w", written, err)
	case info.IsDir():
		return t, resource.ArgErrorf("kubeconfig", "kubeconfig %q: %s is a directory; name the kubeconfig file in it", written, t.Kubeconfig)
	}
	if t.Context == "" {
		return t, nil
	}
	raw, err := clientcmd.LoadFromFile(t.Kubeconfig)
	if err != nil {
		return t, resource.ArgErrorf("kubeconfig", "kubeconfig %q is not a kubeconfig lab can read: %w", written, err)
	}
	if _, ok := raw.Contexts[t.Context]; !ok {
		return t, resource.ArgErrorf("context", "%s", noContext(t, raw))
	}
	return t, nil
}

// noContext says that t names a context its kubeconfig lacks, and
// which ones it has.
func noContext(t kube.Target, raw *clientcmdapi.Config) string {
	names := slices.Sorted(maps.Keys(raw.Contexts))
	if len(names) == 0 {
		return fmt.Sprintf("there is no context %q in %s: it has no contexts at all; name the kubeconfig of the cluster", t.Context, t.File())
	}
	return fmt.Sprintf("there is no context %q in %s; its contexts: %s", t.Context, t.File(), strings.Join(names, ", "))
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
	t, err := readConfig(env, config)
	if err != nil {
		return facts{}, fmt.Errorf("%s: %w", addr, err)
	}
	t.Context, err = contextName(t)
	if err != nil {
		return facts{}, fmt.Errorf("%s: %w", addr, err)
	}
	c, err := k.kube.Connect(t)
	if err != nil {
		return facts{}, fmt.Errorf("%s: %w", addr, err)
	}
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	raw, err := c.Discovery.RESTClient().Get().AbsPath("/version").Do(ctx).Raw()
	if err != nil {
		return facts{}, fmt.Errorf("%s: the cluster of %s does not answer at %s: %w; check that it is up and that this machine reaches it (%s version)", addr, t, c.Config.Host, err, kubectl(t))
	}
	var v struct {
		GitVersion string `json:"gitVersion"`
	}
	_ = json.Unmarshal(raw, &v)
	return facts{context: t.Context, endpoint: c.Config.Host, version: v.GitVersion, user: c.User(ctx)}, nil
}

// kubectl is the kubectl command line that reaches t.
func kubectl(t kube.Target) string {
	cmd := "kubectl"
	if t.Kubeconfig != "" {
		cmd += " --kubeconfig " + t.Kubeconfig
	}
	return cmd + " --context " + t.Context
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
		return "", fmt.Errorf("%s has no current context; name one with context = \"...\" (kubectl config get-contexts lists them)", t.File())
	}
	if _, ok := raw.Contexts[name]; !ok {
		return "", errors.New(noContext(kube.Target{Kubeconfig: t.Kubeconfig, Context: name}, raw))
	}
	return name, nil
}

// moved refuses a cluster whose context now reaches another API server
// than the one lab recorded: what lab made is in that one, and lab would
// neither find it nor be able to delete it.
func moved(addr resource.Addr, prior cty.Value, f facts) error {
	if old := resource.StringAttr(prior, "endpoint"); old != "" && old != f.endpoint {
		return fmt.Errorf("%s: context %s now reaches %s, but lab made its objects in the cluster at %s; point the context back at that cluster (or run lab down before switching clusters)", addr, f.context, f.endpoint, old)
	}
	return nil
}

// Recheck refuses to delete anything in the cluster when its context
// now reaches another API server than the one lab recorded: lab's
// labels there would name objects of another cluster's.
func (k cluster) Recheck(ctx context.Context, env resource.Env, addr resource.Addr, prior cty.Value) error {
	f, err := k.probe(ctx, env, addr, prior)
	if err != nil {
		return err
	}
	return moved(addr, prior, f)
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
	if err := moved(req.Addr, req.Prior, f); err != nil {
		return nil, err
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
	if err := moved(req.Addr, req.Prior, f); err != nil {
		return cty.NilVal, err
	}
	return f.attrs(req.Config), nil
}

// Delete leaves the cluster as it is: lab did not make it.
func (cluster) Delete(_ context.Context, req resource.DeleteRequest) error {
	req.Progress(resource.Progress{Addr: req.Addr, Msg: fmt.Sprintf("the cluster at %s stays: lab did not make it, and deleted only what it made there", resource.StringAttr(req.Prior, "endpoint"))})
	return nil
}
