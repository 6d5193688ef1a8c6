package kind

import (
	"context"
	"fmt"
	"strings"

	"github.com/zclconf/go-cty/cty"

	"labs.dev/lab/lab/resource"
	"labs.dev/lab/providers/kind/host"
	"labs.dev/lab/providers/simulated"
)

// Diagnose runs every host check for the cluster a kind_cluster block
// describes, as lab doctor shows them: on each engine runtime auto may
// use, or on the one the block names. It changes nothing.
func (k *clusterKind) Diagnose(ctx context.Context, env resource.Env, addr resource.Addr, v cty.Value) (host.Report, error) {
	cfg, err := readConfig(v)
	if err != nil {
		return host.Report{}, fmt.Errorf("%s: %w", addr, err)
	}
	rep := host.Report{Resource: addr.String(), Runtime: cfg.Runtime}
	engines := []string{cfg.Runtime}
	if cfg.Runtime == Auto {
		engines = []string{Docker, Podman}
	}
	for _, b := range engines {
		if b == Simulated {
			break
		}
		fs, summary := k.diagnoseEngine(ctx, env, b, cfg)
		rep.Findings = append(rep.Findings, fs...)
		failed := host.Failed(fs)
		if len(failed) == 0 && rep.Uses == "" {
			rep.Uses, rep.Why = b, summary
		}
	}
	if rep.Uses != "" {
		return rep, nil
	}
	if cfg.Runtime != Auto && cfg.Runtime != Simulated {
		rep.Why = fmt.Sprintf("lab up cannot make the cluster on %s (runtime = %q): fix what is marked ✗, or use the simulated runtime (-var runtime=simulated with the shipped labs.hcl)", cfg.Runtime, cfg.Runtime)
		return rep, nil
	}
	f := host.Finding{Check: "simulated", Status: host.OK}
	if dir, err := simulated.BinDir(); err != nil {
		f.Status = host.Fail
		f.Message = "the simulated runtime's control-plane binaries are not built: " + firstLine(err)
		f.Fix = "make control-plane"
	} else {
		f.Message = "the simulated runtime's control-plane binaries are in " + dir
	}
	rep.Findings = append(rep.Findings, f)
	if f.Status == host.OK {
		rep.Uses = Simulated
		rep.Why = "the simulated runtime"
		if cfg.Runtime == Auto {
			rep.Why += ": neither docker nor podman can make the cluster (see ✗ above)"
		}
	}
	return rep, nil
}

// diagnoseEngine checks one engine for the cluster: as plan would for a
// create, or, when the cluster is there already, its nodes and what a
// start needs. summary says what lab up would do there.
func (k *clusterKind) diagnoseEngine(ctx context.Context, env resource.Env, backend string, cfg config) ([]host.Finding, string) {
	r := k.checkEngine(ctx, backend)
	if len(r.failed()) > 0 {
		return r.findings, ""
	}
	names, err := k.engine(backend, env.Log).List()
	if err != nil {
		return append(r.findings, host.Finding{Check: "cluster", Engine: backend, Status: host.Fail,
			Message: "kind cannot list its clusters on " + backend + ": " + firstLine(err), Fix: backend + " ps -a shows what " + backend + " says"}), ""
	}
	if !contains(names, cfg.Name) || interrupted(env.StateDir, cfg.Name) {
		c := k.checkCreate(ctx, backend, cfg, !contains(names, cfg.Name))
		return c.findings, "kind on " + backend + " with " + c.image.Describe()
	}
	h := k.host
	r.findings = append(r.findings, h.CheckCgroup(r.engine), h.CheckDisk(r.engine), h.CheckInotify())
	nodes, err := k.engine(backend, env.Log).Nodes(ctx, cfg.Name)
	if err != nil {
		return append(r.findings, host.Finding{Check: "cluster", Engine: backend, Status: host.Fail,
			Message: fmt.Sprintf("the node containers of kind cluster %s cannot be inspected: %s", cfg.Name, firstLine(err)), Fix: backend + " ps -a"}), ""
	}
	health := healthOf(cfg.Name, nil, nodes)
	f := host.Finding{Check: "cluster", Engine: backend}
	switch down := health.down(); {
	case len(health.broken) > 0:
		f.Status = host.Fail
		f.Message = fmt.Sprintf("kind cluster %s on %s cannot come back: %s", cfg.Name, backend, strings.Join(health.broken, "; "))
		f.Fix = "lab up replaces a cluster lab made; otherwise kind delete cluster --name " + cfg.Name
	case len(down) > 0:
		f.Status = host.Note
		f.Message = fmt.Sprintf("kind cluster %s on %s has stopped node(s) %s: lab up starts them", cfg.Name, backend, joinNames(down))
		r.findings = append(r.findings, f)
		r.findings = append(r.findings, h.CheckModules(backend))
		r.findings = append(r.findings, h.CheckPorts(backend, portsOf(down))...)
		return r.findings, "kind on " + backend + ", starting the stopped node(s)"
	default:
		f.Status = host.OK
		f.Message = fmt.Sprintf("kind cluster %s is running on %s (%d node(s))", cfg.Name, backend, len(nodes))
	}
	r.findings = append(r.findings, f)
	return r.findings, "kind on " + backend + ", the cluster that is there"
}

func firstLine(err error) string {
	s, _, _ := strings.Cut(strings.TrimSpace(err.Error()), "\n")
	return s
}
