package main

import (
	"encoding/json"
	"net/netip"
	"strings"
	"testing"
)

func mustPrefixes(t *testing.T, s ...string) []netip.Prefix {
	t.Helper()
	p, err := parsePrefixes(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRenderConfigIPv4(t *testing.T) {
	data, err := RenderConfig(mustPrefixes(t, "10.244.1.0/24"), mustPrefixes(t, "10.244.0.0/16"), 1450)
	if err != nil {
		t.Fatal(err)
	}
	var got cniConfig
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, data)
	}
	if got.Name != "kindnet" || len(got.Plugins) != 2 || got.Plugins[0].Type != "ptp" || got.Plugins[1].Type != "portmap" {
		t.Fatalf("plugins = %+v", got.Plugins)
	}
	ptp := got.Plugins[0]
	if !ptp.IPMasq || ptp.MTU != 1450 || !got.Plugins[1].Capabilities["portMappings"] {
		t.Errorf("ptp ipMasq=%v mtu=%d, portmap capabilities %v", ptp.IPMasq, ptp.MTU, got.Plugins[1].Capabilities)
	}
	want := cniRange{Subnet: "10.244.0.0/16", RangeStart: "10.244.1.2", RangeEnd: "10.244.1.254", Gateway: "10.244.1.1"}
	if len(ptp.IPAM.Ranges) != 1 || len(ptp.IPAM.Ranges[0]) != 1 || ptp.IPAM.Ranges[0][0] != want {
		t.Errorf("ranges = %+v, want [[%+v]]", ptp.IPAM.Ranges, want)
	}
	if len(ptp.IPAM.Routes) != 1 || ptp.IPAM.Routes[0].Dst != "0.0.0.0/0" {
		t.Errorf("routes = %+v", ptp.IPAM.Routes)
	}
}

// Without the cluster's pod network (or with one that does not hold the
// node's CIDR) the range is the node's own CIDR: pods still work, their
// traffic to other nodes' pods is masqueraded.
func TestRenderConfigWithoutClusterCIDR(t *testing.T) {
	for _, cluster := range [][]netip.Prefix{nil, mustPrefixes(t, "10.100.0.0/16")} {
		data, err := RenderConfig(mustPrefixes(t, "10.244.3.0/24"), cluster, 0)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(data), `"subnet": "10.244.3.0/24"`) || strings.Contains(string(data), `"mtu"`) {
			t.Errorf("cluster %v:\n%s", cluster, data)
		}
	}
}

func TestRenderConfigDualStack(t *testing.T) {
	data, err := RenderConfig(mustPrefixes(t, "10.244.0.0/24,fd00:10:244:1::/64"), mustPrefixes(t, "10.244.0.0/16,fd00:10:244::/56"), 0)
	if err != nil {
		t.Fatal(err)
	}
	var got cniConfig
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	r := got.Plugins[0].IPAM.Ranges
	if len(r) != 2 {
		t.Fatalf("ranges = %+v", r)
	}
	want6 := cniRange{Subnet: "fd00:10:244::/56", RangeStart: "fd00:10:244:1::2", RangeEnd: "fd00:10:244:1:ffff:ffff:ffff:ffff", Gateway: "fd00:10:244:1::1"}
	if r[1][0] != want6 {
		t.Errorf("IPv6 range = %+v, want %+v", r[1][0], want6)
	}
	if routes := got.Plugins[0].IPAM.Routes; len(routes) != 2 || routes[1].Dst != "::/0" {
		t.Errorf("routes = %+v", routes)
	}
}

func TestRenderConfigRefusesWhatCannotWork(t *testing.T) {
	if _, err := RenderConfig(nil, nil, 0); err == nil || !strings.Contains(err.Error(), "no pod CIDR") {
		t.Errorf("no CIDR: err = %v", err)
	}
	if _, err := RenderConfig(mustPrefixes(t, "10.244.1.0/31"), nil, 0); err == nil || !strings.Contains(err.Error(), "too small") {
		t.Errorf("/31: err = %v", err)
	}
	if _, err := parsePrefixes([]string{"10.244.1.0/24,nonsense"}); err == nil || !strings.Contains(err.Error(), `"nonsense"`) {
		t.Errorf("parse: err = %v", err)
	}
}
