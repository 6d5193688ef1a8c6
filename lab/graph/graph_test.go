package graph

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"labs.dev/lab/lab/resource"
)

func addr(s string) resource.Addr {
	typ, name, _ := strings.Cut(s, ".")
	return resource.Addr{Type: typ, Name: name}
}

// build makes a graph from "a->b" (a depends on b) and lone "a" entries.
func build(edges ...string) *Graph {
	g := New()
	for _, e := range edges {
		from, to, ok := strings.Cut(e, "->")
		if !ok {
			g.Add(addr(from))
			continue
		}
		g.Connect(addr(from), addr(to))
	}
	return g
}

func names(as []resource.Addr) string {
	s := make([]string, len(as))
	for i, a := range as {
		s[i] = a.String()
	}
	return strings.Join(s, " ")
}

// workshop is the shipped lab's shape.
func workshop() *Graph {
	return build(
		"namespace.dev->kind_cluster.kind",
		"namespace.staging->kind_cluster.kind",
		"namespace.test->kind_cluster.kind",
		"helm_release.fleet_staging->namespace.staging",
		"helm_release.fleet_test->namespace.test",
		"manifest.extra",
	)
}

func TestTopoSort(t *testing.T) {
	got := names(workshop().TopoSort())
	want := "kind_cluster.kind manifest.extra namespace.dev namespace.staging namespace.test helm_release.fleet_staging helm_release.fleet_test"
	if got != want {
		t.Fatalf("TopoSort\n got %s\nwant %s", got, want)
	}
	// A node's level is set by its deepest dependency.
	g := build("c.c->b.b", "b.b->a.a", "c.c->a.a", "d.d->a.a")
	if got := names(g.TopoSort()); got != "a.a b.b d.d c.c" {
		t.Fatalf("TopoSort = %s", got)
	}
	// Nodes on a cycle come last.
	g = build("a.a->b.b", "b.b->a.a", "c.c->a.a", "z.z")
	if got := names(g.TopoSort()); got != "z.z a.a b.b c.c" {
		t.Fatalf("TopoSort with a cycle = %s", got)
	}
}

func TestReverse(t *testing.T) {
	r := workshop().Reverse()
	got := names(r.TopoSort())
	want := "helm_release.fleet_staging helm_release.fleet_test manifest.extra namespace.dev namespace.staging namespace.test kind_cluster.kind"
	if got != want {
		t.Fatalf("Reverse().TopoSort()\n got %s\nwant %s", got, want)
	}
	if got := names(r.Deps(addr("kind_cluster.kind"))); got != "namespace.dev namespace.staging namespace.test" {
		t.Fatalf("reversed deps of the cluster: %s", got)
	}
}

func TestSubgraph(t *testing.T) {
	g := workshop()
	s := g.Subgraph(addr("helm_release.fleet_test"), addr("nope.nope"))
	if got := names(s.TopoSort()); got != "kind_cluster.kind namespace.test helm_release.fleet_test" {
		t.Fatalf("Subgraph = %s", got)
	}
	if s.Has(addr("nope.nope")) || !g.Has(addr("manifest.extra")) || g.Len() != 7 {
		t.Fatal("Has/Len")
	}
	if got := names(s.Dependents(addr("namespace.test"))); got != "helm_release.fleet_test" {
		t.Fatalf("Dependents in the subgraph: %s", got)
	}
}

func TestCycles(t *testing.T) {
	for _, tc := range []struct {
		name  string
		g     *Graph
		want  string
		cycle bool
	}{
		{"none", workshop(), "", false},
		{"self", build("a.a->a.a", "b.b->a.a"), "[a.a]", true},
		{"two", build("b.b->a.a", "a.a->b.b", "c.c->a.a"), "[a.a b.b]", true},
		{"ring in order", build("n.c->n.a", "n.a->n.b", "n.b->n.c"), "[n.a n.b n.c]", true},
		{"shortest of a tangle", build("x.a->x.b", "x.b->x.c", "x.c->x.d", "x.d->x.a", "x.c->x.a"), "[x.a x.b x.c]", true},
		{"two groups", build("z.a->z.b", "z.b->z.a", "a.z->a.y", "a.y->a.z", "m.m->z.a"), "[a.y a.z] [z.a z.b]", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var parts []string
			for _, c := range tc.g.Cycles() {
				parts = append(parts, "["+names(c)+"]")
			}
			if got := strings.Join(parts, " "); got != tc.want {
				t.Fatalf("Cycles = %s, want %s", got, tc.want)
			}
			err := tc.g.Walk(context.Background(), 2, func(context.Context, resource.Addr) error {
				if tc.cycle {
					t.Error("Walk called fn on a graph with a cycle")
				}
				return nil
			})
			var ce *CycleError
			if errors.As(err, &ce) != tc.cycle {
				t.Fatalf("Walk = %v", err)
			}
		})
	}
	err := build("n.c->n.a", "n.a->n.b", "n.b->n.c").Walk(context.Background(), 1, nil)
	if want := "dependency cycle: n.a -> n.b -> n.c -> n.a; remove a reference or depends_on to break each"; err == nil || err.Error() != want {
		t.Fatalf("CycleError = %v\nwant %s", err, want)
	}
}

func TestCyclesLongChain(t *testing.T) {
	g := New()
	for i := range 10000 {
		g.Connect(resource.Addr{Type: "n", Name: fmt.Sprint(i + 1)}, resource.Addr{Type: "n", Name: fmt.Sprint(i)})
	}
	if c := g.Cycles(); len(c) != 0 {
		t.Fatalf("a chain has cycles: %v", c[0])
	}
}

func TestDOT(t *testing.T) {
	g := workshop()
	g.Connect(addr(`manifest.we"ird\name`), addr("kind_cluster.kind"))
	got := g.DOT()
	golden := filepath.Join("testdata", "workshop.dot")
	if os.Getenv("UPDATE_GOLDEN") != "" {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Fatalf("DOT differs from %s (UPDATE_GOLDEN=1 rewrites it)\n got:\n%s\nwant:\n%s", golden, got, want)
	}
	for range 5 {
		if again := g.DOT(); again != got {
			t.Fatal("DOT is not stable")
		}
	}
}

// recorder collects the order of visits.
type recorder struct {
	mu    sync.Mutex
	order []resource.Addr
}

func (r *recorder) visit(a resource.Addr) {
	r.mu.Lock()
	r.order = append(r.order, a)
	r.mu.Unlock()
}

func TestWalkOrder(t *testing.T) {
	g := workshop()
	for _, p := range []int{1, 3, 0} {
		var rec recorder
		done := sync.Map{}
		err := g.Walk(context.Background(), p, func(_ context.Context, a resource.Addr) error {
			for _, d := range g.Deps(a) {
				if _, ok := done.Load(d); !ok {
					t.Errorf("parallelism %d: %s visited before its dependency %s finished", p, a, d)
				}
			}
			time.Sleep(time.Millisecond)
			rec.visit(a)
			done.Store(a, true)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(rec.order) != g.Len() {
			t.Fatalf("parallelism %d: visited %d of %d", p, len(rec.order), g.Len())
		}
		if p == 1 {
			want := "kind_cluster.kind manifest.extra namespace.dev namespace.staging helm_release.fleet_staging namespace.test helm_release.fleet_test"
			if got := names(rec.order); got != want {
				t.Fatalf("serial walk order\n got %s\nwant %s", got, want)
			}
		}
	}
}

// peakWalk walks g with every visit but the root's ("kind_cluster")
// blocked until want visits run at once, so the walker must reach the
// bound without any sleep, and returns the most visits that ever ran
// together. It fails t when the bound is never reached.
func peakWalk(t *testing.T, g *Graph, parallelism, want int) int32 {
	t.Helper()
	var now, peak atomic.Int32
	reached := make(chan struct{})
	var once sync.Once
	errc := make(chan error, 1)
	go func() {
		errc <- g.Walk(context.Background(), parallelism, func(_ context.Context, a resource.Addr) error {
			if a.Type == "kind_cluster" {
				return nil
			}
			n := now.Add(1)
			for m := peak.Load(); n > m && !peak.CompareAndSwap(m, n); m = peak.Load() {
			}
			if n >= int32(want) {
				once.Do(func() { close(reached) })
			}
			<-reached
			now.Add(-1)
			return nil
		})
	}()
	select {
	case <-reached:
	case err := <-errc:
		t.Fatalf("parallelism %d: walk ended (%v) before %d visits ran at once; peak %d", parallelism, err, want, peak.Load())
	case <-time.After(30 * time.Second):
		t.Fatalf("parallelism %d: %d visits never ran at once; peak %d", parallelism, want, peak.Load())
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	return peak.Load()
}

func TestWalkParallelismBound(t *testing.T) {
	for _, p := range []int{1, 3, 10} {
		g := New()
		root := resource.Addr{Type: "kind_cluster", Name: "kind"}
		g.Add(root)
		for i := range 40 {
			g.Connect(resource.Addr{Type: "manifest", Name: fmt.Sprint(i)}, root)
		}
		if got := peakWalk(t, g, p, p); got != int32(p) {
			t.Errorf("parallelism %d: %d ran at once, want at most %d", p, got, p)
		}
	}
}

func TestWalkDefaultParallelism(t *testing.T) {
	g := New()
	for i := range 30 {
		g.Add(resource.Addr{Type: "n", Name: fmt.Sprint(i)})
	}
	if got := peakWalk(t, g, 0, DefaultParallelism); got != DefaultParallelism {
		t.Errorf("parallelism 0 ran %d at once, want %d", got, DefaultParallelism)
	}
}

func TestWalkFailureSkipsDependents(t *testing.T) {
	g := workshop()
	g.Connect(addr("manifest.after"), addr("helm_release.fleet_staging"))
	g.Connect(addr("manifest.after"), addr("namespace.dev"))
	boom := errors.New("boom")
	var rec recorder
	err := g.Walk(context.Background(), 4, func(_ context.Context, a resource.Addr) error {
		rec.visit(a)
		if a == addr("namespace.staging") {
			return boom
		}
		return nil
	})
	var we *WalkError
	if !errors.As(err, &we) {
		t.Fatalf("Walk = %v, want a *WalkError", err)
	}
	if !errors.Is(err, boom) {
		t.Error("errors.Is(err, boom) is false")
	}
	if len(we.Failed) != 1 || we.Failed[0].Addr != addr("namespace.staging") {
		t.Fatalf("Failed = %+v", we.Failed)
	}
	var skipped []string
	for _, s := range we.Skipped {
		skipped = append(skipped, s.Addr.String()+"<"+s.Cause.String())
	}
	if got, want := strings.Join(skipped, " "), "helm_release.fleet_staging<namespace.staging manifest.after<namespace.staging"; got != want {
		t.Fatalf("Skipped = %s, want %s", got, want)
	}
	for _, a := range rec.order {
		if a == addr("helm_release.fleet_staging") || a == addr("manifest.after") {
			t.Errorf("fn called for %s after its dependency failed", a)
		}
	}
	// Everything else still ran.
	if len(rec.order) != g.Len()-2 {
		t.Errorf("visited %d nodes, want %d", len(rec.order), g.Len()-2)
	}
	if we.Err != nil || len(we.NotStarted) != 0 {
		t.Errorf("a failure is not a cancellation: %+v", we)
	}
	want := "namespace.staging: boom; skipped because a dependency failed: helm_release.fleet_staging, manifest.after"
	if err.Error() != want {
		t.Errorf("error\n got %s\nwant %s", err, want)
	}
}

func TestWalkCancel(t *testing.T) {
	g := New()
	root := addr("kind_cluster.kind")
	g.Add(root)
	for i := range 20 {
		g.Connect(resource.Addr{Type: "manifest", Name: fmt.Sprintf("m%02d", i)}, root)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var started, inFlight atomic.Int32
	release := make(chan struct{})
	errc := make(chan error)
	go func() {
		errc <- g.Walk(ctx, 3, func(ctx context.Context, a resource.Addr) error {
			started.Add(1)
			if a == root {
				return nil
			}
			inFlight.Add(1)
			defer inFlight.Add(-1)
			<-release
			return nil
		})
	}()
	for inFlight.Load() < 3 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	select {
	case err := <-errc:
		t.Fatalf("Walk returned while calls were in flight: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	err := <-errc
	if inFlight.Load() != 0 {
		t.Fatal("Walk returned before the calls in flight ended")
	}
	if got := started.Load(); got != 4 {
		t.Errorf("started %d calls, want 4 (the root and the 3 in flight when cancelled)", got)
	}
	var we *WalkError
	if !errors.As(err, &we) || !errors.Is(err, context.Canceled) {
		t.Fatalf("Walk = %v, want a *WalkError wrapping context.Canceled", err)
	}
	if len(we.NotStarted) != 17 || we.NotStarted[0].Name != "m03" || len(we.Failed) != 0 {
		t.Fatalf("NotStarted = %v, Failed = %v", names(we.NotStarted), we.Failed)
	}

	// Already cancelled: nothing runs.
	err = g.Walk(ctx, 3, func(context.Context, resource.Addr) error {
		t.Error("fn called with a cancelled context")
		return nil
	})
	if !errors.As(err, &we) || len(we.NotStarted) != g.Len() {
		t.Fatalf("Walk with a cancelled context = %v", err)
	}
}

// TestWalkEmpty: an empty graph visits nothing and succeeds, even with a
// cancelled context (there is nothing left undone to report).
func TestWalkEmpty(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for _, c := range []context.Context{context.Background(), ctx} {
		visits := 0
		if err := New().Walk(c, 1, func(context.Context, resource.Addr) error { visits++; return nil }); err != nil {
			t.Fatalf("empty walk: %v", err)
		}
		if visits != 0 {
			t.Errorf("empty walk visited %d nodes", visits)
		}
		cancel()
	}
}

// layered builds n nodes in layers of 50, each depending on up to 3 nodes
// of the previous layer, like a large lab of namespaces and manifests.
func layered(n int) *Graph {
	g := New()
	node := func(i int) resource.Addr { return resource.Addr{Type: "manifest", Name: fmt.Sprintf("m%04d", i)} }
	for i := range n {
		g.Add(node(i))
		if layer := i / 50; layer > 0 {
			for k := range 3 {
				g.Connect(node(i), node((layer-1)*50+(i+k*7)%50))
			}
		}
	}
	return g
}

func TestWalkLayered(t *testing.T) {
	g := layered(1000)
	var done sync.Map
	var visits atomic.Int32
	err := g.Walk(context.Background(), 10, func(_ context.Context, a resource.Addr) error {
		for _, d := range g.Deps(a) {
			if _, ok := done.Load(d); !ok {
				t.Errorf("%s before %s", a, d)
			}
		}
		visits.Add(1)
		done.Store(a, true)
		return nil
	})
	if err != nil || visits.Load() != 1000 {
		t.Fatalf("Walk = %v after %d visits", err, visits.Load())
	}
	if slices.Index(g.TopoSort(), resource.Addr{Type: "manifest", Name: "m0999"}) < 950 {
		t.Error("TopoSort put the last layer early")
	}
}

func BenchmarkWalk1000(b *testing.B) {
	g := layered(1000)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := g.Walk(ctx, DefaultParallelism, func(context.Context, resource.Addr) error { return nil }); err != nil {
			b.Fatal(err)
		}
	}
}
