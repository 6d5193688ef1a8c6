package graph

import (
	"container/heap"
	"context"
	"fmt"
	"slices"
	"strings"

	"labs.dev/lab/lab/resource"
)

// Failure is a node whose visit returned an error.
type Failure struct {
	Addr resource.Addr
	Err  error
}

// Skip is a node Walk did not visit because a dependency failed.
type Skip struct {
	Addr resource.Addr
	// Cause is the failed node it depends on, directly or not (the first
	// in address order when there are several).
	Cause resource.Addr
}

// WalkError says which nodes failed and which were not visited. Each list
// is sorted by address.
type WalkError struct {
	Failed  []Failure
	Skipped []Skip
	// NotStarted are nodes left unvisited because the context ended; Err
	// is then the context's error.
	NotStarted []resource.Addr
	Err        error
}

func (e *WalkError) Error() string {
	var b strings.Builder
	for i, f := range e.Failed {
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "%s: %v", f.Addr, f.Err)
	}
	if len(e.Skipped) > 0 {
		if b.Len() > 0 {
			b.WriteString("; ")
		}
		names := make([]string, len(e.Skipped))
		for i, s := range e.Skipped {
			names[i] = s.Addr.String()
		}
		fmt.Fprintf(&b, "skipped because a dependency failed: %s", strings.Join(names, ", "))
	}
	if e.Err != nil {
		if b.Len() > 0 {
			b.WriteString("; ")
		}
		names := make([]string, len(e.NotStarted))
		for i, a := range e.NotStarted {
			names[i] = a.String()
		}
		fmt.Fprintf(&b, "stopped (%v)", e.Err)
		if len(names) > 0 {
			fmt.Fprintf(&b, " before %s", strings.Join(names, ", "))
		}
	}
	return b.String()
}

// Unwrap returns the failures' errors and the context's, for errors.Is and
// errors.As.
func (e *WalkError) Unwrap() []error {
	errs := make([]error, 0, len(e.Failed)+1)
	for _, f := range e.Failed {
		errs = append(errs, f.Err)
	}
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	return errs
}

// Walk calls fn for every node, each only after fn returned nil for all
// its dependencies, at most parallelism at a time (DefaultParallelism if
// parallelism < 1). When fn fails for a node, the nodes that depend on it
// are skipped, not called, and the rest of the graph goes on. When ctx
// ends, Walk starts no more nodes and waits for the calls in flight. Nodes
// ready together start in address order.
//
// Walk returns nil when every call returned nil, a *CycleError without
// calling fn if g has cycles, and a *WalkError otherwise.
func (g *Graph) Walk(ctx context.Context, parallelism int, fn func(ctx context.Context, a resource.Addr) error) error {
	if parallelism < 1 {
		parallelism = DefaultParallelism
	}

	// Number the nodes in address order, so the ready queue is a heap of
	// ints and ties break by address.
	addrs := g.Nodes()
	id := make(map[resource.Addr]int, len(addrs))
	for i, a := range addrs {
		id[a] = i
	}
	dependents := make([][]int, len(addrs))
	waiting := make([]int, len(addrs))
	cause := make([]int, len(addrs)) // failed dependency + 1; 0 when none
	ready := &intHeap{}
	for i, a := range addrs {
		waiting[i] = len(g.deps[a])
		if waiting[i] == 0 {
			ready.s = append(ready.s, i)
		}
		for d := range g.dependents[a] {
			dependents[i] = append(dependents[i], id[d])
		}
	}

	if !acyclic(waiting, dependents) {
		return &CycleError{Cycles: g.Cycles()}
	}

	type result struct {
		node int
		err  error
	}
	results := make(chan result, parallelism)
	werr := &WalkError{}
	running, done := 0, 0

	// finish releases n's dependents; those whose wait is over are either
	// ready or, when something they need failed, skipped in turn.
	var finish func(n int, failed int)
	finish = func(n int, failed int) {
		done++
		for _, d := range dependents[n] {
			if failed > 0 && (cause[d] == 0 || failed < cause[d]) {
				cause[d] = failed
			}
			if waiting[d]--; waiting[d] > 0 {
				continue
			}
			if cause[d] > 0 {
				werr.Skipped = append(werr.Skipped, Skip{Addr: addrs[d], Cause: addrs[cause[d]-1]})
				finish(d, cause[d])
				continue
			}
			heap.Push(ready, d)
		}
	}

	for done < len(addrs) {
		for running < parallelism && ready.Len() > 0 && ctx.Err() == nil {
			n := heap.Pop(ready).(int)
			running++
			go func() {
				results <- result{n, fn(ctx, addrs[n])}
			}()
		}
		if running == 0 {
			break // the context ended with nothing in flight
		}
		// Once ctx ends the loop above starts nothing more, and this
		// collects the calls still in flight.
		r := <-results
		running--
		failed := 0
		if r.err != nil {
			werr.Failed = append(werr.Failed, Failure{Addr: addrs[r.node], Err: r.err})
			failed = r.node + 1
		}
		finish(r.node, failed)
	}

	if done < len(addrs) {
		werr.Err = ctx.Err()
		for i := range addrs {
			if waiting[i] > 0 || slices.Contains(ready.s, i) {
				werr.NotStarted = append(werr.NotStarted, addrs[i])
			}
		}
	}
	if len(werr.Failed) == 0 && len(werr.Skipped) == 0 && werr.Err == nil {
		return nil
	}
	slices.SortFunc(werr.Failed, func(a, b Failure) int { return compare(a.Addr, b.Addr) })
	slices.SortFunc(werr.Skipped, func(a, b Skip) int { return compare(a.Addr, b.Addr) })
	return werr
}

// acyclic runs Kahn's algorithm on the numbered graph: every node comes
// free exactly when there is no cycle. It is much cheaper than Cycles,
// which only runs to explain a cycle.
func acyclic(waiting []int, dependents [][]int) bool {
	left := slices.Clone(waiting)
	var free []int
	for i, w := range left {
		if w == 0 {
			free = append(free, i)
		}
	}
	seen := 0
	for len(free) > 0 {
		n := free[len(free)-1]
		free = free[:len(free)-1]
		seen++
		for _, d := range dependents[n] {
			if left[d]--; left[d] == 0 {
				free = append(free, d)
			}
		}
	}
	return seen == len(waiting)
}

type intHeap struct{ s []int }

func (h *intHeap) Len() int           { return len(h.s) }
func (h *intHeap) Less(i, j int) bool { return h.s[i] < h.s[j] }
func (h *intHeap) Swap(i, j int)      { h.s[i], h.s[j] = h.s[j], h.s[i] }
func (h *intHeap) Push(x any)         { h.s = append(h.s, x.(int)) }
func (h *intHeap) Pop() any {
	n := h.s[len(h.s)-1]
	h.s = h.s[:len(h.s)-1]
	return n
}
