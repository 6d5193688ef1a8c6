package plan_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/zclconf/go-cty/cty"

	"labs.dev/lab/lab/config"
	"labs.dev/lab/lab/plan"
	"labs.dev/lab/lab/resource"
	"labs.dev/lab/lab/state"
)

// box is an in-memory kind whose Validate refuses a known argument that
// starts with "bad", one problem per argument, and records what it saw.
type box struct {
	mu        sync.Mutex
	seen      map[string]cty.Value // addr → config given to Validate
	refreshed []string
}

func (b *box) Type() string { return "box" }
func (b *box) Schema() hcldec.Spec {
	return &hcldec.ObjectSpec{
		"value": &hcldec.AttrSpec{Name: "value", Type: cty.String, Required: true},
		"other": &hcldec.AttrSpec{Name: "other", Type: cty.String},
	}
}
func (b *box) Computed() map[string]cty.Type { return map[string]cty.Type{"id": cty.String} }

func (b *box) Validate(_ resource.Env, addr resource.Addr, v cty.Value) error {
	b.mu.Lock()
	b.seen[addr.String()] = v
	b.mu.Unlock()
	var errs []error
	for _, arg := range []string{"value", "other"} {
		if s := resource.StringAttr(v, arg); !resource.Unknown(v, arg) && strings.HasPrefix(s, "bad") {
			errs = append(errs, resource.ArgErrorf(arg, "%s %q is bad", arg, s))
		}
	}
	return joinErrs(errs)
}

func (b *box) Plan(_ context.Context, req resource.PlanRequest) (*resource.Change, error) {
	b.mu.Lock()
	b.refreshed = append(b.refreshed, req.Addr.String())
	b.mu.Unlock()
	if req.Prior != cty.NilVal {
		return &resource.Change{Action: resource.NoOp}, nil
	}
	return &resource.Change{Action: resource.Create}, nil
}

func (b *box) Apply(_ context.Context, req resource.ApplyRequest) (cty.Value, error) {
	return resource.WithAttrs(req.Config, map[string]cty.Value{"id": cty.StringVal("id-" + req.Addr.Name)}), nil
}

func (b *box) Delete(context.Context, resource.DeleteRequest) error { return nil }

func joinErrs(errs []error) error {
	if len(errs) == 0 {
		return nil
	}
	return &joined{errs}
}

// joined is errors.Join's shape, spelled out so the test does not lean
// on the one the engine is given by the kinds.
type joined struct{ errs []error }

func (j *joined) Error() string   { return "joined" }
func (j *joined) Unwrap() []error { return j.errs }

func load(t *testing.T, k *box, src string, vars ...string) *config.Config {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "labs.hcl")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, diags := config.Load(path, config.Options{Kinds: map[string]resource.Kind{"box": k}, Env: []string{}, Vars: vars})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	return cfg
}

func newBox() *box { return &box{seen: map[string]cty.Value{}} }

// Every known argument is checked, each unknown one is left to the kind
// to skip, and every problem is a diagnostic at its argument's line.
func TestValidateChecksKnownArguments(t *testing.T) {
	k := newBox()
	cfg := load(t, k, `resource "box" "a" {
  value = "fine"
}

resource "box" "b" {
  value = "bad-${box.a.id}"
  other = "bad too"
}

resource "box" "c" {
  value = box.a.value
  other = box.a.id
}
`)
	diags := plan.Validate(cfg)
	if len(diags) != 1 {
		t.Fatalf("want one diagnostic (other of box.b; its value is unknown), got %d: %v", len(diags), diags)
	}
	d := diags[0]
	if d.Summary != `Invalid value for "other" in box.b` || d.Detail != `other "bad too" is bad` || d.Subject.Start.Line != 7 {
		t.Errorf("diagnostic = %q %q at line %d", d.Summary, d.Detail, d.Subject.Start.Line)
	}
	c := k.seen["box.c"]
	if got := resource.StringAttr(c, "value"); got != "fine" {
		t.Errorf("box.c saw value %q; a dependency's argument is known as configured", got)
	}
	if !resource.Unknown(c, "other") {
		t.Errorf("box.c saw other = %#v; a computed attribute of a resource not applied is unknown", c.GetAttr("other"))
	}
}

// A block with two problems reports both; a resource that failed its
// checks is unknown to those that use it, so its mistake is said once.
func TestValidateReportsEveryProblemOnce(t *testing.T) {
	k := newBox()
	cfg := load(t, k, `resource "box" "a" {
  value = "bad value"
  other = "bad other"
}

resource "box" "b" {
  value = box.a.value
}
`)
	diags := plan.Validate(cfg)
	var got []string
	for _, d := range diags {
		got = append(got, d.Detail)
	}
	if len(diags) != 2 || diags[0].Subject.Start.Line != 2 || diags[1].Subject.Start.Line != 3 {
		t.Fatalf("diagnostics = %q; want value at line 2 and other at line 3 only", got)
	}
	if !resource.Unknown(k.seen["box.b"], "value") {
		t.Errorf("box.b saw %#v from a resource that failed", k.seen["box.b"])
	}
}

// Plan checks every resource before it refreshes any, deferred ones too,
// and fails with located diagnostics.
func TestMakeChecksBeforeRefreshing(t *testing.T) {
	k := newBox()
	cfg := load(t, k, `resource "box" "a" {
  value = "fine"
}

resource "box" "b" {
  value = box.a.id
  other = "bad"
}
`)
	_, err := plan.Make(context.Background(), cfg, state.New(), plan.Options{})
	diags, ok := plan.IsDiag(err)
	if !ok || len(diags) != 1 || diags[0].Subject.Start.Line != 7 || !strings.Contains(diags[0].Subject.Filename, "labs.hcl") {
		t.Fatalf("err = %v; want one diagnostic at labs.hcl line 7", err)
	}
	if len(k.refreshed) != 0 {
		t.Errorf("refreshed %v before the checks failed", k.refreshed)
	}
}

// At plan, a resource in state lends its recorded computed attributes to
// the checks of those that use it; one apply creates lends none.
func TestMakeChecksWithValuesFromState(t *testing.T) {
	k := newBox()
	cfg := load(t, k, `resource "box" "a" {
  value = "fine"
}

resource "box" "b" {
  value = box.a.id
}
`)
	st := state.New()
	if err := st.SetValue(resource.Addr{Type: "box", Name: "a"}, cty.ObjectVal(map[string]cty.Value{
		"value": cty.StringVal("fine"), "other": cty.NullVal(cty.String), "id": cty.StringVal("bad-id"),
	}), nil); err != nil {
		t.Fatal(err)
	}
	_, err := plan.Make(context.Background(), cfg, st, plan.Options{})
	if diags, ok := plan.IsDiag(err); !ok || len(diags) != 1 || diags[0].Detail != `value "bad-id" is bad` {
		t.Fatalf("err = %v; want the recorded id checked", err)
	}

	k = newBox()
	cfg = load(t, k, `resource "box" "a" {
  value = "fine"
}

resource "box" "b" {
  value = box.a.id
}
`)
	if _, err := plan.Make(context.Background(), cfg, state.New(), plan.Options{}); err != nil {
		t.Fatal(err)
	}
	if !resource.Unknown(k.seen["box.b"], "value") || len(k.refreshed) != 1 {
		t.Errorf("box.b saw %#v, refreshed %v", k.seen["box.b"], k.refreshed)
	}
}

// Values of sensitive variables stay hidden in what the checks say, even
// a short one that another value only contains.
func TestValidateHidesSensitiveValues(t *testing.T) {
	k := newBox()
	cfg := load(t, k, `variable "token" {
  sensitive = true
}

variable "pin" {
  sensitive = true
}

resource "box" "a" {
  value = "bad-${var.token}"
  other = "bad${var.pin}"
}
`, "token=hunter2secret", "pin=42")
	diags := plan.Validate(cfg)
	if len(diags) != 2 {
		t.Fatalf("diagnostics: %v", diags)
	}
	for _, d := range diags {
		if strings.Contains(d.Detail, "hunter2") || strings.Contains(d.Detail, "42") || !strings.Contains(d.Detail, "(sensitive)") {
			t.Errorf("detail shows a secret: %q", d.Detail)
		}
	}
}
