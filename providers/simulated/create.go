package simulated

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// Create makes the cluster usable: it creates it, starts a stopped one on
// its data (only the processes that are down, unless etcd or the API
// server is among them), or returns the running one. Either way the
// kubeconfig context kind-<Name> is merged and made current.
//
// Like kind's create, it looks first (inspect, which changes nothing),
// then runs ordered, named steps chosen from what it found (plan). A new
// cluster whose creation fails is removed, but for its logs, unless
// Options.Retain.
func Create(ctx context.Context, o Options) (*Cluster, error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	bins, err := binPaths(serverBinaries)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, o.Wait)
	defer cancel()
	unlock, err := lockDir(o.Dir)
	if err != nil {
		return nil, err
	}
	defer unlock()

	began := time.Now()
	c, err := inspect(o, bins)
	if err != nil {
		return nil, err
	}
	switch {
	case c.found.Fresh:
		o.Progress(fmt.Sprintf("Creating simulated cluster %q (%s on 127.0.0.1)", o.Name, strings.Join(components, ", ")))
	case len(c.found.Down) > 0:
		o.Progress(fmt.Sprintf("Restarting simulated cluster %q on its existing data (down: %s)", o.Name, strings.Join(c.found.Down, ", ")))
	}
	for _, s := range c.plan() {
		if s.say != nil {
			o.Progress(strings.ToUpper(s.name[:1]) + s.name[1:] + s.say())
		}
		stepBegan := time.Now()
		if err := s.run(ctx); err != nil {
			return nil, c.fail(s, err)
		}
		o.Log.Debug("step done", "step", s.name, "took", time.Since(stepBegan))
	}
	o.Log.Debug("cluster usable", "name", o.Name, "after", time.Since(began))
	return c.cluster(), nil
}

// situation is what inspect found in the cluster's directory; it alone
// decides which steps run.
type situation struct {
	// Fresh: no record, so a new cluster.
	Fresh bool
	// Down lists the components not running, in start order (all of
	// them when Fresh).
	Down []string
	// Ready: the record says the add-ons were applied and the cluster
	// was usable.
	Ready bool
	// AddNodes: more nodes are asked for than the record has.
	AddNodes bool
	// MovedFrom is the kubeconfig the context was merged into before,
	// when that is not Options.Kubeconfig.
	MovedFrom string
	// ContextCurrent: the kubeconfig's kind-<name> context points at
	// the recorded API server, which runs.
	ContextCurrent bool
}

// restartsAll: etcd and the API server carry the ports, so when either
// is down everything (re)starts and the others connect to the new ones.
func (s situation) restartsAll() bool {
	return s.Fresh || slices.Contains(s.Down, "etcd") || slices.Contains(s.Down, "kube-apiserver")
}

// creation is what Create's steps share, as kind's ActionContext.
type creation struct {
	o       Options
	bins    map[string]string
	pki     pki
	rec     *record
	found   situation
	starter starter
	// procs holds each component's process once found running or
	// started; nil for one down (or stopped to restart).
	procs map[string]*proc
	// Set by the step that waits for the API server.
	cs  kubernetes.Interface
	dyn dynamic.Interface
}

// A step is one named part of Create, as kind's create actions.
type step struct {
	// name says what the step does; it starts the step's progress line
	// and its errors.
	name string
	// say gives the rest of the progress line; nil for steps that take
	// milliseconds, which print nothing.
	say func() string
	run func(ctx context.Context) error
}

// plan is the steps for what inspect found, in order.
func (c *creation) plan() []step {
	s := c.found
	var steps []step
	if s.Fresh {
		steps = append(steps,
			step{name: "ending processes left from a removed cluster", run: c.endOrphans},
			step{name: "generating certificates", run: c.generateCertificates})
	}
	if s.MovedFrom != "" {
		steps = append(steps, step{name: "removing the context from the old kubeconfig", run: c.removeOldContext})
	}
	if len(s.Down) > 0 {
		if s.restartsAll() {
			if !s.Fresh && len(s.Down) < len(components) {
				steps = append(steps, step{name: "stopping the components still running", say: c.sayStopping, run: c.stopTheRest})
			}
			steps = append(steps, step{name: "choosing ports", run: c.choosePorts})
		}
		steps = append(steps,
			step{name: "writing configuration", run: c.writeConfiguration},
			step{name: "starting processes", say: c.sayStarting, run: c.startProcesses})
	}
	steps = append(steps, step{name: "waiting for the API server", say: c.sayEndpoint, run: c.waitForAPIServer})
	if !s.Ready || s.AddNodes {
		steps = append(steps, step{name: "installing kind's kube-system add-ons", say: c.sayAddons, run: c.installAddons})
	}
	steps = append(steps,
		step{name: "waiting for node(s) Ready", say: c.sayWaits, run: c.waitUsable},
		step{name: "recording the cluster ready", run: c.recordReady})
	if s.MovedFrom != "" || len(s.Down) > 0 || !s.ContextCurrent {
		steps = append(steps, step{name: "merging the kubeconfig context", run: c.mergeContext})
	}
	return steps
}

// inspect reads the cluster's directory and the kubeconfig and refuses
// what must not go on; it changes nothing.
func inspect(o Options, bins map[string]string) (*creation, error) {
	c := &creation{
		o:       o,
		bins:    bins,
		pki:     pki{dir: filepath.Join(o.Dir, "pki")},
		starter: starter{dir: o.Dir},
		procs:   map[string]*proc{},
	}
	r, err := readRecord(o.Dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		if err := runningElsewhere(o, ""); err != nil {
			return nil, err
		}
		r = &record{Name: o.Name, Nodes: o.Nodes, Kubeconfig: o.Kubeconfig, Created: time.Now().UTC()}
		c.found = situation{Fresh: true, Down: slices.Clone(components)}
	case err != nil:
		return nil, err
	case r.Name != o.Name:
		return nil, fmt.Errorf("directory %s holds simulated cluster %q, not %q: delete that one first or use another directory", o.Dir, r.Name, o.Name)
	case !c.pki.exists():
		return nil, fmt.Errorf("simulated cluster %s: certificates missing in %s (the directory was damaged; delete it and create again)", o.Name, c.pki.dir)
	default:
		c.found = situation{Ready: r.Ready, AddNodes: o.Nodes > r.Nodes}
		if r.Kubeconfig != o.Kubeconfig {
			c.found.MovedFrom = r.Kubeconfig
		}
		for _, name := range components {
			if p, ok := runningProc(o.Dir, name); ok {
				c.procs[name] = p
			} else {
				c.found.Down = append(c.found.Down, name)
			}
		}
		if slices.Contains(c.found.Down, "kube-apiserver") && r.Ports.APIServer != 0 {
			if err := runningElsewhere(o, endpoint(r.Ports.APIServer)); err != nil {
				return nil, err
			}
		}
		c.found.ContextCurrent = len(c.found.Down) == 0 && kubeconfigHas(o.Kubeconfig, "kind-"+o.Name, endpoint(r.Ports.APIServer))
	}
	r.Kubeconfig = o.Kubeconfig
	r.Binaries = filepath.Dir(bins["etcd"])
	c.rec = r
	return c, nil
}

func (c *creation) cluster() *Cluster {
	ep := endpoint(c.rec.Ports.APIServer)
	cfg := &rest.Config{
		Host: ep,
		TLSClientConfig: rest.TLSClientConfig{
			CAFile:   c.pki.path("ca.crt"),
			CertFile: c.pki.path("admin.crt"),
			KeyFile:  c.pki.path("admin.key"),
		},
		QPS:       -1,
		Burst:     -1,
		UserAgent: "lab-simulated",
	}
	return &Cluster{Name: c.rec.Name, Dir: c.o.Dir, Kubeconfig: c.o.Kubeconfig, Context: "kind-" + c.rec.Name, Endpoint: ep, Config: cfg}
}

// fail names the step that failed and, for a new cluster that never
// became usable, removes it as kind does, unless Options.Retain. A
// cluster restarted on its data keeps its data and whatever runs: the
// next Create takes it from there.
func (c *creation) fail(s step, err error) error {
	err = fmt.Errorf("simulated cluster %s: %s: %w", c.o.Name, s.name, err)
	logs := filepath.Join(c.o.Dir, "logs")
	if !c.found.Fresh || c.rec.Ready || c.o.Retain {
		if _, serr := os.Stat(logs); serr == nil {
			return fmt.Errorf("%w (logs: %s)", err, logs)
		}
		return err
	}
	if rerr := c.removeUnfinished(); rerr != nil {
		return fmt.Errorf("%w; removing the unfinished cluster failed too: %v (stop its processes and delete %s)", err, rerr, c.o.Dir)
	}
	if _, serr := os.Stat(logs); serr == nil {
		return fmt.Errorf("%w (the unfinished cluster was removed; its logs are in %s)", err, logs)
	}
	return fmt.Errorf("%w (the unfinished cluster was removed)", err)
}

// removeUnfinished stops the processes this creation started and removes
// the cluster's files but its logs (the error points at them) and the
// lock (held by Create).
func (c *creation) removeUnfinished() error {
	// The creation's context may be what ended; cleaning up needs its own.
	ctx, cancel := context.WithTimeout(context.Background(), stopGrace+10*time.Second)
	defer cancel()
	if err := stopProcs(ctx, c.o.Dir, c.procs); err != nil {
		return err
	}
	entries, err := os.ReadDir(c.o.Dir)
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range entries {
		if e.Name() == "logs" || e.Name() == ".lock" {
			continue
		}
		errs = append(errs, os.RemoveAll(filepath.Join(c.o.Dir, e.Name())))
	}
	return errors.Join(errs...)
}
