package config

import (
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"labs.dev/lab/lab/resource"
)

func addrs(cfg *Config) []string {
	var out []string
	for _, r := range cfg.Resources {
		out = append(out, r.Addr.String())
	}
	return out
}

func TestForEachAndCountMakeInstances(t *testing.T) {
	cfg, diags := load(t, `
variable "learners" {
  type    = set(string)
  default = ["bob", "alice"]
}
locals {
  teams = { red = 2, blue = 3 }
}
resource "namespace" "dev" {
  for_each = var.learners
  name     = "${each.key}-dev"
}
resource "namespace" "team" {
  for_each = local.teams
  name     = each.key
  replicas = each.value
}
resource "namespace" "spare" {
  count = 2
  name  = "spare-${count.index}"
}
resource "namespace" "role" {
  for_each = namespace.dev
  name     = "role-${namespace.dev[each.key].name}"
  labels   = { first = namespace.dev["alice"].name, n = tostring(length(namespace.dev)) }
}
resource "namespace" "one" {
  name       = "one"
  depends_on = [namespace.spare[1]]
}
lab "fleet" {
  for_each = var.learners
  title    = "Fleet for ${each.key}"
}
`, Options{})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	want := []string{
		`namespace.dev["alice"]`, `namespace.dev["bob"]`,
		`namespace.team["blue"]`, `namespace.team["red"]`,
		`namespace.spare[0]`, `namespace.spare[1]`,
		`namespace.role["alice"]`, `namespace.role["bob"]`,
		`namespace.one`,
	}
	if got := addrs(cfg); !slices.Equal(got, want) {
		t.Errorf("instances %v, want %v", got, want)
	}
	alice := resource.Addr{Type: "namespace", Name: "role", Key: resource.StringKey("alice")}
	r := cfg.Resource(alice)
	var deps []string
	for _, d := range r.Deps {
		deps = append(deps, d.String())
	}
	if want := []string{`namespace.dev["alice"]`, `namespace.dev["bob"]`}; !slices.Equal(deps, want) {
		t.Errorf("deps of %s = %v, want %v (length(namespace.dev) needs the whole collection)", alice, deps, want)
	}
	one := cfg.Resource(resource.Addr{Type: "namespace", Name: "one"})
	if len(one.Deps) != 1 || one.Deps[0].String() != "namespace.spare[1]" {
		t.Errorf("depends_on one instance: deps %v", one.Deps)
	}

	// Values: each.key, each.value, count.index, references to one
	// instance and to the whole collection.
	known := map[resource.Addr]cty.Value{}
	for _, k := range []string{"alice", "bob"} {
		known[resource.Addr{Type: "namespace", Name: "dev", Key: resource.StringKey(k)}] = cty.ObjectVal(map[string]cty.Value{"name": cty.StringVal(k + "-dev")})
	}
	ctx, d := cfg.EvalContext(known)
	if d.HasErrors() {
		t.Fatal(d)
	}
	v, d := r.Decode(ctx)
	if d.HasErrors() {
		t.Fatal(d)
	}
	if got := v.GetAttr("name").AsString(); got != "role-alice-dev" {
		t.Errorf("name = %q", got)
	}
	labels := v.GetAttr("labels")
	if labels.Index(cty.StringVal("first")).AsString() != "alice-dev" || labels.Index(cty.StringVal("n")).AsString() != "2" {
		t.Errorf("labels = %#v", labels)
	}
	red, _ := cfg.Resource(resource.Addr{Type: "namespace", Name: "team", Key: resource.StringKey("red")}).Decode(ctx)
	if n, _ := red.GetAttr("replicas").AsBigFloat().Int64(); n != 2 {
		t.Errorf("each.value = %d, want 2", n)
	}
	spare, _ := cfg.Resource(resource.Addr{Type: "namespace", Name: "spare", Key: resource.IntKey(1)}).Decode(ctx)
	if spare.GetAttr("name").AsString() != "spare-1" {
		t.Errorf("count.index: %v", spare.GetAttr("name"))
	}
	var labs []string
	for _, l := range cfg.Labs {
		labs = append(labs, l.Address())
	}
	if want := []string{`fleet["alice"]`, `fleet["bob"]`}; !slices.Equal(labs, want) {
		t.Errorf("labs %v, want %v", labs, want)
	}
}

// Each problem names its place, and a block's many instances say a
// problem in its body once.
func TestForEachDiagnostics(t *testing.T) {
	for _, tc := range []struct {
		name, src string
		want      []string
	}{
		{"unknown at plan", `
resource "kind_cluster" "k" {
  name = "k"
}
resource "namespace" "dev" {
  for_each = toset([kind_cluster.k.kubeconfig_out])
  name     = each.key
}`, []string{"labs.hcl:6", "Instances not known before apply", "uses values of kind_cluster.k that are known only after apply"}},
		{"list with a duplicate", `
variable "learners" {
  default = ["alice", "bob", "alice"]
}
resource "namespace" "dev" {
  for_each = var.learners
  name     = each.key
}`, []string{"labs.hcl:6", "Invalid for_each argument", "toset(var.learners)", `holds "alice" more than once`}},
		{"duplicate key in a for expression", `
variable "learners" {
  default = ["alice", "bob", "alice"]
}
resource "namespace" "dev" {
  for_each = { for l in var.learners : l => l }
  name     = each.key
}`, []string{"labs.hcl:6", "Duplicate object key", "alice"}},
		{"numbers as keys", `
resource "namespace" "dev" {
  for_each = toset([1, 2])
  name     = each.key
}`, []string{"labs.hcl:3", "must hold strings"}},
		{"huge count", `
resource "namespace" "dev" {
  count = 1e12
  name  = "n${count.index}"
}`, []string{"labs.hcl:3", "at most 1000 instances"}},
		{"negative count", `
resource "namespace" "dev" {
  count = -1
  name  = "n"
}`, []string{"labs.hcl:3", "negative"}},
		{"count and for_each", `
resource "namespace" "dev" {
  count    = 1
  for_each = toset(["a"])
  name     = "n"
}`, []string{"labs.hcl:3", "count or for_each, not both"}},
		{"each outside for_each", `
resource "namespace" "dev" {
  name = each.key
}`, []string{"labs.hcl:3", "Reference to each outside for_each"}},
		{"missing instance key", `
resource "namespace" "dev" {
  for_each = toset(["a"])
  name     = each.key
}
resource "namespace" "x" {
  name = namespace.dev.name
}`, []string{"labs.hcl:7", "Missing resource instance key", `namespace.dev["alice"].name`}},
		{"no such instance", `
resource "namespace" "dev" {
  for_each = toset(["a"])
  name     = each.key
}
resource "namespace" "x" {
  name = namespace.dev["b"].name
}`, []string{"labs.hcl:7", `no instance ["b"]`, `its instances are ["a"]`}},
		{"for_each on itself", `
resource "namespace" "dev" {
  for_each = namespace.dev
  name     = each.key
}`, []string{"labs.hcl:3", "Cycle in for_each or count"}},
		{"null for_each", `
resource "namespace" "dev" {
  for_each = null
  name     = "x"
}`, []string{"labs.hcl:3", "it is null"}},
		{"sensitive for_each", `
variable "s" {
  default   = ["a"]
  sensitive = true
  type      = set(string)
}
resource "namespace" "dev" {
  for_each = var.s
  name     = each.key
}`, []string{"labs.hcl:8", "sensitive"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, diags := load(t, tc.src, Options{})
			if !diags.HasErrors() {
				t.Fatal("no error")
			}
			var b strings.Builder
			cfg.WriteDiagnostics(&b, diags, false)
			text := b.String()
			for _, d := range diags {
				if d.Subject != nil {
					text += "\n" + d.Subject.Filename + ":" + strconv.Itoa(d.Subject.Start.Line)
				}
			}
			for _, w := range tc.want {
				if !strings.Contains(text, w) {
					t.Errorf("diagnostics do not say %q:\n%s", w, text)
				}
			}
		})
	}
}

func TestBodyErrorOncePerBlock(t *testing.T) {
	_, diags := load(t, `
resource "namespace" "dev" {
  for_each = toset(["a", "b", "c"])
  name     = each.key
  replicas = "many"
}`, Options{})
	if len(diags) != 1 {
		t.Errorf("%d diagnostics for one mistake in a block of 3 instances: %v", len(diags), diags)
	}
}

// An index worked out from each.key names one instance: the instance
// depends on that one only, and a key that names none is an error.
func TestIndexByEachKeyDependsOnOneInstance(t *testing.T) {
	cfg, diags := load(t, `
variable "learners" {
  type    = set(string)
  default = ["alice", "bob"]
}
resource "namespace" "dev" {
  for_each = var.learners
  name     = "${each.key}-dev"
}
resource "namespace" "role" {
  for_each = var.learners
  name     = "role-${namespace.dev[each.key].name}"
  labels   = { dev = namespace.dev["${each.key}"].name }
}
`, Options{})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	r := cfg.Resource(resource.Addr{Type: "namespace", Name: "role", Key: resource.StringKey("bob")})
	if len(r.Deps) != 1 || r.Deps[0].String() != `namespace.dev["bob"]` {
		t.Errorf("deps %v, want only namespace.dev[\"bob\"]", r.Deps)
	}

	_, diags = load(t, `
variable "learners" {
  type    = set(string)
  default = ["alice"]
}
resource "namespace" "dev" {
  for_each = var.learners
  name     = "${each.key}-dev"
}
resource "namespace" "role" {
  for_each = var.learners
  name     = namespace.dev["${each.key}-prod"].name
}
`, Options{})
	found := false
	for _, d := range diags {
		if strings.Contains(d.Detail, `namespace.dev["alice-prod"], which does not exist`) && d.Subject != nil && d.Subject.Start.Line == 12 {
			found = true
		}
	}
	if !found {
		t.Errorf("no located diagnostic for the missing instance: %v", diags)
	}
}

// An instance of a block whose for_each is another block's instances
// reads that instance through each.value, so it depends on it: with
// for_each = namespace.dev, role["bob"] needs dev["bob"], and only it.
// A for_each built otherwise from resources needs every instance it
// uses. Without these, apply ran role["bob"] before dev["bob"] existed,
// with each.value not known.
func TestForEachOverAResourceDependsOnIt(t *testing.T) {
	cfg, diags := load(t, `
variable "learners" {
  type    = set(string)
  default = ["alice", "bob"]
}
resource "namespace" "dev" {
  for_each = var.learners
  name     = "${each.key}-dev"
}
resource "namespace" "role" {
  for_each = namespace.dev
  name     = "role-${each.value.name}"
}
locals {
  names = { for k, ns in namespace.dev : k => ns.name }
}
resource "namespace" "team" {
  for_each = local.names
  name     = "team-${each.value}"
}
`, Options{})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	deps := func(typ, name, key string) []string {
		var out []string
		for _, d := range cfg.Resource(resource.Addr{Type: typ, Name: name, Key: resource.StringKey(key)}).Deps {
			out = append(out, d.String())
		}
		return out
	}
	if got, want := deps("namespace", "role", "bob"), []string{`namespace.dev["bob"]`}; !slices.Equal(got, want) {
		t.Errorf(`namespace.role["bob"] deps %v, want %v`, got, want)
	}
	if got, want := deps("namespace", "team", "alice"), []string{`namespace.dev["alice"]`, `namespace.dev["bob"]`}; !slices.Equal(got, want) {
		t.Errorf(`namespace.team["alice"] deps %v, want %v`, got, want)
	}
}
