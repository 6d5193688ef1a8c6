package kind

import (
	"context"
	"fmt"
	"strings"

	"labs.dev/lab/lab/resource"
	"labs.dev/lab/providers/kind/host"
)

// report is what the host checks found for one engine.
type report struct {
	engine   host.Engine
	image    host.Image
	cgroupV1 bool
	findings []host.Finding
}

// failed is the findings that stop the cluster from being made.
func (r report) failed() []host.Finding { return host.Failed(r.findings) }

// err says every failure, one line each, and the ways out (alternative
// is one more, or ""); nil when nothing fails.
func (r report) err(addr resource.Addr, backend, doing, alternative string) error {
	failed := r.failed()
	if len(failed) == 0 {
		return nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s: cannot %s on %s; nothing was changed:", addr, doing, backend)
	for _, f := range failed {
		b.WriteString("\n  ✗ " + f.String())
	}
	if alternative != "" {
		b.WriteString("\nOr " + alternative + ".")
	}
	b.WriteString("\nOr use the simulated runtime: runtime = \"simulated\" (with the shipped labs.hcl: -var runtime=simulated).")
	return fmt.Errorf("%s", b.String())
}

// tell reports the notes and warnings as progress lines: lab goes on,
// and says what it does about them.
func (r report) tell(env resource.Env, addr resource.Addr) {
	for _, f := range r.findings {
		switch f.Status {
		case host.Note:
			progress(env, addr, f.Message)
		case host.Warn:
			progress(env, addr, f.String())
		}
	}
}

// apiPort is the host port of the API server when the lab file fixes it.
func (c config) hostPorts() []host.Port {
	var ps []host.Port
	for i, p := range c.Ports {
		ps = append(ps, host.Port{Address: p.ListenAddress, Port: p.HostPort, Protocol: p.Protocol, What: fmt.Sprintf("extra_port_mappings[%d].host_port", i)})
	}
	if c.APIServerPort != 0 {
		ps = append(ps, host.Port{Address: "127.0.0.1", Port: c.APIServerPort, Protocol: "TCP", What: "api_server_port"})
	}
	return ps
}

// checkEngine runs the engine check alone; the report holds the rest
// only when the engine answers.
func (k *clusterKind) checkEngine(ctx context.Context, backend string) report {
	e, f := k.host.CheckEngine(ctx, backend)
	return report{engine: e, findings: []host.Finding{f}}
}

// checkCreate runs every check that making a new cluster on backend
// needs: the engine, a node image, the host, and the ports. ports is
// false when the ports are held by what lab will delete first.
func (k *clusterKind) checkCreate(ctx context.Context, backend string, cfg config, ports bool) report {
	r := k.checkEngine(ctx, backend)
	if len(r.failed()) > 0 {
		return r
	}
	h := k.host
	img, f := h.ResolveImage(ctx, backend, cfg.NodeImage)
	r.image = img
	r.cgroupV1 = h.CgroupV1(r.engine)
	r.findings = append(r.findings, f, h.CheckCgroup(r.engine), h.CheckModules(backend), h.CheckDisk(r.engine), h.CheckInotify())
	if ports {
		r.findings = append(r.findings, h.CheckPorts(backend, cfg.hostPorts())...)
	}
	return r
}

// checkStart runs the checks that starting stopped nodes needs: the
// engine, /lib/modules, and the ports the nodes publish.
func (k *clusterKind) checkStart(ctx context.Context, backend string, down []node) report {
	r := k.checkEngine(ctx, backend)
	if len(r.failed()) > 0 {
		return r
	}
	r.findings = append(r.findings, k.host.CheckModules(backend))
	r.findings = append(r.findings, k.host.CheckPorts(backend, portsOf(down))...)
	return r
}

// backendFor resolves runtime to the backend that will run the cluster.
// auto picks docker, then podman, when it answers and a cluster can be
// made there (a node image can be had, nothing on the host fails), or
// one of that name is there already; else the simulated runtime. It says
// which, and why, in one line. The report is the chosen engine's checks,
// when it ran them.
func (k *clusterKind) backendFor(ctx context.Context, env resource.Env, addr resource.Addr, cfg config) (string, *report) {
	if cfg.Runtime != Auto {
		return cfg.Runtime, nil
	}
	var why []string
	for _, b := range []string{Docker, Podman} {
		r := k.checkEngine(ctx, b)
		if failed := r.failed(); len(failed) > 0 {
			why = append(why, failed[0].Message)
			continue
		}
		if names, err := k.engine(b, env.Log).List(); err == nil && contains(names, cfg.Name) {
			progress(env, addr, fmt.Sprintf("runtime auto: kind cluster %q is on %s; using it", cfg.Name, b))
			return b, nil
		}
		r = k.checkCreate(ctx, b, cfg, true)
		if failed := r.failed(); len(failed) > 0 {
			why = append(why, b+" answers, but "+failed[0].String())
			continue
		}
		progress(env, addr, fmt.Sprintf("runtime auto: %s answers; using kind on %s with %s", b, b, r.image.Describe()))
		return b, &r
	}
	progress(env, addr, "runtime auto: using the simulated runtime: "+strings.Join(why, "; "))
	return Simulated, nil
}
