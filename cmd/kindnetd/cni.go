package main

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"
)

// ConfigFile is where containerd's CRI plugin reads the pod network
// configuration: the first file of /etc/cni/net.d, which the DaemonSet
// mounts.
const ConfigFile = "10-kindnet.conflist"

// parsePrefixes reads CIDRs as a node's spec.podCIDRs or kind's POD_SUBNET
// ("10.244.0.0/16" or "10.244.0.0/16,fd00:10:244::/56") give them.
func parsePrefixes(list []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range list {
		for _, f := range strings.Split(s, ",") {
			f = strings.TrimSpace(f)
			if f == "" {
				continue
			}
			p, err := netip.ParsePrefix(f)
			if err != nil {
				return nil, fmt.Errorf("%q is not a CIDR: %v", f, err)
			}
			out = append(out, p.Masked())
		}
	}
	return out, nil
}

// cniRange is one host-local allocation range.
type cniRange struct {
	Subnet     string `json:"subnet"`
	RangeStart string `json:"rangeStart,omitempty"`
	RangeEnd   string `json:"rangeEnd,omitempty"`
	Gateway    string `json:"gateway,omitempty"`
}

type cniRoute struct {
	Dst string `json:"dst"`
}

type cniIPAM struct {
	Type    string       `json:"type"`
	DataDir string       `json:"dataDir"`
	Routes  []cniRoute   `json:"routes"`
	Ranges  [][]cniRange `json:"ranges"`
}

type cniPlugin struct {
	Type         string          `json:"type"`
	IPMasq       bool            `json:"ipMasq,omitempty"`
	MTU          int             `json:"mtu,omitempty"`
	IPAM         *cniIPAM        `json:"ipam,omitempty"`
	Capabilities map[string]bool `json:"capabilities,omitempty"`
}

type cniConfig struct {
	CNIVersion string      `json:"cniVersion"`
	Name       string      `json:"name"`
	Plugins    []cniPlugin `json:"plugins"`
}

// RenderConfig is the CNI configuration of a node whose pods take their
// addresses from podCIDRs: ptp links each pod to the node, host-local hands
// out the addresses, portmap serves hostPort. Each range's subnet is the
// cluster's pod network of that family (clusterCIDRs) when it contains the
// node's CIDR, so a pod's own netmask covers every pod: ipMasq then
// masquerades only traffic that leaves the pod network (a pod reaching the
// internet, or DNS forwarded upstream), and pods reach pods on other nodes
// with their own addresses. Allocation stays within the node's CIDR; its
// first address is the gateway on the node's side of every pod's link.
func RenderConfig(podCIDRs, clusterCIDRs []netip.Prefix, mtu int) ([]byte, error) {
	if len(podCIDRs) == 0 {
		return nil, fmt.Errorf("the node has no pod CIDR yet")
	}
	ipam := &cniIPAM{Type: "host-local", DataDir: "/run/cni-ipam-state"}
	for _, pc := range podCIDRs {
		first := pc.Addr().Next()
		last := lastAddr(pc)
		if pc.Addr().Is4() {
			last = last.Prev() // the broadcast address
		}
		start := first.Next()
		if !pc.Contains(start) || !start.Less(last.Next()) {
			return nil, fmt.Errorf("pod CIDR %s is too small for a gateway and pods", pc)
		}
		subnet := pc
		for _, cc := range clusterCIDRs {
			if cc.Addr().Is4() == pc.Addr().Is4() && cc.Bits() <= pc.Bits() && cc.Contains(pc.Addr()) {
				subnet = cc
				break
			}
		}
		ipam.Ranges = append(ipam.Ranges, []cniRange{{
			Subnet:     subnet.String(),
			RangeStart: start.String(),
			RangeEnd:   last.String(),
			Gateway:    first.String(),
		}})
		def := "0.0.0.0/0"
		if pc.Addr().Is6() {
			def = "::/0"
		}
		ipam.Routes = append(ipam.Routes, cniRoute{Dst: def})
	}
	cfg := cniConfig{
		CNIVersion: "0.4.0",
		Name:       "kindnet",
		Plugins: []cniPlugin{
			{Type: "ptp", IPMasq: true, MTU: mtu, IPAM: ipam},
			{Type: "portmap", Capabilities: map[string]bool{"portMappings": true}},
		},
	}
	b, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// lastAddr is the highest address of p.
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().AsSlice()
	for i := range b {
		keep := p.Bits() - i*8
		switch {
		case keep >= 8:
		case keep <= 0:
			b[i] = 0xff
		default:
			b[i] |= 0xff >> keep
		}
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}
