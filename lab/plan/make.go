package plan

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/zclconf/go-cty/cty"

	"labs.dev/lab/lab/config"
	"labs.dev/lab/lab/resource"
	"labs.dev/lab/lab/state"
)

// Make refreshes every resource against the live world and returns what
// apply would do. It changes nothing. First, before it refreshes
// anything, every resource's kind checks the arguments known so far (see
// Validate), so a mistake fails the plan before apply makes a cluster.
func Make(ctx context.Context, cfg *config.Config, st *state.State, opts Options) (*Plan, error) {
	opts.defaults()
	g, diags := Graph(cfg)
	if diags.HasErrors() {
		return nil, &DiagError{Diags: diags}
	}
	if diags := check(cfg, st); diags.HasErrors() {
		return nil, &DiagError{Diags: diags}
	}
	p := newPlan(cfg, st, opts)
	pl := &planner{cfg: cfg, st: st, opts: opts, known: map[resource.Addr]cty.Value{}, secrets: sensitiveStrings(cfg)}
	var mu sync.Mutex
	walkErr := g.Walk(ctx, opts.Parallelism, func(ctx context.Context, addr resource.Addr) error {
		c, err := pl.plan(ctx, cfg.Resource(addr))
		if err != nil {
			return err
		}
		mu.Lock()
		p.Changes = append(p.Changes, c)
		mu.Unlock()
		return nil
	})
	if walkErr != nil {
		return nil, walkErr
	}
	// In state but no longer configured: delete, dependents first; or,
	// when a renamed block manages the same thing, forget the old name.
	for _, r := range st.Resources {
		if cfg.Resource(r.Addr) != nil {
			continue
		}
		c := &Change{Addr: r.Addr, Deps: r.Deps, Change: resource.Change{Action: resource.Delete, Reason: "no longer in " + baseName(cfg.File)}}
		if by, what := pl.sameThing(r); by != nil {
			c.Action = resource.Forget
			c.MovedTo = &by.Addr
			c.Reason = fmt.Sprintf("no longer in %s, but %s manages the same %s; lab forgets the old name and deletes nothing", baseName(cfg.File), by.Addr, what)
		}
		p.Changes = append(p.Changes, c)
	}
	sortChanges(p.Changes)
	return p, nil
}

// MakeDestroy plans deleting every resource in state.
func MakeDestroy(cfg *config.Config, st *state.State, opts Options) *Plan {
	p := newPlan(cfg, st, opts)
	p.Destroy = true
	for _, r := range st.Resources {
		p.Changes = append(p.Changes, &Change{Addr: r.Addr, Deps: r.Deps, Change: resource.Change{Action: resource.Delete}})
	}
	sortChanges(p.Changes)
	return p
}

func newPlan(cfg *config.Config, st *state.State, opts Options) *Plan {
	return &Plan{
		FormatVersion: FormatVersion,
		Created:       time.Now().UTC(),
		Lineage:       st.Lineage,
		Serial:        st.Serial,
		ConfigHash:    ConfigHash(cfg, opts.VarFiles, opts.Vars),
		Vars:          opts.Vars,
		VarFiles:      opts.VarFiles,
	}
}

func sortChanges(cs []*Change) {
	sort.Slice(cs, func(i, j int) bool { return resource.Compare(cs[i].Addr, cs[j].Addr) < 0 })
}

// ConfigHash hashes what a plan was made from: the lab file, var files
// and -var values.
func ConfigHash(cfg *config.Config, varFiles, vars []string) string {
	h := sha256.New()
	for _, f := range append([]string{cfg.File}, varFiles...) {
		b, _ := os.ReadFile(f)
		fmt.Fprintf(h, "%s\x00%d\x00", f, len(b))
		h.Write(b)
	}
	for _, v := range vars {
		fmt.Fprintf(h, "%s\x00", v)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func baseName(path string) string {
	if i := strings.LastIndexByte(path, '/'); i >= 0 {
		return path[i+1:]
	}
	return path
}
