package config

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/zclconf/go-cty/cty"

	"labs.dev/lab/lab/resource"
)

// fakeKind is a schema-only kind: config never calls the rest.
type fakeKind struct{ typ string }

func (k fakeKind) Type() string { return k.typ }
func (k fakeKind) Schema() hcldec.Spec {
	return &hcldec.ObjectSpec{
		"name":       &hcldec.AttrSpec{Name: "name", Type: cty.String, Required: true},
		"labels":     &hcldec.AttrSpec{Name: "labels", Type: cty.Map(cty.String)},
		"kubeconfig": &hcldec.AttrSpec{Name: "kubeconfig", Type: cty.String},
		"replicas":   &hcldec.AttrSpec{Name: "replicas", Type: cty.Number},
	}
}
func (k fakeKind) Computed() map[string]cty.Type {
	return map[string]cty.Type{"kubeconfig_out": cty.String}
}
func (k fakeKind) Plan(context.Context, resource.PlanRequest) (*resource.Change, error) {
	return nil, nil
}
func (k fakeKind) Apply(context.Context, resource.ApplyRequest) (cty.Value, error) {
	return cty.NilVal, nil
}
func (k fakeKind) Delete(context.Context, resource.DeleteRequest) error { return nil }

var kinds = map[string]resource.Kind{"namespace": fakeKind{"namespace"}, "kind_cluster": fakeKind{"kind_cluster"}}

func write(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func load(t *testing.T, src string, opts Options) (*Config, hcl.Diagnostics) {
	t.Helper()
	dir := write(t, map[string]string{"labs.hcl": src})
	opts.Kinds = kinds
	if opts.Env == nil {
		opts.Env = []string{}
	}
	return Load(filepath.Join(dir, "labs.hcl"), opts)
}

func TestLoadResolvesDependencies(t *testing.T) {
	cfg, diags := load(t, `
variable "n" {
  type    = number
  default = 2
}
locals {
  kc = kind_cluster.k.kubeconfig_out
  both = "${local.kc}-x"
}
resource "kind_cluster" "k" {
  name = "kind"
}
resource "namespace" "a" {
  name       = "a"
  kubeconfig = local.both
  replicas   = var.n
}
resource "namespace" "b" {
  name       = "b"
  depends_on = [namespace.a]
}
`, Options{})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	a := cfg.Resource(resource.Addr{Type: "namespace", Name: "a"})
	if len(a.Deps) != 1 || a.Deps[0].String() != "kind_cluster.k" {
		t.Errorf("namespace.a deps = %v, want kind_cluster.k through locals", a.Deps)
	}
	b := cfg.Resource(resource.Addr{Type: "namespace", Name: "b"})
	if len(b.Deps) != 1 || b.Deps[0].String() != "namespace.a" {
		t.Errorf("namespace.b deps = %v, want namespace.a", b.Deps)
	}
	// With the cluster known, the reference evaluates.
	ctx, diags := cfg.EvalContext(map[resource.Addr]cty.Value{
		{Type: "kind_cluster", Name: "k"}: cty.ObjectVal(map[string]cty.Value{"kubeconfig_out": cty.StringVal("/k")}),
	})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	v, diags := a.Decode(ctx)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if got := v.GetAttr("kubeconfig").AsString(); got != "/k-x" {
		t.Errorf("kubeconfig = %q", got)
	}
	if got, _ := v.GetAttr("replicas").AsBigFloat().Int64(); got != 2 {
		t.Errorf("replicas = %d", got)
	}
}

func TestLoadReportsEveryError(t *testing.T) {
	_, diags := load(t, `
resource "namespace" "a" {
  name  = var.missing
  bogus = 1
}
resource "namespace" "a" {
  name = "dup"
}
resource "nmespace" "c" {
  name = "x"
}
output "o" {
  value = local.nope
}
resource "namespace" "d" {
  name = namespace.zz.name
}
`, Options{})
	want := []string{
		"Reference to undeclared variable",
		"Duplicate resource",
		"Unknown resource type",
		"Reference to undeclared local value",
		"Reference to undeclared resource",
	}
	got := diagSummaries(diags)
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("missing %q in:\n%s", w, got)
		}
	}
	if !strings.Contains(got, `Did you mean "namespace"?`) {
		t.Errorf("no suggestion for the misspelt type:\n%s", got)
	}
	for i := 1; i < len(diags); i++ {
		if diags[i-1].Subject != nil && diags[i].Subject != nil && diags[i-1].Subject.Start.Line > diags[i].Subject.Start.Line {
			t.Errorf("diagnostics not sorted by line: %d before %d", diags[i-1].Subject.Start.Line, diags[i].Subject.Start.Line)
		}
	}
}

func TestUnsupportedArgumentIsReportedWithLine(t *testing.T) {
	_, diags := load(t, "resource \"namespace\" \"a\" {\n  name = \"a\"\n  bogus = 1\n}\n", Options{})
	if !diags.HasErrors() {
		t.Fatal("want an error")
	}
	d := diags[0]
	if d.Summary != "Unsupported argument" || d.Subject == nil || d.Subject.Start.Line != 3 {
		t.Errorf("got %s at %v", d.Summary, d.Subject)
	}
}

func TestVariablesPrecedenceAndTypes(t *testing.T) {
	src := `
variable "runtime" {
  type    = string
  default = "auto"
  validation {
    condition     = contains(["auto", "simulated"], var.runtime)
    error_message = "runtime must be auto or simulated."
  }
}
variable "replicas" {
  type    = number
  default = 1
}
variable "labels" {
  type    = map(string)
  default = {}
}
`
	dir := write(t, map[string]string{"labs.hcl": src, "v.hcl": "replicas = 4\n"})
	cfg, diags := Load(filepath.Join(dir, "labs.hcl"), Options{
		Kinds:    kinds,
		Env:      []string{"LAB_VAR_runtime=simulated", "LAB_VAR_replicas=2"},
		VarFiles: []string{filepath.Join(dir, "v.hcl")},
		Vars:     []string{`labels={team="a"}`},
	})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	vals := cfg.VariableValues()
	if vals["runtime"].AsString() != "simulated" {
		t.Errorf("runtime = %v", vals["runtime"])
	}
	if n, _ := vals["replicas"].AsBigFloat().Int64(); n != 4 {
		t.Errorf("replicas = %v; the var file must win over the environment", n)
	}
	if vals["labels"].Index(cty.StringVal("team")).AsString() != "a" {
		t.Errorf("labels = %v", vals["labels"])
	}

	_, diags = Load(filepath.Join(dir, "labs.hcl"), Options{Kinds: kinds, Env: []string{}, Vars: []string{"runtime=docker-desktop", "replicas=many"}})
	got := diagSummaries(diags)
	if !strings.Contains(got, "runtime must be auto or simulated.") || !strings.Contains(got, "Invalid value for variable") {
		t.Errorf("validation and type errors missing:\n%s", got)
	}
}

func TestRequiredVariable(t *testing.T) {
	_, diags := load(t, `variable "name" { type = string }`, Options{})
	if !strings.Contains(diagSummaries(diags), "No value for required variable") {
		t.Errorf("got %s", diagSummaries(diags))
	}
}

func TestLocalCycle(t *testing.T) {
	_, diags := load(t, "locals {\n  a = local.b\n  b = local.a\n}\n", Options{})
	if !strings.Contains(diagSummaries(diags), "Cycle in local values") {
		t.Errorf("got %s", diagSummaries(diags))
	}
}

func TestBrokenInputNeverPanics(t *testing.T) {
	for name, src := range map[string]string{
		"syntax":  "resource \"namespace\" {",
		"binary":  "\x00\x01\x02\xff\xfe",
		"deep":    "locals { x = " + strings.Repeat("[", 5000) + " }",
		"labels":  `resource "namespace" "a" "b" {}`,
		"noblock": `x = 1`,
		"badname": `resource "namespace" "1bad" { name = "x" }`,
		"dependsq": `resource "namespace" "a" { name = "x"
 depends_on = ["namespace.b"] }`,
	} {
		t.Run(name, func(t *testing.T) {
			_, diags := load(t, src, Options{})
			if !diags.HasErrors() {
				t.Fatalf("want an error for %s", name)
			}
			for _, d := range diags {
				if d.Summary == "" {
					t.Errorf("diagnostic without summary: %#v", d)
				}
			}
		})
	}
}

func TestFileFunctionsStayInsideLabDir(t *testing.T) {
	dir := write(t, map[string]string{
		"labs.hcl":         "locals {\n  ok = file(\"manifests/a.yaml\")\n  t = templatefile(\"t.tpl\", { name = \"dev\" })\n  y = yamldecode(local.ok).kind\n}\n",
		"manifests/a.yaml": "kind: ConfigMap\n",
		"t.tpl":            "ns=${name}",
	})
	cfg, diags := Load(filepath.Join(dir, "labs.hcl"), Options{Kinds: kinds, Env: []string{}})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	ctx, diags := cfg.EvalContext(nil)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	local := ctx.Variables["local"]
	if local.GetAttr("t").AsString() != "ns=dev" || local.GetAttr("y").AsString() != "ConfigMap" {
		t.Errorf("locals = %#v", local)
	}
	if _, err := ResolvePath(dir, "../../etc/passwd"); err == nil || !strings.Contains(err.Error(), "outside the lab directory") {
		t.Errorf("escape not refused: %v", err)
	}
	if err := os.Symlink("/etc", filepath.Join(dir, "link")); err == nil {
		if _, err := ResolvePath(dir, "link/hostname"); err == nil {
			t.Error("escape through a symlink not refused")
		}
	}
}

func diagSummaries(diags hcl.Diagnostics) string {
	var b strings.Builder
	for _, d := range diags {
		b.WriteString(d.Summary + ": " + d.Detail + "\n")
	}
	return b.String()
}

// ${NAME} of an unknown variable in a string says how to write the text.
func TestLiteralDollarHint(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "labs.hcl")
	if err := os.WriteFile(path, []byte("locals {\n  cmd = \"echo ${HOME}\"\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, diags := Load(path, Options{Kinds: kinds, Env: []string{}})
	if !diags.HasErrors() {
		t.Fatal("an unknown variable loaded")
	}
	var b strings.Builder
	if cfg == nil {
		cfg = &Config{Files: map[string]*hcl.File{}}
	}
	cfg.WriteDiagnostics(&b, diags, false)
	if !strings.Contains(b.String(), "escape it as $${HOME}") {
		t.Errorf("no hint for a literal ${HOME}:\n%s", b.String())
	}
}
