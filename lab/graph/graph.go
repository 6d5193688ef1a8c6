// Package graph is the dependency graph of a lab's resources: it finds
// cycles, orders resources for apply (dependencies first) and destroy
// (dependents first), walks them in parallel within a bound, and draws the
// graph for `lab graph`.
package graph

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"

	"labs.dev/lab/lab/resource"
)

// DefaultParallelism is how many nodes Walk visits at once when asked for
// zero or fewer. Terraform's is 10; lab's is higher because most of a
// lab resource's time is the cluster's (pods starting, a namespace
// finalized), not lab's: at 10, a 50-learner workshop's 100 helm
// releases kept the cluster's controllers short of work (lab up 30.7 s
// against 26.9 s at 20; docs/benchmarks.md).
const DefaultParallelism = 20

// Graph is a directed graph of resources where an edge from A to B means A
// depends on B. The zero value is not usable; call New. A Graph is not safe
// for concurrent changes, and must not change during Walk.
type Graph struct {
	deps       map[resource.Addr]set // node → what it depends on
	dependents map[resource.Addr]set // node → what depends on it
}

type set map[resource.Addr]struct{}

// New returns an empty graph.
func New() *Graph {
	return &Graph{deps: map[resource.Addr]set{}, dependents: map[resource.Addr]set{}}
}

// Add adds a node; adding one twice is harmless.
func (g *Graph) Add(a resource.Addr) {
	if _, ok := g.deps[a]; ok {
		return
	}
	g.deps[a] = set{}
	g.dependents[a] = set{}
}

// Connect records that from depends on to, adding either node if missing.
func (g *Graph) Connect(from, to resource.Addr) {
	g.Add(from)
	g.Add(to)
	g.deps[from][to] = struct{}{}
	g.dependents[to][from] = struct{}{}
}

// Has reports whether a is a node of g.
func (g *Graph) Has(a resource.Addr) bool {
	_, ok := g.deps[a]
	return ok
}

// Len is the number of nodes.
func (g *Graph) Len() int { return len(g.deps) }

// Nodes returns every node, sorted by address.
func (g *Graph) Nodes() []resource.Addr { return sorted(g.deps) }

// Deps returns what a depends on directly, sorted.
func (g *Graph) Deps(a resource.Addr) []resource.Addr { return sorted(g.deps[a]) }

// Dependents returns what depends on a directly, sorted.
func (g *Graph) Dependents(a resource.Addr) []resource.Addr { return sorted(g.dependents[a]) }

// compare orders addresses as their strings ("type.name") order, without
// building the strings unless one type is a prefix of the other: sorting
// dominates Walk's own cost on large graphs.
func compare(a, b resource.Addr) int {
	if a.Type == b.Type {
		if a.Name == b.Name {
			return resource.CompareKeys(a.Key, b.Key)
		}
		return strings.Compare(a.Name, b.Name)
	}
	n := min(len(a.Type), len(b.Type))
	if c := strings.Compare(a.Type[:n], b.Type[:n]); c != 0 {
		return c
	}
	return strings.Compare(a.String(), b.String())
}

func sorted[V any](m map[resource.Addr]V) []resource.Addr {
	return slices.SortedFunc(maps.Keys(m), compare)
}

// Reverse returns a graph with every edge turned around: walking it visits
// a resource only after everything that depends on it, the order of
// destroy.
func (g *Graph) Reverse() *Graph {
	r := New()
	for a, deps := range g.deps {
		r.Add(a)
		for d := range deps {
			r.Connect(d, a)
		}
	}
	return r
}

// Subgraph returns the targets and everything they depend on, directly or
// not. Targets that are not in g are left out; check them with Has.
func (g *Graph) Subgraph(targets ...resource.Addr) *Graph {
	s := New()
	var visit func(a resource.Addr)
	visit = func(a resource.Addr) {
		if s.Has(a) {
			return
		}
		s.Add(a)
		for d := range g.deps[a] {
			visit(d)
			s.Connect(a, d)
		}
	}
	for _, t := range targets {
		if g.Has(t) {
			visit(t)
		}
	}
	return s
}

// TopoSort returns every node, each after all it depends on. Nodes come in
// levels (a node's level is one more than its deepest dependency's), and in
// address order within a level, so the order is the same on every run.
// Nodes on or behind a cycle cannot be ordered; they come last, in address
// order (check Cycles first).
func (g *Graph) TopoSort() []resource.Addr {
	level := make(map[resource.Addr]int, len(g.deps))
	waiting := make(map[resource.Addr]int, len(g.deps))
	var ready []resource.Addr
	for a, deps := range g.deps {
		waiting[a] = len(deps)
		if len(deps) == 0 {
			ready = append(ready, a)
		}
	}
	for len(ready) > 0 {
		a := ready[len(ready)-1]
		ready = ready[:len(ready)-1]
		for d := range g.dependents[a] {
			level[d] = max(level[d], level[a]+1)
			if waiting[d]--; waiting[d] == 0 {
				ready = append(ready, d)
			}
		}
	}
	out := g.Nodes()
	slices.SortStableFunc(out, func(a, b resource.Addr) int {
		// Unordered nodes (still waiting) go last.
		wa, wb := waiting[a] > 0, waiting[b] > 0
		if wa != wb {
			if wa {
				return 1
			}
			return -1
		}
		if wa {
			return 0
		}
		return cmp.Compare(level[a], level[b])
	})
	return out
}

// Cycles returns the dependency cycles of g, one per group of nodes that
// depend on each other: the shortest cycle through the group's first node
// in address order, following dependencies, without repeating the first
// node at the end. [a b] means a depends on b and b on a. A node that
// depends on itself is a cycle of one. Cycles are sorted by first node.
func (g *Graph) Cycles() [][]resource.Addr {
	var cycles [][]resource.Addr
	for _, scc := range g.components() {
		first := slices.MinFunc(scc, compare)
		if len(scc) == 1 {
			if _, self := g.deps[first][first]; !self {
				continue
			}
		}
		in := make(set, len(scc))
		for _, a := range scc {
			in[a] = struct{}{}
		}
		cycles = append(cycles, g.shortestCycle(first, in))
	}
	slices.SortFunc(cycles, func(a, b []resource.Addr) int { return compare(a[0], b[0]) })
	return cycles
}

// shortestCycle finds, by breadth-first search within one strongly
// connected component, the shortest path of dependencies from start back
// to start. Dependencies are tried in address order, so ties break the
// same way every time.
func (g *Graph) shortestCycle(start resource.Addr, in set) []resource.Addr {
	prev := map[resource.Addr]resource.Addr{}
	queue := []resource.Addr{start}
	for len(queue) > 0 {
		a := queue[0]
		queue = queue[1:]
		for _, d := range g.Deps(a) {
			if _, ok := in[d]; !ok {
				continue
			}
			if d == start {
				path := []resource.Addr{a}
				for p := a; p != start; {
					p = prev[p]
					path = append(path, p)
				}
				slices.Reverse(path)
				return path
			}
			if _, seen := prev[d]; !seen {
				prev[d] = a
				queue = append(queue, d)
			}
		}
	}
	return []resource.Addr{start} // unreachable for a real component
}

// components returns the strongly connected components (Tarjan), without
// recursion so that a long chain of resources cannot exhaust the stack.
func (g *Graph) components() [][]resource.Addr {
	nodes := g.Nodes()
	index := make(map[resource.Addr]int, len(nodes))
	low := make(map[resource.Addr]int, len(nodes))
	onStack := make(set, len(nodes))
	var stack []resource.Addr
	var out [][]resource.Addr
	next := 0

	type frame struct {
		node resource.Addr
		deps []resource.Addr
		i    int
	}
	for _, root := range nodes {
		if _, seen := index[root]; seen {
			continue
		}
		frames := []frame{{node: root, deps: g.Deps(root)}}
		index[root], low[root] = next, next
		next++
		stack = append(stack, root)
		onStack[root] = struct{}{}
		for len(frames) > 0 {
			f := &frames[len(frames)-1]
			if f.i < len(f.deps) {
				d := f.deps[f.i]
				f.i++
				if _, seen := index[d]; !seen {
					index[d], low[d] = next, next
					next++
					stack = append(stack, d)
					onStack[d] = struct{}{}
					frames = append(frames, frame{node: d, deps: g.Deps(d)})
				} else if _, ok := onStack[d]; ok {
					low[f.node] = min(low[f.node], index[d])
				}
				continue
			}
			n := f.node
			frames = frames[:len(frames)-1]
			if len(frames) > 0 {
				parent := frames[len(frames)-1].node
				low[parent] = min(low[parent], low[n])
			}
			if low[n] == index[n] {
				var scc []resource.Addr
				for {
					top := stack[len(stack)-1]
					stack = stack[:len(stack)-1]
					delete(onStack, top)
					scc = append(scc, top)
					if top == n {
						break
					}
				}
				out = append(out, scc)
			}
		}
	}
	return out
}

// CycleError is returned by Walk on a graph with cycles.
type CycleError struct {
	Cycles [][]resource.Addr
}

func (e *CycleError) Error() string {
	var b strings.Builder
	b.WriteString("dependency cycle")
	if len(e.Cycles) > 1 {
		b.WriteString("s")
	}
	b.WriteString(": ")
	for i, c := range e.Cycles {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(FormatCycle(c))
	}
	b.WriteString("; remove a reference or depends_on to break each")
	return b.String()
}

// FormatCycle renders a cycle as "a -> b -> a".
func FormatCycle(c []resource.Addr) string {
	if len(c) == 0 {
		return ""
	}
	parts := make([]string, 0, len(c)+1)
	for _, a := range c {
		parts = append(parts, a.String())
	}
	parts = append(parts, c[0].String())
	return strings.Join(parts, " -> ")
}

// DOT renders g in Graphviz's language for `lab graph`, in a stable order:
// every node, then every edge from dependent to dependency.
func (g *Graph) DOT() string {
	var b strings.Builder
	b.WriteString("digraph {\n")
	b.WriteString("\trankdir = \"RL\";\n")
	b.WriteString("\tnode [shape = rect, fontname = \"sans-serif\"];\n")
	nodes := g.Nodes()
	for _, a := range nodes {
		fmt.Fprintf(&b, "\t%s;\n", dotQuote(a.String()))
	}
	for _, a := range nodes {
		for _, d := range g.Deps(a) {
			fmt.Fprintf(&b, "\t%s -> %s;\n", dotQuote(a.String()), dotQuote(d.String()))
		}
	}
	b.WriteString("}\n")
	return b.String()
}

// dotQuote quotes s as a DOT ID. Block labels may hold any character, and
// an unescaped quote or backslash would break or change the drawing.
func dotQuote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\r", `\r`)
	return `"` + r.Replace(s) + `"`
}
