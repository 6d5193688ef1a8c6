package helm

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/zclconf/go-cty/cty"

	"labs.dev/lab/lab/resource"
	"labs.dev/lab/providers/helm/wire"
)

func TestSchemaDecodesDefaults(t *testing.T) {
	spec := Release().Schema().(hcldec.ObjectSpec)
	for _, name := range []string{"name", "chart", "namespace", "create_namespace", "values", "wait", "timeout", "kubeconfig", "context"} {
		if spec[name] == nil {
			t.Errorf("schema lacks %s", name)
		}
	}
	if Release().Type() != "helm_release" {
		t.Fatal(Release().Type())
	}
	if ty := hcldec.ImpliedType(spec).AttributeType("values"); ty != cty.DynamicPseudoType {
		t.Errorf("values type = %#v", ty)
	}
}

func TestChartDir(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "charts", "fleet"), 0o755)
	os.MkdirAll(filepath.Join(dir, "..foo", "chart"), 0o755)
	os.WriteFile(filepath.Join(dir, "charts", "file"), nil, 0o644)
	outside := t.TempDir()
	os.Symlink(outside, filepath.Join(dir, "charts", "sneaky"))
	for _, tc := range []struct{ chart, want, err string }{
		{"charts/fleet", filepath.Join(dir, "charts", "fleet"), ""},
		{"./charts/../charts/fleet", filepath.Join(dir, "charts", "fleet"), ""},
		{filepath.Join(dir, "charts", "fleet"), filepath.Join(dir, "charts", "fleet"), ""},
		{"../other", "", "outside the lab directory"},
		{"charts/../../x", "", "outside the lab directory"},
		{"/etc", "", "outside the lab directory"},
		{"charts/sneaky", "", "outside the lab directory"},
		{"", "", "chart: a local chart directory is required"},
		{"..foo/chart", filepath.Join(dir, "..foo", "chart"), ""},
		{"charts/nope", "", `chart "charts/nope": charts/nope does not exist`},
		{"charts/file", "", `chart "charts/file": no chart directory at ` + filepath.Join(dir, "charts", "file")},
	} {
		got, err := chartDir(dir, tc.chart)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("chartDir(%q) = %q, %v; want error %q", tc.chart, got, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("chartDir(%q) = %q, %v; want %q", tc.chart, got, err, tc.want)
		}
	}
}

func config(t *testing.T, attrs map[string]cty.Value) cty.Value {
	t.Helper()
	ty := hcldec.ImpliedType(Release().Schema())
	full := map[string]cty.Value{}
	for name, at := range ty.AttributeTypes() {
		full[name] = cty.NullVal(at)
	}
	full["create_namespace"] = cty.False
	full["wait"] = cty.True
	full["timeout"] = cty.StringVal("5m")
	for k, v := range attrs {
		full[k] = v
	}
	return cty.ObjectVal(full)
}

func TestParseArgs(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "charts", "fleet"), 0o755)
	base := map[string]cty.Value{
		"name":      cty.StringVal("fleet"),
		"chart":     cty.StringVal("charts/fleet"),
		"namespace": cty.StringVal("staging"),
		"values": cty.ObjectVal(map[string]cty.Value{
			"replicas": cty.NumberIntVal(3),
			"image":    cty.ObjectVal(map[string]cty.Value{"tag": cty.StringVal("1.28")}),
			"list":     cty.TupleVal([]cty.Value{cty.StringVal("a"), cty.True}),
		}),
		"kubeconfig": cty.StringVal("kube/config"),
	}
	a, err := parseArgs(env(dir), resource.Connection{}, config(t, base))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"replicas": float64(3), "image": map[string]any{"tag": "1.28"}, "list": []any{"a", true}}
	if !reflect.DeepEqual(a.Values, want) || a.Chart != filepath.Join(dir, "charts/fleet") || !a.Wait || a.Timeout != "5m" || a.Target.Kubeconfig != filepath.Join(dir, "kube/config") {
		t.Fatalf("args = %+v", a)
	}

	for _, tc := range []struct {
		set  map[string]cty.Value
		want string
	}{
		{map[string]cty.Value{"name": cty.StringVal("Fleet_1")}, `name "Fleet_1" is not a valid helm release name`},
		{map[string]cty.Value{"namespace": cty.StringVal("a.b")}, `namespace "a.b" is not a valid namespace`},
		{map[string]cty.Value{"timeout": cty.StringVal("5 minutes")}, `timeout "5 minutes"`},
		{map[string]cty.Value{"values": cty.StringVal("replicas=3")}, "values must be an object"},
		{map[string]cty.Value{"values": cty.ListVal([]cty.Value{cty.True})}, "values must be an object"},
		{map[string]cty.Value{"chart": cty.StringVal("../x")}, "outside the lab directory"},
		{map[string]cty.Value{"chart": cty.StringVal("charts/flet")}, `chart "charts/flet": charts/flet does not exist (paths are relative to ` + dir + ")"},
	} {
		attrs := map[string]cty.Value{}
		for k, v := range base {
			attrs[k] = v
		}
		for k, v := range tc.set {
			attrs[k] = v
		}
		if _, err := parseArgs(env(dir), resource.Connection{}, config(t, attrs)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: err = %v, want %q", tc.set, err, tc.want)
		}
	}
}

func TestValuesDiff(t *testing.T) {
	old := map[string]any{"replicas": float64(2), "image": map[string]any{"tag": "1.27", "repository": "nginx"}, "gone": true, "list": []any{"a"}}
	new := map[string]any{"replicas": float64(3), "image": map[string]any{"tag": "1.27", "repository": "httpd"}, "added": "x", "list": []any{"a", "b"}, "app.kubernetes.io/x": "y"}
	got := valuesDiff(resource.Path{}.Attr("values"), old, new)
	want := []resource.FieldDiff{
		{Path: "values.added", New: `"x"`},
		{Path: `values["app.kubernetes.io/x"]`, New: `"y"`},
		{Path: "values.gone", Old: "true"},
		{Path: "values.image.repository", Old: `"nginx"`, New: `"httpd"`},
		{Path: "values.list", Old: `["a"]`, New: `["a","b"]`},
		{Path: "values.replicas", Old: "2", New: "3"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("valuesDiff =\n%v\nwant\n%v", got, want)
	}
	if d := valuesDiff(resource.Path{}.Attr("values"), nil, map[string]any{}); len(d) != 0 {
		t.Errorf("nil vs empty: %v", d)
	}
	if d := valuesDiff(resource.Path{}.Attr("values"), map[string]any{"a": "2"}, map[string]any{"a": float64(2)}); len(d) != 1 || d[0].Old != `"2"` {
		t.Errorf("string vs number: %v", d)
	}
}

func TestDecide(t *testing.T) {
	a := args{Name: "fleet", Namespace: "staging", Values: map[string]any{"replicas": float64(2)}, Wait: true, Timeout: "5m"}
	local := &wire.Chart{Name: "fleet", Version: "0.1.0", Digest: "d1"}
	deployed := func() *wire.Release {
		return &wire.Release{Name: "fleet", Namespace: "staging", Status: "deployed", ChartName: "fleet", ChartVersion: "0.1.0", ChartDigest: "d1", Values: map[string]any{"replicas": float64(2)}, Revision: 1}
	}
	prior := cty.ObjectVal(map[string]cty.Value{"wait": cty.True, "timeout": cty.StringVal("5m"), "create_namespace": cty.False})

	c := decide(a, &wire.Response{Chart: local}, cty.NilVal, false)
	if c.Action != resource.Create || c.Drift {
		t.Errorf("fresh: %+v", c)
	}
	c = decide(a, &wire.Response{Chart: local}, prior, true)
	if c.Action != resource.Create || !c.Drift || c.Reason != "deleted outside lab" {
		t.Errorf("gone: %+v", c)
	}
	c = decide(a, &wire.Response{Chart: local, Release: deployed()}, prior, true)
	if c.Action != resource.NoOp {
		t.Errorf("same: %+v", c)
	}
	// Up to date but not in state (a renamed block): recorded, not skipped.
	c = decide(a, &wire.Response{Chart: local, Release: deployed()}, cty.NilVal, false)
	if c.Action != resource.Update || c.Reason != "release exists, installed by lab; lab records it again" {
		t.Errorf("same, not in state: %+v", c)
	}
	foreign := deployed()
	foreign.ChartDigest = ""
	c = decide(a, &wire.Response{Chart: local, Release: foreign}, cty.NilVal, false)
	if c.Action != resource.Update || !strings.Contains(c.Reason, "not installed by lab") {
		t.Errorf("foreign, not in state: %+v", c)
	}

	r := deployed()
	r.Values["replicas"] = float64(3)
	c = decide(a, &wire.Response{Chart: local, Release: r}, prior, true)
	if c.Action != resource.Update || c.Drift || len(c.Fields) != 1 || c.Fields[0] != (resource.FieldDiff{Path: "values.replicas", Old: "3", New: "2"}) {
		t.Errorf("values: %+v", c)
	}

	c = decide(a, &wire.Response{Chart: &wire.Chart{Name: "fleet", Version: "0.2.0", Digest: "d2"}, Release: deployed()}, prior, true)
	if c.Action != resource.Update || c.Fields[0] != (resource.FieldDiff{Path: "chart_version", Old: "0.1.0", New: "0.2.0"}) {
		t.Errorf("version: %+v", c)
	}
	c = decide(a, &wire.Response{Chart: &wire.Chart{Name: "fleet", Version: "0.1.0", Digest: "d2"}, Release: deployed()}, prior, true)
	if c.Action != resource.Update || c.Fields[0].Path != "chart" {
		t.Errorf("digest: %+v", c)
	}

	r = deployed()
	r.Status = "failed"
	r.Description = "context deadline exceeded"
	c = decide(a, &wire.Response{Chart: local, Release: r}, prior, true)
	if c.Action != resource.Update || !strings.Contains(c.Reason, "failed (context deadline exceeded)") {
		t.Errorf("failed: %+v", c)
	}
	r.Status = "pending-upgrade"
	c = decide(a, &wire.Response{Chart: local, Release: r}, prior, true)
	if c.Action != resource.Update || !strings.Contains(c.Reason, "pending-upgrade") {
		t.Errorf("pending: %+v", c)
	}

	drift := []wire.ObjectDrift{
		{Kind: "Deployment", Namespace: "staging", Name: "fleet", Missing: true},
		{Kind: "Service", Namespace: "staging", Name: "fleet", Fields: []wire.Field{{Path: "spec.type", Live: `"NodePort"`, Want: `"ClusterIP"`}}},
	}
	c = decide(a, &wire.Response{Chart: local, Release: deployed(), Drift: drift}, prior, true)
	wantFields := []resource.FieldDiff{
		{Path: "Deployment staging/fleet", Old: "deleted outside lab", New: "recreated"},
		{Path: "Service staging/fleet spec.type", Old: `"NodePort"`, New: `"ClusterIP"`},
	}
	if c.Action != resource.Update || !c.Drift || !reflect.DeepEqual(c.Fields, wantFields) {
		t.Errorf("drift: %+v", c)
	}

	b := a
	b.Timeout = "10m"
	c = decide(b, &wire.Response{Chart: local, Release: deployed()}, prior, true)
	var p private
	json.Unmarshal(c.Private, &p)
	if c.Action != resource.Update || !p.StateOnly || c.Fields[0] != (resource.FieldDiff{Path: "timeout", Old: "5m", New: "10m"}) {
		t.Errorf("state only: %+v", c)
	}
}

func TestPlanReplacesOnRename(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "charts", "fleet"), 0o755)
	cfg := config(t, map[string]cty.Value{"name": cty.StringVal("fleet2"), "chart": cty.StringVal("charts/fleet"), "namespace": cty.StringVal("staging")})
	prior := config(t, map[string]cty.Value{"name": cty.StringVal("fleet"), "chart": cty.StringVal("charts/fleet"), "namespace": cty.StringVal("staging")})
	c, err := Release().Plan(context.Background(), resource.PlanRequest{Env: env(dir), Addr: resource.Addr{Type: "helm_release", Name: "f"}, Config: cfg, Prior: prior})
	if err != nil || c.Action != resource.Replace || !strings.Contains(c.Reason, "cannot rename") {
		t.Fatalf("%+v %v", c, err)
	}
}

func TestWorkerMissing(t *testing.T) {
	t.Setenv("LAB_BIN_DIR", t.TempDir())
	t.Setenv("PATH", t.TempDir())
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "charts", "fleet"), 0o755)
	cfg := config(t, map[string]cty.Value{"name": cty.StringVal("fleet"), "chart": cty.StringVal("charts/fleet"), "namespace": cty.StringVal("staging")})
	_, err := Release().Plan(context.Background(), resource.PlanRequest{Env: env(dir), Addr: resource.Addr{Type: "helm_release", Name: "f"}, Config: cfg})
	if err == nil || !strings.Contains(err.Error(), "make build") || !strings.Contains(err.Error(), "helm_release.f") {
		t.Fatalf("err = %v", err)
	}
}

// The worker's events reach the call they are about; its answer ends it.
func TestServingRelaysByCall(t *testing.T) {
	var got []resource.Progress
	e := env(t.TempDir())
	e.Progress = func(p resource.Progress) { got = append(got, p) }
	a := resource.Addr{Type: "helm_release", Name: "a"}
	p := &serving{calls: map[uint64]*pending{
		1: {relay: &eventRelay{env: e, addr: a}, resp: make(chan *wire.Response, 1)},
		2: {relay: &eventRelay{env: env(t.TempDir()), addr: resource.Addr{Type: "helm_release", Name: "b"}}, resp: make(chan *wire.Response, 1)},
	}}
	lines := `{"id":1,"event":{"level":"progress","msg":"waiting for 2 resources to be ready","total":2}}
{"id":2,"event":{"level":"progress","msg":"not a's"}}
{"id":1,"event":{"level":"debug","msg":"x"}}
{"id":1,"event":{"level":"progress","msg":"1 of 2 resources ready: …","done":1,"total":2,"blocked":{"object":"Deployment dev/fleet","reason":"FailedScheduling","message":"0/1 nodes are available: 1 Insufficient cpu","group":"pods could not be scheduled (Insufficient cpu)"},"stalled":true}}
{"id":1,"response":{"release":{"name":"fleet","namespace":"staging","revision":3,"status":"deployed","chart_name":"fleet","chart_version":"0.1.0"}}}
{"id":1,"event":{"level":"progress","msg":"after the answer"}}
`
	p.read(strings.NewReader(lines))
	// What blocks crosses over, and a stall stays marked.
	b := &resource.Blocked{Object: "Deployment dev/fleet", Reason: "FailedScheduling", Message: "0/1 nodes are available: 1 Insufficient cpu", Group: "pods could not be scheduled (Insufficient cpu)"}
	want := []resource.Progress{
		{Addr: a, Msg: "waiting for 2 resources to be ready", Total: 2},
		{Addr: a, Msg: "1 of 2 resources ready: …", Done: 1, Total: 2, Blocked: b, Stalled: true},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("progress %+v, want %+v", got, want)
	}
	select {
	case r := <-p.calls[2].resp:
		t.Errorf("call 2 answered %+v", r)
	default:
	}
	if _, open := p.calls[1]; open {
		t.Error("call 1 is still open after its answer")
	}
}

// A worker that dies says so with its last words, and the next call
// starts another.
func TestWorkerDies(t *testing.T) {
	bin := t.TempDir()
	script := "#!/bin/sh\necho 'panic: boom' >&2\nexit 2\n"
	if err := os.WriteFile(filepath.Join(bin, WorkerName), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("LAB_BIN_DIR", bin)
	s := &server{}
	a := resource.Addr{Type: "helm_release", Name: "f"}
	for i := 0; i < 2; i++ {
		_, err := s.call(context.Background(), env(t.TempDir()), a, wire.Request{Version: wire.Version, Op: wire.OpPlan, Name: "f"})
		if err == nil || !strings.Contains(err.Error(), "panic: boom") || !strings.Contains(err.Error(), "helm_release.f") {
			t.Fatalf("call %d: err = %v", i, err)
		}
	}

}

// A release whose wait timed out says what blocked it first, and only once.
func TestBlockedError(t *testing.T) {
	b := &wire.Blocked{Object: "Deployment l21-staging/fleet", Reason: "FailedScheduling", Summary: "0 of 2 pods scheduled",
		Message: "0/1 nodes are available: 1 Insufficient cpu", Hint: "lower the chart's CPU requests or add nodes", Group: "pods could not be scheduled (Insufficient cpu)"}
	line := "Deployment l21-staging/fleet: 0 of 2 pods scheduled: 0/1 nodes are available: 1 Insufficient cpu — lower the chart's CPU requests or add nodes"
	msg := `install of helm release "fleet" in namespace "l21-staging" failed: not ready within the timeout of 5m0s: ` + line + " (the partial release was uninstalled, so the next apply starts clean)"
	err := blockedError(resource.Addr{Type: "helm_release", Name: "l21_fleet"}, b, msg)
	want := "helm_release.l21_fleet: " + line + "\n" +
		`install of helm release "fleet" in namespace "l21-staging" failed: not ready within the timeout of 5m0s (the partial release was uninstalled, so the next apply starts clean)`
	var be *resource.BlockedError
	if err.Error() != want || !errors.As(err, &be) || be.Blocked.Group != b.Group {
		t.Fatalf("got:\n%s\nwant:\n%s", err, want)
	}
}

func env(dir string) resource.Env {
	return resource.Env{
		Dir:      dir,
		File:     filepath.Join(dir, "labs.hcl"),
		Owner:    resource.NewOwner(filepath.Join(dir, "labs.hcl")),
		Log:      slog.New(slog.DiscardHandler),
		Progress: func(resource.Progress) {},
	}
}

func TestShortenObjects(t *testing.T) {
	obj := `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"fleet","managedFields":[{"manager":"helm","fieldsV1":{"f:spec":{"f:replicas":{}}}}],"annotations":{"a":"}{ in a string"}},"spec":{"replicas":"three","template":{}}}`
	msg := `cannot patch "fleet" with kind Deployment: ` + obj + `: json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32`
	got := shortenObjects(msg)
	want := `cannot patch "fleet" with kind Deployment: {…}: json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32`
	if got != want {
		t.Errorf("shortenObjects =\n%s\nwant\n%s", got, want)
	}
	for _, keep := range []string{`values {"replicas": 3} are fine`, "unbalanced { brace", ""} {
		if got := shortenObjects(keep); got != keep {
			t.Errorf("shortenObjects(%q) = %q", keep, got)
		}
	}
}

// argProblems are the arguments Validate's problems name, in order.
func argProblems(t *testing.T, err error) []string {
	t.Helper()
	var args []string
	for _, e := range resource.Problems(err) {
		var ae *resource.ArgError
		if !errors.As(e, &ae) {
			t.Fatalf("problem %q names no argument", e)
		}
		args = append(args, ae.Arg)
	}
	return args
}

// Issue 8, defect 3: a release whose namespace is another resource's
// attribute, not known before apply, still has its chart checked, and
// the unknown namespace is not "required".
func TestValidateChecksKnownArguments(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "charts", "fleet"), 0o755)
	unknown := cty.UnknownVal(cty.String)
	for _, tc := range []struct {
		name string
		set  map[string]cty.Value
		want []string // arguments with a problem
		text []string
	}{
		{"issue case", map[string]cty.Value{"chart": cty.StringVal("charts/nope-fleet"), "namespace": unknown},
			[]string{"chart"}, []string{`chart "charts/nope-fleet": charts/nope-fleet does not exist`}},
		{"bad timeout and missing chart", map[string]cty.Value{"chart": cty.StringVal("charts/nope"), "timeout": cty.StringVal("soon")},
			[]string{"timeout", "chart"}, []string{`timeout "soon" is not a positive duration`, `chart "charts/nope"`}},
		{"every argument wrong", map[string]cty.Value{"name": cty.StringVal("Fleet"), "namespace": cty.StringVal("a.b"), "timeout": cty.StringVal("-1s"), "chart": cty.StringVal("../x"), "values": cty.StringVal("x")},
			[]string{"name", "namespace", "timeout", "chart", "values"}, nil},
		{"all unknown", map[string]cty.Value{"name": unknown, "namespace": unknown, "timeout": unknown, "chart": unknown, "values": cty.DynamicVal}, nil, nil},
		{"values partly known", map[string]cty.Value{"values": cty.ObjectVal(map[string]cty.Value{"ns": unknown, "replicas": cty.NumberIntVal(3)})}, nil, nil},
		{"values known to be no object", map[string]cty.Value{"values": cty.ListVal([]cty.Value{unknown})}, []string{"values"}, []string{"values must be an object"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			attrs := map[string]cty.Value{"name": cty.StringVal("fleet"), "namespace": cty.StringVal("staging"), "chart": cty.StringVal("charts/fleet")}
			for k, v := range tc.set {
				attrs[k] = v
			}
			err := Release().(resource.Validator).Validate(env(dir), resource.Addr{Type: "helm_release", Name: "fleet"}, config(t, attrs))
			if got := argProblems(t, err); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("problems with %v, want %v: %v", got, tc.want, err)
			}
			for _, s := range tc.text {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("%q does not say %q", err, s)
				}
			}
			if err != nil && strings.Contains(err.Error(), "required") {
				t.Errorf("an unknown argument read as missing: %v", err)
			}
		})
	}
}
