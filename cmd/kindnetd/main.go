// Command kindnetd is the pod network agent of lab's offline kind node
// image, in the role of kind's kindnetd (whose source the module proxy
// does not serve). It runs on every node as DaemonSet kindnet in
// kube-system and keeps two things true:
//   - the node's CNI configuration (/etc/cni/net.d) hands out addresses
//     from the node's spec.podCIDRs (ptp + host-local + portmap);
//   - the node has a route to every other node's pod CIDRs through that
//     node's InternalIP, so pods on different nodes reach each other.
//
// The nodes share one L2 network (kind's docker or podman network), so
// plain routes suffice: no overlay, no encapsulation.
package main

import (
	"bytes"
	"context"
	"fmt"
	"log"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	listersv1 "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
)

// resync bounds how long a route someone else deleted stays missing.
const resync = 30 * time.Second

func main() {
	log.SetFlags(log.LstdFlags | log.LUTC)
	if err := run(); err != nil {
		log.Fatalf("kindnetd: %v", err)
	}
}

func run() error {
	node := os.Getenv("NODE_NAME")
	if node == "" {
		return fmt.Errorf("NODE_NAME is not set: the DaemonSet must pass spec.nodeName in NODE_NAME")
	}
	cluster, err := parsePrefixes([]string{os.Getenv("POD_SUBNET")})
	if err != nil {
		return fmt.Errorf("POD_SUBNET: %v", err)
	}
	cfgDir := os.Getenv("CNI_CONFIG_DIR")
	if cfgDir == "" {
		cfgDir = "/etc/cni/net.d"
	}
	restCfg, err := restConfig()
	if err != nil {
		return err
	}
	cs, err := kubernetes.NewForConfig(restCfg)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	factory := informers.NewSharedInformerFactory(cs, 0)
	nodes := factory.Core().V1().Nodes()
	changed := make(chan struct{}, 1)
	poke := func(any) {
		select {
		case changed <- struct{}{}:
		default:
		}
	}
	if _, err := nodes.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    poke,
		UpdateFunc: func(_, n any) { poke(n) },
		DeleteFunc: poke,
	}); err != nil {
		return err
	}
	factory.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), nodes.Informer().HasSynced) {
		return fmt.Errorf("listing nodes did not finish: %v", ctx.Err())
	}
	log.Printf("kindnetd: node %s, pod network %v", node, cluster)
	a := agent{node: node, cluster: cluster, cfgPath: filepath.Join(cfgDir, ConfigFile), nodes: nodes.Lister()}
	tick := time.NewTicker(resync)
	defer tick.Stop()
	for {
		if err := a.reconcile(); err != nil {
			log.Printf("kindnetd: %v (retrying)", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-changed:
		case <-tick.C:
		}
	}
}

// restConfig is the in-cluster configuration, pointed at the API server
// kind names in CONTROL_PLANE_ENDPOINT when it does: that address works
// before kube-proxy has programmed the kubernetes Service.
func restConfig() (*rest.Config, error) {
	cfg, err := rest.InClusterConfig()
	if err != nil {
		return nil, fmt.Errorf("in-cluster configuration: %v", err)
	}
	if ep := os.Getenv("CONTROL_PLANE_ENDPOINT"); ep != "" {
		cfg.Host = "https://" + ep
	}
	return cfg, nil
}

type agent struct {
	node    string
	cluster []netip.Prefix
	cfgPath string
	nodes   listersv1.NodeLister
	written []byte
}

func (a *agent) reconcile() error {
	all, err := a.nodes.List(labels.Everything())
	if err != nil {
		return err
	}
	var self *corev1.Node
	for _, n := range all {
		if n.Name == a.node {
			self = n
		}
	}
	if self == nil {
		return fmt.Errorf("node %s is not registered yet", a.node)
	}
	if err := a.writeConfig(self); err != nil {
		return err
	}
	want := WantedRoutes(a.node, all)
	have, err := listRoutes()
	if err != nil {
		return err
	}
	write, remove := DiffRoutes(want, have)
	for _, r := range write {
		if err := replaceRoute(r); err != nil {
			return fmt.Errorf("route %s via %s (node %s): %v", r.Dst, r.Via, r.Node, err)
		}
		log.Printf("kindnetd: route %s via %s (node %s)", r.Dst, r.Via, r.Node)
	}
	for _, r := range remove {
		if err := deleteRoute(r); err != nil {
			return fmt.Errorf("remove route %s via %s: %v", r.Dst, r.Via, err)
		}
		log.Printf("kindnetd: removed route %s via %s", r.Dst, r.Via)
	}
	return nil
}

// writeConfig writes the node's CNI configuration when it changed. The
// file is renamed into place, so containerd never reads half of it.
func (a *agent) writeConfig(self *corev1.Node) error {
	cidrs := self.Spec.PodCIDRs
	if len(cidrs) == 0 && self.Spec.PodCIDR != "" {
		cidrs = []string{self.Spec.PodCIDR}
	}
	podCIDRs, err := parsePrefixes(cidrs)
	if err != nil {
		return fmt.Errorf("node %s spec.podCIDRs: %v", a.node, err)
	}
	mtu := 0
	if ip, ok := internalIP(self, true); ok {
		mtu = mtuOf(ip)
	}
	data, err := RenderConfig(podCIDRs, a.cluster, mtu)
	if err != nil {
		return fmt.Errorf("node %s: %v", a.node, err)
	}
	if bytes.Equal(data, a.written) {
		return nil
	}
	if old, err := os.ReadFile(a.cfgPath); err == nil && bytes.Equal(old, data) {
		a.written = data
		return nil
	}
	tmp := a.cfgPath + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp, a.cfgPath); err != nil {
		return err
	}
	a.written = data
	log.Printf("kindnetd: wrote %s for pod CIDRs %v", a.cfgPath, podCIDRs)
	return nil
}

// mtuOf is the MTU of the interface holding ip, or 0 (the plugin's
// default) when none does.
func mtuOf(ip netip.Addr) int {
	ifs, err := net.Interfaces()
	if err != nil {
		return 0
	}
	for _, i := range ifs {
		addrs, err := i.Addrs()
		if err != nil {
			continue
		}
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok {
				if got, ok := netip.AddrFromSlice(n.IP); ok && got.Unmap() == ip {
					return i.MTU
				}
			}
		}
	}
	return 0
}
