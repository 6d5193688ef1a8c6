package kubernetes

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/zclconf/go-cty/cty"

	"labs.dev/lab/lab/resource"
	"labs.dev/lab/providers/kube"
)

// blockOf is an object of kind's schema holding attrs, the rest null: a
// block as the engine hands it to Validate, no cluster needed.
func blockOf(kind resource.Kind, attrs map[string]cty.Value) cty.Value {
	m := map[string]cty.Value{}
	for name, ty := range hcldec.ImpliedType(kind.Schema()).AttributeTypes() {
		m[name] = cty.NullVal(ty)
		if v, ok := attrs[name]; ok {
			m[name] = v
		}
	}
	return cty.ObjectVal(m)
}

// validate runs kind's Validate and returns the arguments its problems
// name, in order, and the whole message.
func validate(t *testing.T, kind resource.Kind, dir string, attrs map[string]cty.Value) ([]string, string) {
	t.Helper()
	err := kind.(resource.Validator).Validate(resource.Env{Dir: dir, File: filepath.Join(dir, "labs.hcl")}, resource.Addr{Type: kind.Type(), Name: "x"}, blockOf(kind, attrs))
	var args []string
	for _, e := range resource.Problems(err) {
		var ae *resource.ArgError
		if !errors.As(e, &ae) {
			args = append(args, "(block)")
			continue
		}
		args = append(args, ae.Arg)
	}
	if err == nil {
		return nil, ""
	}
	if strings.Contains(err.Error(), "required") {
		t.Errorf("an unknown argument read as missing: %v", err)
	}
	return args, err.Error()
}

var unknown = cty.UnknownVal(cty.String)

// Issue 8, defect 3: a name not known before apply leaves the labels
// checked, and every problem is reported.
func TestNamespaceValidate(t *testing.T) {
	ns := Namespace(kube.NewConnections())
	labels := func(m map[string]cty.Value) cty.Value { return cty.MapVal(m) }
	for _, tc := range []struct {
		name  string
		attrs map[string]cty.Value
		want  []string
		text  string
	}{
		{"bad label, unknown name", map[string]cty.Value{"name": unknown, "labels": labels(map[string]cty.Value{"team": cty.StringVal("a b")})},
			[]string{"labels"}, `label team="a b"`},
		{"bad key of an unknown value", map[string]cty.Value{"name": cty.StringVal("dev"), "labels": labels(map[string]cty.Value{"-x": unknown})},
			[]string{"labels"}, `label key "-x"`},
		{"all wrong", map[string]cty.Value{"name": cty.StringVal("Dev"), "labels": labels(map[string]cty.Value{"ok": cty.StringVal("-")}), "annotations": labels(map[string]cty.Value{"a b": cty.StringVal("x")})},
			[]string{"name", "labels", "annotations"}, `name "Dev" is not a valid namespace name`},
		{"all unknown", map[string]cty.Value{"name": unknown, "labels": cty.UnknownVal(cty.Map(cty.String))}, nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args, msg := validate(t, ns, t.TempDir(), tc.attrs)
			if !reflect.DeepEqual(args, tc.want) || !strings.Contains(msg, tc.text) {
				t.Fatalf("problems with %v (%q), want %v saying %q", args, msg, tc.want, tc.text)
			}
		})
	}
}

// Issue 8, defect 3: a manifest whose namespace is not known before
// apply still has its file read and decoded as plan would.
func TestManifestValidate(t *testing.T) {
	m := Manifest(kube.NewConnections())
	dir := t.TempDir()
	must(t, os.WriteFile(filepath.Join(dir, "bad.yaml"), []byte("apiVersion: v1\nkind: ConfigMap\n"), 0o644))
	for _, tc := range []struct {
		name  string
		attrs map[string]cty.Value
		want  []string
		text  string
	}{
		{"missing file, unknown namespace", map[string]cty.Value{"file": cty.StringVal("gone.yaml"), "namespace": unknown},
			[]string{"file"}, `file "gone.yaml" not found`},
		{"file decoded as plan would", map[string]cty.Value{"file": cty.StringVal("bad.yaml")},
			[]string{"file"}, "file bad.yaml: document 1 (line 1): ConfigMap has no metadata.name"},
		{"all wrong", map[string]cty.Value{"content": cty.StringVal("# none\n"), "namespace": cty.StringVal("Team_A"), "timeout": cty.StringVal("5 minutes")},
			[]string{"timeout", "namespace", "content"}, "content holds no Kubernetes objects"},
		{"content and file", map[string]cty.Value{"content": unknown, "file": cty.StringVal("gone.yaml")},
			[]string{"file"}, "not found"},
		{"neither", map[string]cty.Value{}, []string{"(block)"}, "set content"},
		{"unknown content", map[string]cty.Value{"content": unknown, "namespace": unknown, "timeout": unknown}, nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args, msg := validate(t, m, dir, tc.attrs)
			if !reflect.DeepEqual(args, tc.want) || !strings.Contains(msg, tc.text) {
				t.Fatalf("problems with %v (%q), want %v saying %q", args, msg, tc.want, tc.text)
			}
		})
	}
}

// What Validate decoded, Plan and Apply of the same command reuse, as
// long as the file is the one read.
func TestManifestDecodesOnce(t *testing.T) {
	m := Manifest(kube.NewConnections()).(manifest)
	dir := t.TempDir()
	path := filepath.Join(dir, "cm.yaml")
	must(t, os.WriteFile(path, []byte(configMaps("default", 2, "a")), 0o644))
	first, err := m.yaml.file(dir, "cm.yaml")
	if err != nil {
		t.Fatal(err)
	}
	again, err := m.yaml.file(dir, "cm.yaml")
	if err != nil || &again[0] != &first[0] {
		t.Fatalf("second read: %v, same objects %v", err, err == nil && &again[0] == &first[0])
	}
	must(t, os.WriteFile(path, []byte(configMaps("default", 3, "changed")), 0o644))
	changed, err := m.yaml.file(dir, "cm.yaml")
	if err != nil || len(changed) != 3 {
		t.Fatalf("after a change: %d objects, %v", len(changed), err)
	}
	text := configMaps("default", 2, "b")
	a, _ := m.yaml.text(text)
	b, _ := m.yaml.text(text)
	if len(a) != 2 || &a[0] != &b[0] {
		t.Fatal("content decoded twice")
	}
}

// A kubeconfig_file says every problem at its argument, and skips the
// arguments not known before apply (a namespace from another block).
func TestKubeconfigFileValidate(t *testing.T) {
	k := KubeconfigFile(kube.NewConnections())
	s := cty.StringVal
	for _, tc := range []struct {
		name  string
		attrs map[string]cty.Value
		want  []string
		text  string
	}{
		{"fine", map[string]cty.Value{"path": s("learners/a.kubeconfig"), "service_account": s("learner"), "namespace": s("alice-dev")}, nil, ""},
		{"all wrong", map[string]cty.Value{"path": s("../elsewhere"), "service_account": s("Learner!"), "namespace": s("Alice"), "expiration": s("eight hours")},
			[]string{"expiration", "service_account", "namespace", "path"}, `expiration "eight hours" is not a duration`},
		{"too long", map[string]cty.Value{"path": s("a.kubeconfig"), "service_account": s("learner"), "namespace": s("dev"), "expiration": s("200h")},
			[]string{"expiration"}, "outside 10m0s to 168h"},
		{"zero", map[string]cty.Value{"path": s("a.kubeconfig"), "service_account": s("learner"), "namespace": s("dev"), "expiration": s("0s")},
			[]string{"expiration"}, "expiration 0s is outside"},
		{"unknown expiration", map[string]cty.Value{"path": s("a.kubeconfig"), "service_account": s("learner"), "namespace": s("dev"), "expiration": unknown}, nil, ""},
		{"unknown namespace and account", map[string]cty.Value{"path": s("a.kubeconfig"), "service_account": unknown, "namespace": unknown}, nil, ""},
		{"unknown path, bad default namespace", map[string]cty.Value{"path": unknown, "service_account": s("learner"), "namespace": unknown, "default_namespace": s("A")},
			[]string{"default_namespace"}, `default_namespace "A" is not a valid namespace name`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args, msg := validate(t, k, t.TempDir(), tc.attrs)
			if !reflect.DeepEqual(args, tc.want) || !strings.Contains(msg, tc.text) {
				t.Fatalf("problems with %v (%q), want %v saying %q", args, msg, tc.want, tc.text)
			}
		})
	}
}
