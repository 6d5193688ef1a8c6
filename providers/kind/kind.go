// Package kind is the kind_cluster resource kind: a cluster named like
// kind's (context kind-<name>, node <name>-control-plane), made by kind's
// library on Docker or Podman, or by the simulated runtime when no
// container engine is there. Either way its kubeconfig context is merged
// into the kubeconfig file, and the cluster's kubeconfig, context and
// endpoint are exported for the resources that run in it.
package kind

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/zclconf/go-cty/cty"
	"k8s.io/client-go/tools/clientcmd"

	"labs.dev/lab/lab/resource"
	"labs.dev/lab/providers/kube"
	"labs.dev/lab/providers/simulated"
)

// simRuntime is what the kind needs of the simulated runtime.
type simRuntime interface {
	Status(dir string) (simulated.ClusterStatus, error)
	Create(ctx context.Context, o simulated.Options) (*simulated.Cluster, error)
	Delete(ctx context.Context, o simulated.Options) error
}

type realSim struct{}

func (realSim) Status(dir string) (simulated.ClusterStatus, error) { return simulated.Status(dir) }
func (realSim) Create(ctx context.Context, o simulated.Options) (*simulated.Cluster, error) {
	return simulated.Create(ctx, o)
}
func (realSim) Delete(ctx context.Context, o simulated.Options) error {
	return simulated.Delete(ctx, o)
}

type clusterKind struct {
	engine  func(backend string, log *slog.Logger) engine
	answers func(ctx context.Context, backend string) bool
	sim     simRuntime
	// kube are the command's connections, whose client of a cluster
	// this kind recreates must go.
	kube *kube.Connections
}

// New returns the kind_cluster kind; k are the command's connections.
func New(k *kube.Connections) resource.Kind {
	return &clusterKind{engine: newKindEngine, answers: answers, sim: realSim{}, kube: k}
}

func (*clusterKind) Type() string        { return "kind_cluster" }
func (*clusterKind) Schema() hcldec.Spec { return schema() }
func (*clusterKind) Computed() map[string]cty.Type {
	return map[string]cty.Type{
		"kubeconfig": cty.String,
		"context":    cty.String,
		"endpoint":   cty.String,
		"backend":    cty.String,
	}
}

// private is what Plan resolved, for Apply.
type private struct {
	Backend string `json:"backend"`
}

// clusterDir is where a simulated cluster of the lab lives.
func clusterDir(stateDir, name string) string { return filepath.Join(stateDir, "clusters", name) }

func progress(env resource.Env, addr resource.Addr, msg string) {
	env.Progress(resource.Progress{Addr: addr, Msg: msg})
}

// backendFor resolves runtime to the backend that will run the cluster;
// auto picks docker, then podman, when its daemon answers, else the
// simulated runtime, and says which in one line.
func (k *clusterKind) backendFor(ctx context.Context, env resource.Env, addr resource.Addr, runtime string) string {
	if runtime != Auto {
		return runtime
	}
	for _, b := range []string{Docker, Podman} {
		if k.answers(ctx, b) {
			progress(env, addr, fmt.Sprintf("runtime auto: %s answers; using kind on %s", b, b))
			return b
		}
	}
	progress(env, addr, "runtime auto: no container engine answers (docker, podman); using the simulated runtime")
	return Simulated
}

// kubeconfigPath is where the context goes: kubeconfig_path (relative to
// the lab file) or the default kubeconfig, like kind.
func kubeconfigPath(env resource.Env, cfg config) string {
	if cfg.Kubeconfig == "" {
		return simulated.DefaultKubeconfig()
	}
	return kube.KubeconfigPath(env.Dir, cfg.Kubeconfig)
}

// Validate checks the arguments as Plan will, without a container engine.
func (k *clusterKind) Validate(_ resource.Env, addr resource.Addr, v cty.Value) error {
	_, err := readConfig(addr, v)
	return err
}

func (k *clusterKind) Plan(ctx context.Context, req resource.PlanRequest) (*resource.Change, error) {
	cfg, err := readConfig(req.Addr, req.Config)
	if err != nil {
		return nil, err
	}
	inState := req.Prior != cty.NilVal && !req.Prior.IsNull()
	var backend string
	if inState {
		backend = resource.StringAttr(req.Prior, "backend")
		if ch := replaceFor(req.Prior, cfg, backend); ch != nil {
			next := k.backendFor(ctx, req.Env, req.Addr, cfg.Runtime)
			// The replace deletes the cluster first: make sure the new
			// one can be made before planning to lose the old.
			if next == Docker || next == Podman {
				if _, err := k.engine(next, req.Log).List(); err != nil {
					return nil, fmt.Errorf("%s: %s cannot be reached (%v), so the cluster cannot be made there; start %s, or keep runtime = %q. Nothing was changed", req.Addr, next, err, next, backend)
				}
			}
			ch.Private = mustJSON(private{Backend: next})
			return ch, nil
		}
	}
	if backend == "" {
		backend = k.backendFor(ctx, req.Env, req.Addr, cfg.Runtime)
	}
	ch, err := k.refresh(ctx, req, cfg, backend, inState)
	if err != nil {
		return nil, err
	}
	ch.Private = mustJSON(private{Backend: backend})
	return ch, nil
}

// replaceFor returns a Replace when a field kind cannot change in place
// differs from what was applied, with the difference in Fields.
func replaceFor(prior cty.Value, cfg config, backend string) *resource.Change {
	old, err := readConfig(resource.Addr{}, prior)
	if err != nil {
		old = config{Name: resource.StringAttr(prior, "name"), Runtime: resource.StringAttr(prior, "runtime")}
	}
	var fields []resource.FieldDiff
	diff := func(path, o, n string) {
		if o != n {
			fields = append(fields, resource.FieldDiff{Path: path, Old: o, New: n})
		}
	}
	diff("name", old.Name, cfg.Name)
	// auto keeps whatever backend the cluster has; only an explicit
	// runtime that differs from it moves the cluster.
	if cfg.Runtime != Auto && backend != "" && cfg.Runtime != backend {
		diff("runtime", old.Runtime+" ("+backend+")", cfg.Runtime)
	}
	diff("nodes", rolesString(old.Roles), rolesString(cfg.Roles))
	if backend != Simulated {
		diff("node_image", old.NodeImage, cfg.NodeImage)
		diff("extra_port_mappings", portsString(old.Ports), portsString(cfg.Ports))
	}
	if len(fields) == 0 {
		return nil
	}
	var names []string
	for _, f := range fields {
		names = append(names, f.Path)
	}
	return &resource.Change{
		Action: resource.Replace,
		Reason: fmt.Sprintf("%s changed; a kind cluster cannot change that in place, so it is deleted and created again (its workloads are lost)", strings.Join(names, ", ")),
		Fields: fields,
	}
}

// refresh compares the live cluster with the config.
func (k *clusterKind) refresh(ctx context.Context, req resource.PlanRequest, cfg config, backend string, inState bool) (*resource.Change, error) {
	kubeconfig := kubeconfigPath(req.Env, cfg)
	context := "kind-" + cfg.Name
	gone := func() *resource.Change {
		if inState {
			return &resource.Change{Action: resource.Create, Drift: true, Reason: "deleted outside lab"}
		}
		return &resource.Change{Action: resource.Create}
	}
	switch backend {
	case Simulated:
		st, err := k.sim.Status(clusterDir(req.StateDir, cfg.Name))
		if err != nil {
			return nil, fmt.Errorf("%s: read simulated cluster %s: %w", req.Addr, cfg.Name, err)
		}
		switch st.State {
		case simulated.Absent:
			return gone(), nil
		case simulated.Stopped:
			ch := &resource.Change{
				Action: resource.Update, Drift: inState,
				Reason: "control plane stopped; will restart it on its existing data",
				Fields: []resource.FieldDiff{{Path: "processes", Old: "down: " + strings.Join(st.Down, ", "), New: "running"}},
			}
			if !inState {
				ch.Action, ch.Drift = resource.Create, false
				ch.Reason = "a stopped simulated cluster " + cfg.Name + " is in " + clusterDir(req.StateDir, cfg.Name) + "; will start it on its data"
			}
			return ch, nil
		}
		if !inState {
			return &resource.Change{Action: resource.Create, Reason: "simulated cluster " + cfg.Name + " is running already; lab will use it"}, nil
		}
	case Docker, Podman:
		names, err := k.engine(backend, req.Log).List()
		if err != nil {
			return nil, fmt.Errorf("%s: list kind clusters on %s: %w (is the %s daemon running?)", req.Addr, backend, err, backend)
		}
		if !contains(names, cfg.Name) {
			return gone(), nil
		}
		if !inState {
			return &resource.Change{Action: resource.Create, Reason: "kind cluster " + cfg.Name + " exists already on " + backend + "; lab will use it and export its kubeconfig"}, nil
		}
	default:
		return nil, fmt.Errorf("%s: unknown backend %q in state; run `lab destroy` and `lab up` again", req.Addr, backend)
	}
	// In state and running: the kubeconfig context is the one thing left
	// that a learner may have removed (kubectl config delete-context).
	if old := resource.StringAttr(req.Prior, "kubeconfig"); old != "" && old != kubeconfig {
		return &resource.Change{Action: resource.Update, Reason: "kubeconfig_path changed; will merge context " + context + " into " + kubeconfig,
			Fields: []resource.FieldDiff{{Path: "kubeconfig", Old: old, New: kubeconfig}}}, nil
	}
	has, err := contextIn(kubeconfig, context)
	if err != nil {
		return nil, fmt.Errorf("%s: kubeconfig %s cannot be read: %w; fix or move it (lab will not overwrite it), then run again", req.Addr, kubeconfig, err)
	}
	if !has {
		return &resource.Change{Action: resource.Update, Drift: true,
			Reason: "context " + context + " is missing from " + kubeconfig + "; will merge it again",
			Fields: []resource.FieldDiff{{Path: "context", New: context}}}, nil
	}
	return &resource.Change{Action: resource.NoOp}, nil
}

// contextIn reports whether the kubeconfig has the context; a file that
// does not exist has none, one that cannot be parsed is an error.
func contextIn(kubeconfig, name string) (bool, error) {
	cfg, err := clientcmd.LoadFromFile(kubeconfig)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	_, ok := cfg.Contexts[name]
	return ok, nil
}

func endpointOf(kubeconfig, name string) string {
	cfg, err := clientcmd.LoadFromFile(kubeconfig)
	if err != nil {
		return ""
	}
	if c, ok := cfg.Contexts[name]; ok {
		if cl, ok := cfg.Clusters[c.Cluster]; ok {
			return cl.Server
		}
	}
	return ""
}

func (k *clusterKind) Apply(ctx context.Context, req resource.ApplyRequest) (cty.Value, error) {
	cfg, err := readConfig(req.Addr, req.Config)
	if err != nil {
		return cty.NilVal, err
	}
	var p private
	if req.Change != nil && len(req.Change.Private) > 0 {
		_ = json.Unmarshal(req.Change.Private, &p)
	}
	backend := p.Backend
	if backend == "" {
		backend = k.backendFor(ctx, req.Env, req.Addr, cfg.Runtime)
	}
	kubeconfig := kubeconfigPath(req.Env, cfg)
	kctx := "kind-" + cfg.Name
	var endpoint string
	switch backend {
	case Simulated:
		if len(cfg.Roles) > 0 && countRole(cfg.Roles, "control-plane") > 1 {
			return cty.NilVal, fmt.Errorf("%s: the simulated runtime runs one control-plane node; make the other nodes workers, or use runtime docker for a multi-control-plane cluster", req.Addr)
		}
		// No container runs, so these have nothing to act on; say so
		// rather than let an author think they took effect.
		if cfg.NodeImage != "" {
			progress(req.Env, req.Addr, "node_image "+cfg.NodeImage+" has no effect on the simulated runtime (no container runs)")
		}
		if len(cfg.Ports) > 0 {
			progress(req.Env, req.Addr, "extra_port_mappings have no effect on the simulated runtime (no container runs, nothing listens on the host ports)")
		}
		c, err := k.sim.Create(ctx, simulated.Options{
			Name:       cfg.Name,
			Dir:        clusterDir(req.StateDir, cfg.Name),
			Kubeconfig: kubeconfig,
			Nodes:      len(cfg.Roles),
			Wait:       cfg.Wait,
			Log:        req.Log,
			Progress:   func(msg string) { progress(req.Env, req.Addr, msg) },
		})
		if err != nil {
			return cty.NilVal, fmt.Errorf("%s: %w", req.Addr, err)
		}
		endpoint = c.Endpoint
	case Docker, Podman:
		e := k.engine(backend, req.Log)
		names, err := e.List()
		if err != nil {
			return cty.NilVal, fmt.Errorf("%s: list kind clusters on %s: %w (is the %s daemon running?)", req.Addr, backend, err, backend)
		}
		if !contains(names, cfg.Name) {
			progress(req.Env, req.Addr, fmt.Sprintf("Creating kind cluster %q on %s (pulls the node image on first use)", cfg.Name, backend))
			if err := e.Create(cfg.Name, cfg.kindConfig(), cfg.Wait, kubeconfig); err != nil {
				return cty.NilVal, fmt.Errorf("%s: kind could not create cluster %s on %s: %w", req.Addr, cfg.Name, backend, err)
			}
		}
		if err := e.ExportKubeConfig(cfg.Name, kubeconfig); err != nil {
			return cty.NilVal, fmt.Errorf("%s: export kubeconfig of kind cluster %s to %s: %w", req.Addr, cfg.Name, kubeconfig, err)
		}
		endpoint = endpointOf(kubeconfig, kctx)
	default:
		return cty.NilVal, fmt.Errorf("%s: unknown backend %q", req.Addr, backend)
	}
	// A recreated cluster has new certificates: drop any cached client.
	k.forget(kube.Target{Kubeconfig: kubeconfig, Context: kctx})
	return withComputed(req.Config, map[string]cty.Value{
		"kubeconfig": cty.StringVal(kubeconfig),
		"context":    cty.StringVal(kctx),
		"endpoint":   cty.StringVal(endpoint),
		"backend":    cty.StringVal(backend),
	}), nil
}

// forget drops the command's client of t, if the kind has connections.
func (k *clusterKind) forget(t kube.Target) {
	if k.kube != nil {
		k.kube.Forget(t)
	}
}

func countRole(roles []string, role string) int {
	n := 0
	for _, r := range roles {
		if r == role {
			n++
		}
	}
	return n
}

func (k *clusterKind) Delete(ctx context.Context, req resource.DeleteRequest) error {
	name := resource.StringAttr(req.Prior, "name")
	if name == "" {
		return nil
	}
	kubeconfig := resource.StringAttr(req.Prior, "kubeconfig")
	backend := resource.StringAttr(req.Prior, "backend")
	defer k.forget(kube.Target{Kubeconfig: kubeconfig, Context: "kind-" + name})
	switch backend {
	case Docker, Podman:
		e := k.engine(backend, req.Log)
		names, err := e.List()
		if err != nil {
			return fmt.Errorf("%s: list kind clusters on %s: %w (is the %s daemon running?)", req.Addr, backend, err, backend)
		}
		if !contains(names, name) {
			return nil
		}
		progress(req.Env, req.Addr, fmt.Sprintf("Deleting kind cluster %q on %s", name, backend))
		if err := e.Delete(name, kubeconfig); err != nil {
			return fmt.Errorf("%s: kind could not delete cluster %s: %w", req.Addr, name, err)
		}
		return nil
	default:
		// Simulated, or state without a backend: whatever is in the lab's
		// directory goes.
		progress(req.Env, req.Addr, fmt.Sprintf("Stopping and deleting simulated cluster %q", name))
		err := k.sim.Delete(ctx, simulated.Options{Name: name, Dir: clusterDir(req.StateDir, name), Kubeconfig: kubeconfig})
		if err != nil {
			return fmt.Errorf("%s: %w", req.Addr, err)
		}
		return nil
	}
}

// withComputed returns the config object with the computed attributes set.
func withComputed(config cty.Value, computed map[string]cty.Value) cty.Value {
	attrs := map[string]cty.Value{}
	if config != cty.NilVal && !config.IsNull() && config.Type().IsObjectType() {
		for name := range config.Type().AttributeTypes() {
			attrs[name] = config.GetAttr(name)
		}
	}
	for k, v := range computed {
		attrs[k] = v
	}
	return cty.ObjectVal(attrs)
}

// mustJSON marshals the plain structs of this package, which cannot fail.
func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}
