package main

import (
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
)

// routeProtocol marks the routes this agent writes (rtnetlink protocol
// 108, unused by the well-known routing daemons), so it removes only its
// own.
const routeProtocol = netlink.RouteProtocol(108)

func listRoutes() ([]Route, error) {
	rs, err := netlink.RouteListFiltered(netlink.FAMILY_ALL, &netlink.Route{Protocol: routeProtocol}, netlink.RT_FILTER_PROTOCOL)
	if err != nil {
		return nil, err
	}
	var out []Route
	for _, r := range rs {
		if r.Dst == nil {
			continue
		}
		dst, ok := netip.AddrFromSlice(r.Dst.IP)
		via, ok2 := netip.AddrFromSlice(r.Gw)
		if !ok || !ok2 {
			continue
		}
		bits, _ := r.Dst.Mask.Size()
		out = append(out, Route{Dst: netip.PrefixFrom(dst.Unmap(), bits), Via: via.Unmap()})
	}
	return out, nil
}

func toNetlink(r Route) *netlink.Route {
	return &netlink.Route{
		Dst:      &net.IPNet{IP: r.Dst.Addr().AsSlice(), Mask: net.CIDRMask(r.Dst.Bits(), r.Dst.Addr().BitLen())},
		Gw:       r.Via.AsSlice(),
		Protocol: routeProtocol,
	}
}

func replaceRoute(r Route) error { return netlink.RouteReplace(toNetlink(r)) }
func deleteRoute(r Route) error  { return netlink.RouteDel(toNetlink(r)) }
