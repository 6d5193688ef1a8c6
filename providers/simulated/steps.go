package simulated

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
)

// The steps of Create, in the order plan runs them. Each does one thing
// and reads or writes only the creation.

// endOrphans: a cluster of this directory whose record is gone cannot
// be used again (its data went with it); end what still runs of it.
func (c *creation) endOrphans(context.Context) error {
	reapOrphans(c.o.Dir, components)
	return nil
}

func (c *creation) generateCertificates(context.Context) error {
	return c.pki.generate()
}

// removeOldContext takes kind-<name> out of the kubeconfig the cluster
// was merged into before; mergeContext writes it into the new one.
func (c *creation) removeOldContext(context.Context) error {
	// The old file may be gone or broken; that is no reason to fail.
	_ = removeKubeconfig(c.found.MovedFrom, "kind-"+c.o.Name)
	return nil
}

func (c *creation) running() []string {
	var up []string
	for _, name := range components {
		if c.procs[name] != nil {
			up = append(up, name)
		}
	}
	return up
}

func (c *creation) sayStopping() string {
	return ": " + strings.Join(c.running(), ", ") + " (they reconnect to the restarted etcd and API server)"
}

// stopTheRest stops the components still running when etcd or the API
// server is down, so all start again on the ports choosePorts settles.
func (c *creation) stopTheRest(ctx context.Context) error {
	for _, name := range c.running() {
		if err := stop(ctx, c.o.Dir, name); err != nil {
			return err
		}
		c.procs[name] = nil
	}
	return nil
}

// choosePorts keeps the recorded ports that are still free and picks new
// ones for the others (after a reboot any program may hold them).
func (c *creation) choosePorts(context.Context) error {
	return c.rec.Ports.choose()
}

// writeConfiguration writes the record and the components' kubeconfigs,
// which carry the API server's port.
func (c *creation) writeConfiguration(context.Context) error {
	if err := writeRecord(c.o.Dir, c.rec); err != nil {
		return err
	}
	return writeConfigs(c.o.Dir, c.pki, c.rec)
}

// down is the components with no process, in start order.
func (c *creation) down() []string {
	var down []string
	for _, name := range components {
		if c.procs[name] == nil {
			down = append(down, name)
		}
	}
	return down
}

func (c *creation) sayStarting() string {
	return ": " + strings.Join(c.down(), ", ") + " (logs in " + filepath.Join(c.o.Dir, "logs") + ")"
}

// startProcesses starts every component that has no process, at once:
// none waits for another, each retries its connections.
func (c *creation) startProcesses(context.Context) error {
	for _, name := range c.down() {
		p, err := c.starter.start(name, c.bins[name], args(name, c.o.Dir, c.pki, c.rec))
		if err != nil {
			return err
		}
		c.o.Log.Debug("started", "component", name, "pid", p.pid)
		c.procs[name] = p
	}
	return nil
}

func (c *creation) sayEndpoint() string { return " at " + endpoint(c.rec.Ports.APIServer) }

// waitForAPIServer waits for /readyz, failing at once when a component
// exits meanwhile.
func (c *creation) waitForAPIServer(ctx context.Context) error {
	cfg := c.cluster().Config
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return err
	}
	c.cs, c.dyn = cs, dyn
	return poll(ctx, "the API server's /readyz", func() (bool, error) {
		if err := exited(c.o.Dir, c.procs); err != nil {
			return false, err
		}
		_, err := cs.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		return err == nil, nil
	})
}

func (c *creation) sayAddons() string { return " (kindnet, kube-proxy, coredns) and node(s)" }

// installAddons applies kind's kube-system add-ons and the nodes when
// the cluster never got them, or the nodes added since; the static-pod
// lookalikes only the first time.
func (c *creation) installAddons(ctx context.Context) error {
	data := newAddonData(c.o.Name, max(c.rec.Nodes, c.o.Nodes))
	objs, err := renderAddons("[0-2]", data)
	if err != nil {
		return err
	}
	if err := applyAll(ctx, c.o.Log, c.dyn, objs); err != nil {
		return err
	}
	for _, n := range data.Nodes {
		if err := applyNodeStatus(ctx, c.dyn, n.Name); err != nil {
			return err
		}
	}
	c.rec.Nodes = max(c.rec.Nodes, c.o.Nodes)
	if c.rec.Ready {
		return nil
	}
	// Static-pod lookalikes name their node as owner, so they need its UID.
	node, err := c.cs.CoreV1().Nodes().Get(ctx, data.ControlPlane, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("node %s: %w", data.ControlPlane, err)
	}
	data.ControlPlaneUID = string(node.UID)
	objs, err = renderAddons("30-", data)
	if err != nil {
		return err
	}
	return applyAll(ctx, c.o.Log, c.dyn, objs)
}

func (c *creation) sayWaits() string {
	return ", the default ServiceAccount and kube-system pods Running"
}

// waitUsable waits for the nodes Ready, the default ServiceAccount and
// the kube-system workloads, together; the first failure ends the others.
func (c *creation) waitUsable(ctx context.Context) error {
	cs := c.cs
	data := newAddonData(c.o.Name, max(c.rec.Nodes, c.o.Nodes))
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	waits := []struct {
		what string
		f    func() (bool, error)
	}{
		{"node(s) Ready", func() (bool, error) {
			for _, n := range data.Nodes {
				node, err := cs.CoreV1().Nodes().Get(wctx, n.Name, metav1.GetOptions{})
				if err != nil || !nodeReady(node) {
					return false, nil
				}
			}
			return true, nil
		}},
		{"ServiceAccount default/default (created by kube-controller-manager)", func() (bool, error) {
			if err := exited(c.o.Dir, c.procs); err != nil {
				return false, err
			}
			_, err := cs.CoreV1().ServiceAccounts("default").Get(wctx, "default", metav1.GetOptions{})
			return err == nil, nil
		}},
		{"kube-system pods Running", func() (bool, error) {
			return systemReady(wctx, cs, len(data.Nodes))
		}},
	}
	errs := make([]error, len(waits))
	var wg sync.WaitGroup
	for i, w := range waits {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if errs[i] = poll(wctx, w.what, w.f); errs[i] != nil {
				cancel()
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil && !errors.Is(err, context.Canceled) {
			return err
		}
	}
	return errors.Join(errs...)
}

// recordReady records the cluster usable (and the nodes it has): from
// now on a Create never applies the add-ons again, and a failure no
// longer removes it.
func (c *creation) recordReady(context.Context) error {
	c.rec.Ready = true
	return writeRecord(c.o.Dir, c.rec)
}

// mergeContext merges kind-<name> into the kubeconfig and makes it
// current, as kind does.
func (c *creation) mergeContext(context.Context) error {
	cl := c.cluster()
	return mergeKubeconfig(c.o.Kubeconfig, cl.Context, cl.Endpoint, c.pki)
}

func nodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// systemReady: coredns available, both DaemonSets on every node, and the
// four control-plane pods Running.
func systemReady(ctx context.Context, cs kubernetes.Interface, nodes int) (bool, error) {
	d, err := cs.AppsV1().Deployments("kube-system").Get(ctx, "coredns", metav1.GetOptions{})
	if err != nil || d.Status.AvailableReplicas < 2 || d.Status.UpdatedReplicas < 2 {
		return false, nil
	}
	for _, name := range []string{"kindnet", "kube-proxy"} {
		ds, err := cs.AppsV1().DaemonSets("kube-system").Get(ctx, name, metav1.GetOptions{})
		if err != nil || ds.Status.NumberReady < int32(nodes) || ds.Status.DesiredNumberScheduled < int32(nodes) {
			return false, nil
		}
	}
	pods, err := cs.CoreV1().Pods("kube-system").List(ctx, metav1.ListOptions{LabelSelector: "tier=control-plane"})
	if err != nil || len(pods.Items) < 4 {
		return false, nil
	}
	for _, p := range pods.Items {
		if p.Status.Phase != corev1.PodRunning {
			return false, nil
		}
	}
	return true, nil
}

// poll calls f every 100 ms until it is true or ctx ends.
func poll(ctx context.Context, what string, f func() (bool, error)) error {
	for {
		ok, err := f()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("timed out waiting for %s: %w", what, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// exited reports a component that died while the cluster was starting,
// with the end of its log, so a bad start fails at once rather than at
// the end of the wait. procs holds each component's process: started by
// this run, found running, or nil when it was neither.
func exited(dir string, procs map[string]*proc) error {
	for _, c := range components {
		p := procs[c]
		if p != nil && !p.exited(dir) {
			continue
		}
		how := ""
		if p != nil && p.err != nil {
			how = " (" + p.err.Error() + ")"
		}
		return fmt.Errorf("%s exited during start%s; the end of %s:\n%s", c, how, logFile(dir, c), tail(logFile(dir, c), 15))
	}
	return nil
}

func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
