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
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/zclconf/go-cty/cty"
	"k8s.io/client-go/tools/clientcmd"

	"labs.dev/lab/lab/resource"
	"labs.dev/lab/providers/kind/host"
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
	engine func(backend string, log *slog.Logger) engine
	host   host.Host
	sim    simRuntime
	// ready waits until started nodes serve again (waitReady).
	ready func(ctx context.Context, kubeconfig, kctx string, nodes []string, since time.Time, timeout time.Duration) error
	// kube are the command's connections, whose client of a cluster
	// this kind recreates must go.
	kube *kube.Connections
}

// New returns the kind_cluster kind; k are the command's connections.
func New(k *kube.Connections) resource.Kind {
	return &clusterKind{engine: newKindEngine, host: host.Real(), sim: realSim{}, ready: waitReady, kube: k}
}

func (*clusterKind) Type() string        { return "kind_cluster" }
func (*clusterKind) Schema() hcldec.Spec { return schema() }
func (*clusterKind) Computed() map[string]cty.Type {
	return map[string]cty.Type{
		"kubeconfig":         cty.String,
		"context":            cty.String,
		"endpoint":           cty.String,
		"backend":            cty.String,
		"image":              cty.String,
		"kubernetes_version": cty.String,
	}
}

// private is what Plan resolved, for Apply.
type private struct {
	Backend string `json:"backend"`
	// Image is the node image a create uses, and where it comes from.
	Image       string `json:"image,omitempty"`
	ImageSource string `json:"image_source,omitempty"`
	// CgroupV1 asks for the kubelet patch that lets it run on cgroup v1.
	CgroupV1 bool `json:"cgroup_v1,omitempty"`
}

func (r *report) private(backend string) private {
	p := private{Backend: backend}
	if r != nil {
		p.Image, p.ImageSource, p.CgroupV1 = r.image.Ref, r.image.Source, r.cgroupV1
	}
	return p
}

// clusterDir is where a simulated cluster of the lab lives.
func clusterDir(stateDir, name string) string { return filepath.Join(stateDir, "clusters", name) }

// creatingMark is the file that stands while lab creates a kind cluster:
// kind cleans up a create that fails, but not one whose process was
// killed, and the half-made cluster it leaves looks like any other.
func creatingMark(stateDir, name string) string {
	return filepath.Join(stateDir, "kind", name+".creating")
}

func interrupted(stateDir, name string) bool {
	_, err := os.Stat(creatingMark(stateDir, name))
	return err == nil
}

func progress(env resource.Env, addr resource.Addr, msg string) {
	env.Progress(resource.Progress{Addr: addr, Msg: msg})
}

// kubeconfigPath is where the context goes: kubeconfig_path (relative to
// the lab file) or the default kubeconfig, like kind.
func kubeconfigPath(env resource.Env, cfg config) string {
	if cfg.Kubeconfig == "" {
		return simulated.DefaultKubeconfig()
	}
	return kube.KubeconfigPath(env.Dir, cfg.Kubeconfig)
}

// Validate checks the known arguments as Plan does, without a container
// engine.
func (k *clusterKind) Validate(_ resource.Env, _ resource.Addr, v cty.Value) error {
	_, err := readConfig(v)
	return err
}

func (k *clusterKind) Plan(ctx context.Context, req resource.PlanRequest) (*resource.Change, error) {
	cfg, err := readConfig(req.Config)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", req.Addr, err)
	}
	inState := req.Prior != cty.NilVal && !req.Prior.IsNull()
	var backend string
	var rep *report
	if inState {
		backend = resource.StringAttr(req.Prior, "backend")
		if ch := replaceFor(req.Prior, cfg, backend); ch != nil {
			next, rep := k.backendFor(ctx, req.Env, req.Addr, cfg)
			// The replace deletes the cluster first: make sure the new
			// one can be made before planning to lose the old. Its ports
			// are free once the old cluster is gone, unless that one was
			// simulated (it holds none of them).
			if next == Docker || next == Podman {
				if rep == nil {
					r := k.checkCreate(ctx, next, cfg, backend == Simulated)
					rep = &r
				}
				var kept []string
				for _, f := range ch.Fields {
					kept = append(kept, f.Path)
				}
				keep := "keep " + strings.Join(kept, ", ") + " as applied (the cluster stays as it is)"
				if len(kept) == 1 && kept[0] == "runtime" {
					keep = "keep runtime = " + strconv.Quote(backend)
				}
				if err := rep.err(req.Addr, next, "make the new cluster", keep); err != nil {
					return nil, err
				}
				rep.tell(req.Env, req.Addr)
			}
			ch.Private = mustJSON(rep.private(next))
			return ch, nil
		}
	}
	if backend == "" {
		backend, rep = k.backendFor(ctx, req.Env, req.Addr, cfg)
	}
	ch, err := k.refresh(ctx, req, cfg, backend, inState, rep)
	if err != nil {
		return nil, err
	}
	if len(ch.Private) == 0 {
		ch.Private = mustJSON(private{Backend: backend})
	}
	return ch, nil
}

// replaceFor returns a Replace when a field kind cannot change in place
// differs from what was applied, with the difference in Fields.
func replaceFor(prior cty.Value, cfg config, backend string) *resource.Change {
	old, err := readConfig(prior)
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
		diff("api_server_port", portString(old.APIServerPort), portString(cfg.APIServerPort))
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
func (k *clusterKind) refresh(ctx context.Context, req resource.PlanRequest, cfg config, backend string, inState bool, rep *report) (*resource.Change, error) {
	kubeconfig := kubeconfigPath(req.Env, cfg)
	context := "kind-" + cfg.Name
	gone := func() *resource.Change {
		if inState {
			return &resource.Change{Action: resource.Create, Drift: true, Reason: "deleted outside lab"}
		}
		return &resource.Change{Action: resource.Create}
	}
	var status string
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
		status = "simulated"
		if v := simulatedVersion(); v != "" {
			status += ", Kubernetes " + v
		}
	case Docker, Podman:
		ch, err := k.refreshEngine(ctx, req, cfg, backend, inState, rep)
		if ch != nil || err != nil {
			return ch, err
		}
		status = fmt.Sprintf("kind on %s", backend)
		if img := resource.StringAttr(req.Prior, "image"); img != "" {
			status += ", node image " + img
		}
		if v := resource.StringAttr(req.Prior, "kubernetes_version"); v != "" {
			status += ", Kubernetes " + v
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
	// Nothing to do; the reason is what lab status shows beside "ready".
	return &resource.Change{Action: resource.NoOp, Reason: status}, nil
}

// refreshEngine looks at a kind cluster on docker or podman: absent,
// half made by an interrupted create, broken, stopped, or there. A nil
// change means there and running, for refresh to check the kubeconfig.
func (k *clusterKind) refreshEngine(ctx context.Context, req resource.PlanRequest, cfg config, backend string, inState bool, rep *report) (*resource.Change, error) {
	e := k.engine(backend, req.Log)
	names, err := e.List()
	if err != nil {
		r := k.checkEngine(ctx, backend)
		if err := r.err(req.Addr, backend, "reach kind cluster "+cfg.Name, ""); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("%s: list kind clusters on %s: %w", req.Addr, backend, err)
	}
	exists := contains(names, cfg.Name)
	leftover := exists && interrupted(req.StateDir, cfg.Name)
	if !exists || leftover {
		// What an interrupted create left holds the ports; they are
		// free again once it is deleted.
		if rep == nil || leftover {
			r := k.checkCreate(ctx, backend, cfg, !leftover)
			rep = &r
		}
		if err := rep.err(req.Addr, backend, "create kind cluster "+cfg.Name, ""); err != nil {
			return nil, err
		}
		rep.tell(req.Env, req.Addr)
		ch := &resource.Change{Action: resource.Create}
		switch {
		case leftover:
			ch.Reason = fmt.Sprintf("an earlier lab run was stopped while it created kind cluster %q on %s; lab deletes what it left and creates it again", cfg.Name, backend)
			if inState {
				ch.Action = resource.Replace
			}
		case inState:
			ch.Drift, ch.Reason = true, "deleted outside lab"
		}
		ch.Private = mustJSON(rep.private(backend))
		return ch, nil
	}
	nodes, err := e.Nodes(ctx, cfg.Name)
	if err != nil {
		return nil, fmt.Errorf("%s: inspect the node containers of kind cluster %s on %s: %w", req.Addr, cfg.Name, backend, err)
	}
	var roles []string
	if inState {
		if old, err := readConfig(req.Prior); err == nil {
			roles = old.Roles
		}
	}
	h := healthOf(cfg.Name, roles, nodes)
	if len(h.broken) > 0 {
		why := strings.Join(h.broken, "; ")
		if !inState {
			return nil, fmt.Errorf("%s: kind cluster %s on %s cannot come back (%s), and lab did not make it, so lab will not delete it: delete it with `kind delete cluster --name %s` (or `%s rm -f %s`), then run lab up again", req.Addr, cfg.Name, backend, why, cfg.Name, backend, joinNames(nodes))
		}
		r := k.checkCreate(ctx, backend, cfg, false)
		if err := r.err(req.Addr, backend, "make kind cluster "+cfg.Name+" again", ""); err != nil {
			return nil, err
		}
		r.tell(req.Env, req.Addr)
		return &resource.Change{Action: resource.Replace, Drift: true,
			Reason:  why + "; starting it cannot bring the cluster back, so it is deleted and created again (its workloads are lost)",
			Private: mustJSON(r.private(backend))}, nil
	}
	if down := h.down(); len(down) > 0 {
		r := k.checkStart(ctx, backend, down)
		if err := r.err(req.Addr, backend, "start the stopped node(s) "+joinNames(down), ""); err != nil {
			return nil, err
		}
		r.tell(req.Env, req.Addr)
		ch := &resource.Change{Action: resource.Update, Drift: true,
			Reason: fmt.Sprintf("node container(s) %s stopped (a reboot, a hibernated instance, or %s stop); will start them and wait until the cluster is ready again, keeping everything in it", joinNames(down), backend),
			Fields: downFields(down)}
		if !inState {
			ch.Action, ch.Drift = resource.Create, false
			ch.Reason = fmt.Sprintf("kind cluster %s exists already on %s with stopped node(s) %s; lab will start them and use it", cfg.Name, backend, joinNames(down))
		}
		return ch, nil
	}
	if !inState {
		return &resource.Change{Action: resource.Create, Reason: "kind cluster " + cfg.Name + " exists already on " + backend + "; lab will use it and export its kubeconfig"}, nil
	}
	return nil, nil
}

// simulatedVersion is the Kubernetes version of the simulated control
// plane, from its build key (k8s-v1.35.4_...).
func simulatedVersion() string {
	v, _, _ := strings.Cut(strings.TrimPrefix(simulated.BinKey, "k8s-"), "_")
	return v
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
	// A cluster made, started or replaced is a new world under the same
	// context: what a plan listed before is not what is there now.
	kube.Wrote()
	defer kube.Wrote()
	cfg, err := readConfig(req.Config)
	if err != nil {
		return cty.NilVal, fmt.Errorf("%s: %w", req.Addr, err)
	}
	var p private
	if req.Change != nil && len(req.Change.Private) > 0 {
		_ = json.Unmarshal(req.Change.Private, &p)
	}
	if p.Backend == "" {
		backend, rep := k.backendFor(ctx, req.Env, req.Addr, cfg)
		p = rep.private(backend)
	}
	kubeconfig := kubeconfigPath(req.Env, cfg)
	kctx := "kind-" + cfg.Name
	computed := map[string]cty.Value{
		"kubeconfig":         cty.StringVal(kubeconfig),
		"context":            cty.StringVal(kctx),
		"backend":            cty.StringVal(p.Backend),
		"image":              cty.StringVal(""),
		"kubernetes_version": cty.StringVal(""),
	}
	switch p.Backend {
	case Simulated:
		if len(cfg.Roles) > 0 && countRole(cfg.Roles, "control-plane") > 1 {
			return cty.NilVal, fmt.Errorf("%s: the simulated runtime runs one control-plane node; make the other nodes workers, or use runtime docker for a multi-control-plane cluster", req.Addr)
		}
		// No container runs, so these have nothing to act on; say so
		// rather than let an author think they took effect.
		if cfg.NodeImage != "" {
			progress(req.Env, req.Addr, "node_image "+cfg.NodeImage+" has no effect on the simulated runtime (no container runs)")
		}
		if len(cfg.Ports) > 0 || cfg.APIServerPort != 0 {
			progress(req.Env, req.Addr, "extra_port_mappings and api_server_port have no effect on the simulated runtime (no container runs, nothing listens on those host ports)")
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
		computed["endpoint"] = cty.StringVal(c.Endpoint)
		computed["kubernetes_version"] = cty.StringVal(simulatedVersion())
	case Docker, Podman:
		if err := k.applyEngine(ctx, req, cfg, p, kubeconfig, computed); err != nil {
			return cty.NilVal, err
		}
	default:
		return cty.NilVal, fmt.Errorf("%s: unknown backend %q", req.Addr, p.Backend)
	}
	// A recreated cluster has new certificates: drop any cached client.
	k.forget(kube.Target{Kubeconfig: kubeconfig, Context: kctx})
	return withComputed(req.Config, computed), nil
}

// applyEngine makes the kind cluster on docker or podman, or starts its
// stopped nodes, exports its kubeconfig and fills in computed.
func (k *clusterKind) applyEngine(ctx context.Context, req resource.ApplyRequest, cfg config, p private, kubeconfig string, computed map[string]cty.Value) error {
	backend, kctx := p.Backend, "kind-"+cfg.Name
	e := k.engine(backend, req.Log)
	names, err := e.List()
	if err != nil {
		return fmt.Errorf("%s: list kind clusters on %s: %w (is the %s daemon running?)", req.Addr, backend, err, backend)
	}
	exists := contains(names, cfg.Name)
	if exists && interrupted(req.StateDir, cfg.Name) {
		progress(req.Env, req.Addr, fmt.Sprintf("Deleting what an interrupted create of kind cluster %q left on %s", cfg.Name, backend))
		if err := e.Delete(cfg.Name, kubeconfig); err != nil {
			return fmt.Errorf("%s: delete the half-made kind cluster %s on %s: %w", req.Addr, cfg.Name, backend, err)
		}
		exists = false
	}
	if !exists {
		if err := k.create(ctx, req, cfg, p, e, kubeconfig); err != nil {
			return err
		}
	} else {
		nodes, err := e.Nodes(ctx, cfg.Name)
		if err != nil {
			return fmt.Errorf("%s: inspect the node containers of kind cluster %s on %s: %w", req.Addr, cfg.Name, backend, err)
		}
		h := healthOf(cfg.Name, nil, nodes)
		if len(h.broken) > 0 {
			return fmt.Errorf("%s: kind cluster %s on %s cannot come back: %s; run lab plan to see what lab will do", req.Addr, cfg.Name, backend, strings.Join(h.broken, "; "))
		}
		if down := h.down(); len(down) > 0 {
			if err := k.start(ctx, req, cfg, e, down, kubeconfig); err != nil {
				return err
			}
		}
	}
	if err := e.ExportKubeConfig(cfg.Name, kubeconfig); err != nil {
		return fmt.Errorf("%s: export kubeconfig of kind cluster %s to %s: %w", req.Addr, cfg.Name, kubeconfig, err)
	}
	computed["endpoint"] = cty.StringVal(endpointOf(kubeconfig, kctx))
	if nodes, err := e.Nodes(ctx, cfg.Name); err == nil {
		for _, n := range nodes {
			if n.Name == cfg.Name+"-control-plane" {
				computed["image"] = cty.StringVal(n.Image)
			}
		}
	}
	if v, err := e.KubeVersion(ctx, cfg.Name); err == nil {
		computed["kubernetes_version"] = cty.StringVal(v)
	} else {
		req.Log.Debug("read the Kubernetes version of the node", "cluster", cfg.Name, "err", err)
	}
	return nil
}

// create makes the cluster with kind's library, with the mark standing
// while it does, so a killed run is known for what it left.
func (k *clusterKind) create(ctx context.Context, req resource.ApplyRequest, cfg config, p private, e engine, kubeconfig string) error {
	backend := p.Backend
	if p.Image == "" {
		// An apply without a plan of this version: check as plan does.
		r := k.checkCreate(ctx, backend, cfg, true)
		if err := r.err(req.Addr, backend, "create kind cluster "+cfg.Name, ""); err != nil {
			return err
		}
		p = r.private(backend)
	}
	img := host.Image{Ref: p.Image, Source: p.ImageSource}
	if p.ImageSource == "" {
		img.Source = host.FromConfig
	}
	msg := fmt.Sprintf("Creating kind cluster %q on %s with node image %s (%s)", cfg.Name, backend, img.Ref, img.Source)
	if p.CgroupV1 {
		msg += "; cgroup v1 host, so the kubelet runs with failCgroupV1: false"
	}
	progress(req.Env, req.Addr, msg)
	mark := creatingMark(req.StateDir, cfg.Name)
	if err := os.MkdirAll(filepath.Dir(mark), 0o755); err != nil {
		return fmt.Errorf("%s: %w", req.Addr, err)
	}
	if err := os.WriteFile(mark, []byte(fmt.Sprintf("lab (pid %d) creating kind cluster %s on %s since %s\n", os.Getpid(), cfg.Name, backend, time.Now().Format(time.RFC3339))), 0o644); err != nil {
		return fmt.Errorf("%s: %w", req.Addr, err)
	}
	since := time.Now()
	err := e.Create(cfg.Name, cfg.kindConfig(img.Ref, p.CgroupV1), cfg.Wait, kubeconfig)
	// kind deletes what a failed create made: only a killed run leaves
	// nodes behind, and then the mark stays.
	_ = os.Remove(mark)
	if err != nil {
		return fmt.Errorf("%s: kind could not create cluster %s on %s: %w", req.Addr, cfg.Name, backend, err)
	}
	// kind waits for the control-plane node only; the lesson's first
	// `kubectl get pods -n kube-system` expects every pod 1/1.
	return k.waitNodes(ctx, req, cfg, e, kubeconfig, since)
}

// waitNodes waits until every node of the cluster and the kube-system
// pods on them are Ready, with containers started since.
func (k *clusterKind) waitNodes(ctx context.Context, req resource.ApplyRequest, cfg config, e engine, kubeconfig string, since time.Time) error {
	all, err := e.Nodes(ctx, cfg.Name)
	if err != nil {
		return fmt.Errorf("%s: inspect the node containers of kind cluster %s: %w", req.Addr, cfg.Name, err)
	}
	var nodes []string
	for _, n := range all {
		if n.Role != "external-load-balancer" {
			nodes = append(nodes, n.Name)
		}
	}
	progress(req.Env, req.Addr, fmt.Sprintf("Waiting up to %s for node(s) %s and kube-system to be ready", cfg.Wait, strings.Join(nodes, ", ")))
	if err := k.ready(ctx, kubeconfig, "kind-"+cfg.Name, nodes, since, cfg.Wait); err != nil {
		return fmt.Errorf("%s: kind cluster %s was made, but it is %w; `kubectl get pods -n kube-system` shows what is wrong, `lab up` waits again", req.Addr, cfg.Name, err)
	}
	return nil
}

// start brings stopped node containers back and waits until the cluster
// is ready again; what is in the cluster stays (it lives in the nodes).
func (k *clusterKind) start(ctx context.Context, req resource.ApplyRequest, cfg config, e engine, down []node, kubeconfig string) error {
	progress(req.Env, req.Addr, fmt.Sprintf("Starting stopped node(s) %s of kind cluster %q", joinNames(down), cfg.Name))
	since := time.Now()
	if err := e.Start(ctx, down); err != nil {
		return fmt.Errorf("%s: start node(s) %s: %w; `lab plan` says what else is wrong, `lab destroy` then `lab up` makes the cluster anew", req.Addr, joinNames(down), err)
	}
	if err := e.ExportKubeConfig(cfg.Name, kubeconfig); err != nil {
		return fmt.Errorf("%s: export kubeconfig of kind cluster %s to %s: %w", req.Addr, cfg.Name, kubeconfig, err)
	}
	var nodes []string
	for _, n := range down {
		if n.Role != "external-load-balancer" {
			nodes = append(nodes, n.Name)
		}
	}
	progress(req.Env, req.Addr, fmt.Sprintf("Waiting up to %s for node(s) %s and kube-system to be ready again", cfg.Wait, strings.Join(nodes, ", ")))
	k.forget(kube.Target{Kubeconfig: kubeconfig, Context: "kind-" + cfg.Name})
	if err := k.ready(ctx, kubeconfig, "kind-"+cfg.Name, nodes, since, cfg.Wait); err != nil {
		return fmt.Errorf("%s: the node(s) of kind cluster %s started, but the cluster is %w; `kubectl get pods -n kube-system` shows what is wrong, `lab up` waits again", req.Addr, cfg.Name, err)
	}
	return nil
}

// portString renders a host port for diffs; 0 is kind's pick.
func portString(p int32) string {
	if p == 0 {
		return "picked by kind"
	}
	return strconv.Itoa(int(p))
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
	kube.Wrote()
	defer kube.Wrote()
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
		_ = os.Remove(creatingMark(req.StateDir, name))
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
