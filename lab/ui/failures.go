package ui

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"labs.dev/lab/lab/plan"
	"labs.dev/lab/lab/resource"
)

// FailureGroup is failed resources whose waits were blocked by the same
// cause.
type FailureGroup struct {
	Reason string          `json:"reason"`
	Addrs  []resource.Addr `json:"addrs"`
}

// String says it in one line: "40 releases failed: pods could not be
// scheduled (Insufficient cpu)". The noun is the last word of the block
// type (helm_release, existing_cluster), so the UI names no kind.
func (g FailureGroup) String() string {
	noun := ""
	for _, a := range g.Addrs {
		n := a.Type[strings.LastIndex(a.Type, "_")+1:]
		if noun != "" && n != noun {
			n = "resource"
		}
		noun = n
	}
	if len(g.Addrs) != 1 {
		noun += "s"
	}
	return fmt.Sprintf("%d %s failed: %s", len(g.Addrs), noun, g.Reason)
}

// GroupFailures groups the failures that name what blocked them
// (resource.BlockedError) by that cause, the largest group first.
// Failures that name none are left out.
func GroupFailures(failed []error) []FailureGroup {
	byReason := map[string]*FailureGroup{}
	for _, err := range failed {
		var be *resource.BlockedError
		var re *plan.ResourceError
		if !errors.As(err, &be) || !errors.As(err, &re) {
			continue
		}
		reason := be.Blocked.Group
		if reason == "" {
			reason = be.Blocked.Reason
		}
		g := byReason[reason]
		if g == nil {
			g = &FailureGroup{Reason: reason}
			byReason[reason] = g
		}
		g.Addrs = append(g.Addrs, re.Addr)
	}
	out := make([]FailureGroup, 0, len(byReason))
	for _, g := range byReason {
		sort.Slice(g.Addrs, func(i, j int) bool { return g.Addrs[i].String() < g.Addrs[j].String() })
		out = append(out, *g)
	}
	sort.Slice(out, func(i, j int) bool {
		if len(out[i].Addrs) != len(out[j].Addrs) {
			return len(out[i].Addrs) > len(out[j].Addrs)
		}
		return strings.Compare(out[i].Reason, out[j].Reason) < 0
	})
	return out
}
