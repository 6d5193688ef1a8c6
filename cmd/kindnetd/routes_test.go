package main

import (
	"net/netip"
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func node(name string, podCIDRs []string, addrs ...corev1.NodeAddress) *corev1.Node {
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       corev1.NodeSpec{PodCIDRs: podCIDRs},
		Status:     corev1.NodeStatus{Addresses: addrs},
	}
}

func internal(ip string) corev1.NodeAddress {
	return corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: ip}
}

func route(dst, via, node string) Route {
	return Route{Dst: netip.MustParsePrefix(dst), Via: netip.MustParseAddr(via), Node: node}
}

func TestWantedRoutes(t *testing.T) {
	nodes := []*corev1.Node{
		node("kind-control-plane", []string{"10.244.0.0/24"}, internal("172.18.0.2")),
		node("kind-worker", []string{"10.244.1.0/24", "fd00:10:244:1::/64"},
			corev1.NodeAddress{Type: corev1.NodeHostName, Address: "kind-worker"},
			internal("172.18.0.3"), internal("fc00:f853:ccd:e793::3")),
		// Not routable yet: no pod CIDR, or no InternalIP of the family.
		node("kind-worker2", nil, internal("172.18.0.4")),
		node("kind-worker3", []string{"10.244.3.0/24"}, corev1.NodeAddress{Type: corev1.NodeExternalIP, Address: "1.2.3.4"}),
	}
	// The legacy single-stack field counts when podCIDRs is empty.
	legacy := node("kind-worker4", nil, internal("172.18.0.6"))
	legacy.Spec.PodCIDR = "10.244.4.0/24"
	nodes = append(nodes, legacy)

	got := WantedRoutes("kind-control-plane", nodes)
	want := []Route{
		route("10.244.1.0/24", "172.18.0.3", "kind-worker"),
		route("10.244.4.0/24", "172.18.0.6", "kind-worker4"),
		route("fd00:10:244:1::/64", "fc00:f853:ccd:e793::3", "kind-worker"),
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("WantedRoutes =\n%v\nwant\n%v", got, want)
	}
	if got := WantedRoutes("kind-worker", nodes[:2]); !reflect.DeepEqual(got, []Route{route("10.244.0.0/24", "172.18.0.2", "kind-control-plane")}) {
		t.Errorf("from the worker: %v", got)
	}
}

func TestDiffRoutes(t *testing.T) {
	want := []Route{
		route("10.244.1.0/24", "172.18.0.3", "kind-worker"),
		route("10.244.2.0/24", "172.18.0.9", "kind-worker2"), // the node got a new address
		route("10.244.3.0/24", "172.18.0.5", "kind-worker3"), // new node
	}
	have := []Route{
		route("10.244.1.0/24", "172.18.0.3", ""),
		route("10.244.2.0/24", "172.18.0.4", ""),
		route("10.244.7.0/24", "172.18.0.8", ""), // its node was deleted
	}
	write, remove := DiffRoutes(want, have)
	if !reflect.DeepEqual(write, want[1:]) {
		t.Errorf("write = %v, want %v", write, want[1:])
	}
	if !reflect.DeepEqual(remove, have[2:]) {
		t.Errorf("remove = %v, want %v", remove, have[2:])
	}
	if w, r := DiffRoutes(want, want); len(w)+len(r) != 0 {
		t.Errorf("in step: write %v, remove %v", w, r)
	}
}
