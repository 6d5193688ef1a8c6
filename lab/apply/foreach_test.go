package apply

import (
	"bytes"
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"labs.dev/lab/lab/config"
	"labs.dev/lab/lab/resource"
	"labs.dev/lab/lab/state"
)

const learners = `
variable "learners" {
  type    = set(string)
  default = ["alice", "bob", "carol"]
}
resource "thing" "ns" {
  for_each = var.learners
  value    = "${each.key}-dev"
}
resource "thing" "role" {
  for_each = thing.ns
  value    = "role in ${thing.ns[each.key].value}"
}
resource "thing" "spare" {
  count = 2
  value = "spare-${count.index}"
}
resource "thing" "all" {
  value = join(",", sort(values(thing.ns)[*].value))
}
`

func (f *fixture) loadVars(src string, vars ...string) *config.Config {
	f.t.Helper()
	path := f.dir + "/labs.hcl"
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		f.t.Fatal(err)
	}
	cfg, diags := config.Load(path, config.Options{Kinds: f.kinds, Env: []string{}, Vars: vars})
	if diags.HasErrors() {
		f.t.Fatal(diags)
	}
	return cfg
}

func key(typ, name, k string) resource.Addr {
	return resource.Addr{Type: typ, Name: name, Key: resource.StringKey(k)}
}

// Removing one key from for_each destroys that instance's objects only;
// addresses with keys survive state's JSON.
func TestForEachInstancesLiveAndDieAlone(t *testing.T) {
	f := newFixture(t)
	cfg := f.loadVars(learners)
	res := f.apply(cfg, false)
	if res.Err() != nil || res.Done[resource.Create] != 9 {
		t.Fatalf("result %+v", res)
	}
	if got := f.w.objects[`thing.role["bob"]`]; got != "role in bob-dev" {
		t.Errorf(`thing.role["bob"] = %q`, got)
	}
	if got := f.w.objects[`thing.spare[1]`]; got != "spare-1" {
		t.Errorf(`thing.spare[1] = %q`, got)
	}
	if got := f.w.objects["thing.all"]; got != "alice-dev,bob-dev,carol-dev" {
		t.Errorf("thing.all = %q (a whole-collection reference)", got)
	}
	raw, err := os.ReadFile(f.statePath())
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Resources []struct {
			Addr json.RawMessage `json:"addr"`
		} `json:"resources"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	var stored []string
	for _, r := range doc.Resources {
		var b bytes.Buffer
		if err := json.Compact(&b, r.Addr); err != nil {
			t.Fatal(err)
		}
		stored = append(stored, b.String())
	}
	for _, want := range []string{`{"type":"thing","name":"ns","key":"alice"}`, `{"type":"thing","name":"spare","key":1}`, `{"type":"thing","name":"all"}`} {
		if !slices.Contains(stored, want) {
			t.Errorf("state has no %s: %v", want, stored)
		}
	}
	st, err := state.Load(f.statePath())
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := st.Get(key("thing", "role", "carol")); !ok {
		t.Error(`state lost thing.role["carol"] when read back`)
	}
	if p, _ := f.plan(cfg); p.HasChanges() {
		t.Errorf("second plan has changes: %+v", p.Changes)
	}

	cfg = f.loadVars(learners, `learners=["alice","carol"]`)
	p, _ := f.plan(cfg)
	var changed []string
	for _, c := range p.Changes {
		if c.Action != resource.NoOp {
			changed = append(changed, c.Addr.String()+" "+string(c.Action))
		}
	}
	want := []string{`thing.all update`, `thing.ns["bob"] delete`, `thing.role["bob"] delete`}
	if !slices.Equal(changed, want) {
		t.Errorf("changes %v, want %v", changed, want)
	}
	f.w.log = nil
	f.apply(cfg, false)
	if want := []string{`delete thing.role["bob"]`, `delete thing.ns["bob"]`, "apply thing.all"}; !slices.Equal(f.w.log, want) {
		t.Errorf("did %v, want %v", f.w.log, want)
	}
	for addr := range f.w.objects {
		if strings.Contains(addr, "bob") {
			t.Errorf("%s is left after bob left", addr)
		}
	}
	if f.w.objects[`thing.role["alice"]`] == "" || f.w.objects[`thing.ns["carol"]`] == "" {
		t.Errorf("the other learners' objects went too: %v", f.w.objects)
	}
}

// existingKind is a cluster lab only connects to, whose connection is
// known from its arguments before anything is applied.
type existingKind struct{ memKind }

func (existingKind) Connection(_ resource.Env, attrs cty.Value) (resource.Connection, bool) {
	return resource.Connection{Context: resource.StringAttr(attrs, "value")}, resource.Known(attrs, "value")
}
func (existingKind) RemovesContents() bool { return false }

// What lives in a cluster that lab only connects to is refreshed at the
// first plan, not deferred until the cluster is recorded.
func TestExistingClusterContentsPlanAtOnce(t *testing.T) {
	f := newFixture(t)
	f.kinds["cluster"] = existingKind{memKind{"cluster", f.w}}
	cfg := f.load(`
resource "cluster" "event" {
  value = "event"
}
resource "app" "a" {
  value = "x"
}
`)
	f.w.objects["event/app.a"] = "x"
	p, _ := f.plan(cfg)
	c := p.Change(resource.Addr{Type: "app", Name: "a"})
	if c.Deferred || c.Action != resource.NoOp {
		t.Errorf("app.a = %+v, want refreshed now (no-op: it is there already)", c)
	}
	if !slices.Contains(f.w.refreshed, "app.a in event") {
		t.Errorf("refreshed %v", f.w.refreshed)
	}
}
