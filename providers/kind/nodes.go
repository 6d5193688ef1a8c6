package kind

import (
	"fmt"
	"sort"
	"strings"

	"labs.dev/lab/lab/resource"
	"labs.dev/lab/providers/kind/host"
)

// node is one node container of a kind cluster, as its engine shows it.
type node struct {
	Name  string
	Role  string // control-plane, worker, external-load-balancer
	State string // the engine's word: running, exited, created, paused, dead...
	Image string
	// Exit is how it ended, for the plan: "exit code 137 at 10:04".
	Exit  string
	Ports []host.Port // host ports it publishes
}

// nodeHealth is what the node containers say about a cluster that exists.
type nodeHealth struct {
	// stopped can be started again (exited, created, stopped).
	stopped []node
	// paused can be unpaused.
	paused []node
	// broken says why the cluster cannot come back by a start, one
	// reason per node.
	broken []string
}

func (h nodeHealth) down() []node { return append(append([]node{}, h.stopped...), h.paused...) }

// expectedNodes names the node containers kind makes for roles, in its
// own naming (kind-control-plane, kind-worker, kind-worker2...).
func expectedNodes(cluster string, roles []string) []string {
	counter := map[string]int{}
	var names []string
	for _, r := range roles {
		counter[r]++
		suffix := ""
		if counter[r] > 1 {
			suffix = fmt.Sprint(counter[r])
		}
		names = append(names, cluster+"-"+r+suffix)
	}
	return names
}

// healthOf sorts the node containers of cluster by what a start can do
// for them. roles are the nodes the cluster was made with; nil when not
// known (a cluster lab did not make), then only the containers found
// count.
func healthOf(cluster string, roles []string, nodes []node) nodeHealth {
	var h nodeHealth
	have := map[string]bool{}
	for _, n := range nodes {
		have[n.Name] = true
		switch n.State {
		case "running", "restarting":
		case "exited", "created", "stopped", "configured", "initialized":
			h.stopped = append(h.stopped, n)
		case "paused":
			h.paused = append(h.paused, n)
		default: // dead, removing, unknown
			h.broken = append(h.broken, fmt.Sprintf("node container %s is %s", n.Name, n.State))
		}
	}
	if len(nodes) == 0 {
		h.broken = append(h.broken, "no node container is left")
	}
	for _, want := range expectedNodes(cluster, roles) {
		if !have[want] && len(nodes) > 0 {
			h.broken = append(h.broken, fmt.Sprintf("node container %s is gone (kind cannot add a node to a cluster)", want))
		}
	}
	sort.Strings(h.broken)
	return h
}

// downFields lists the stopped nodes for the plan, one field each.
func downFields(nodes []node) []resource.FieldDiff {
	var fs []resource.FieldDiff
	for _, n := range nodes {
		old := n.State
		if n.Exit != "" {
			old += " (" + n.Exit + ")"
		}
		fs = append(fs, resource.FieldDiff{Path: "node " + n.Name, Old: old, New: "running"})
	}
	return fs
}

func nodeNames(nodes []node) []string {
	var s []string
	for _, n := range nodes {
		s = append(s, n.Name)
	}
	return s
}

// portsOf is every host port the nodes publish, for the port check
// before they start again.
func portsOf(nodes []node) []host.Port {
	var ps []host.Port
	for _, n := range nodes {
		ps = append(ps, n.Ports...)
	}
	return ps
}

func joinNames(nodes []node) string { return strings.Join(nodeNames(nodes), ", ") }
