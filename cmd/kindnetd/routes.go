package main

import (
	"net/netip"
	"sort"

	corev1 "k8s.io/api/core/v1"
)

// Route sends one node's pods' traffic to that node.
type Route struct {
	Dst  netip.Prefix // the node's pod CIDR
	Via  netip.Addr   // the node's address of the same family
	Node string
}

// WantedRoutes is a route to every other node's pod CIDRs through its
// InternalIP of the same family. A node without a pod CIDR or without such
// an address gets none yet: it is routed once the node controller and
// kubelet have filled them in.
func WantedRoutes(self string, nodes []*corev1.Node) []Route {
	var out []Route
	for _, n := range nodes {
		if n.Name == self {
			continue
		}
		cidrs := n.Spec.PodCIDRs
		if len(cidrs) == 0 && n.Spec.PodCIDR != "" {
			cidrs = []string{n.Spec.PodCIDR}
		}
		prefixes, err := parsePrefixes(cidrs)
		if err != nil {
			continue
		}
		for _, p := range prefixes {
			if via, ok := internalIP(n, p.Addr().Is4()); ok {
				out = append(out, Route{Dst: p, Via: via, Node: n.Name})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Dst.String() < out[j].Dst.String() })
	return out
}

func internalIP(n *corev1.Node, v4 bool) (netip.Addr, bool) {
	for _, a := range n.Status.Addresses {
		if a.Type != corev1.NodeInternalIP {
			continue
		}
		ip, err := netip.ParseAddr(a.Address)
		if err == nil && ip.Is4() == v4 {
			return ip, true
		}
	}
	return netip.Addr{}, false
}

// DiffRoutes says which routes to write (missing, or through another
// node) and which of the routes this agent wrote before to remove.
func DiffRoutes(want, have []Route) (write, remove []Route) {
	wanted := map[netip.Prefix]Route{}
	for _, r := range want {
		wanted[r.Dst] = r
	}
	existing := map[netip.Prefix]Route{}
	for _, r := range have {
		existing[r.Dst] = r
		if _, ok := wanted[r.Dst]; !ok {
			remove = append(remove, r)
		}
	}
	for _, r := range want {
		if h, ok := existing[r.Dst]; !ok || h.Via != r.Via {
			write = append(write, r)
		}
	}
	return write, remove
}
