package verify_test

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/zclconf/go-cty/cty"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	"labs.dev/lab/lab/config"
	"labs.dev/lab/lab/report"
	"labs.dev/lab/lab/ui/ansi"
	. "labs.dev/lab/lab/verify"
	vt "labs.dev/lab/lab/verify/verifytest"
)

func text(r *Result) string {
	var b strings.Builder
	report.Text(&b, r, ansi.Style{})
	return b.String()
}

func TestShippedLabPassesOnRightVariants(t *testing.T) {
	_, labs := vt.ShippedLabs(t)
	for name, objs := range map[string][]map[string]any{
		"solution":          vt.FleetObjects(3, int64(1)),
		"more replicas":     vt.FleetObjects(5, int64(1)),
		"maxSurge string":   vt.FleetObjects(3, "1"),
		"maxSurge 25% of 4": vt.FleetObjects(4, "25%"),
		"maxSurge 33% of 3": vt.FleetObjects(3, "33%"),
	} {
		t.Run(name, func(t *testing.T) {
			r := vt.RunFake(t, labs, objs)
			if r.ExitCode() != 0 {
				t.Fatalf("exit %d, want 0:\n%s", r.ExitCode(), text(r))
			}
			if got := strings.TrimSpace(text(r)); !strings.HasSuffix(got, "\n5 passed, 0 failed") {
				t.Errorf("last line wrong:\n%s", got)
			}
		})
	}
}

func TestShippedLabWrongVariants(t *testing.T) {
	_, labs := vt.ShippedLabs(t)
	dep := func(objs []map[string]any) map[string]any { return objs[0] }
	spec := func(objs []map[string]any) map[string]any { return dep(objs)["spec"].(map[string]any) }
	status := func(objs []map[string]any) map[string]any { return dep(objs)["status"].(map[string]any) }
	cases := []struct {
		name, check string
		mutate      func([]map[string]any) []map[string]any
		want        []string // in the text output
	}{
		{"too few replicas", "replicas", func(o []map[string]any) []map[string]any {
			spec(o)["replicas"] = int64(2)
			return o
		}, []string{"Deployment dev/fleet: spec.replicas", "expected: >= 3", "actual:   2", "asks for 2 replica(s)"}},
		{"recreate", "rolling-update", func(o []map[string]any) []map[string]any {
			spec(o)["strategy"] = map[string]any{"type": "Recreate"}
			return o
		}, []string{"spec.strategy.type", `expected: "RollingUpdate"`, `actual:   "Recreate"`}},
		{"maxSurge 2", "rolling-update", func(o []map[string]any) []map[string]any {
			spec(o)["strategy"].(map[string]any)["rollingUpdate"].(map[string]any)["maxSurge"] = int64(2)
			return o
		}, []string{"spec.strategy.rollingUpdate.maxSurge", "expected: 1", "actual:   2", "may start 2 extra pod(s)"}},
		{"maxSurge 50%", "rolling-update", func(o []map[string]any) []map[string]any {
			spec(o)["strategy"].(map[string]any)["rollingUpdate"].(map[string]any)["maxSurge"] = "50%"
			return o
		}, []string{"spec.strategy.rollingUpdate.maxSurge", `actual:   "50%" (= 2)`, `maxSurge is 50%`}},
		{"maxSurge 0", "rolling-update", func(o []map[string]any) []map[string]any {
			spec(o)["strategy"].(map[string]any)["rollingUpdate"].(map[string]any)["maxSurge"] = int64(0)
			return o
		}, []string{"spec.strategy.rollingUpdate.maxSurge", "actual:   0"}},
		{"status not caught up", "available", func(o []map[string]any) []map[string]any {
			// kubectl apply of a pod template no pod can run, verified at
			// once: the status still shows the old, healthy generation.
			dep(o)["metadata"].(map[string]any)["generation"] = int64(2)
			return o
		}, []string{"status.observedGeneration", "expected: >= 2", "actual:   1", "has seen generation 1 of 2"}},
		{"not available", "available", func(o []map[string]any) []map[string]any {
			delete(status(o), "availableReplicas")
			return o
		}, []string{"status.availableReplicas", "actual:   0 (not set)", "0 of 3 replicas are available"}},
		{"missing", "deployment", func(o []map[string]any) []map[string]any { return o[1:] },
			[]string{"no Deployment named fleet in namespace dev", "hint: Write a Deployment manifest"}},
		{"hand-made pod", "managed-pods", func(o []map[string]any) []map[string]any {
			return append(o, map[string]any{"apiVersion": "v1", "kind": "Pod", "metadata": map[string]any{"name": "stray", "namespace": "dev", "uid": "x"}})
		}, []string{"Pod dev/stray: metadata.ownerReferences", "Pod stray was made by hand", "kubectl delete pod stray -n dev"}},
		{"hand-made replicaset", "managed-pods", func(o []map[string]any) []map[string]any {
			return append(o, map[string]any{"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": map[string]any{"name": "mine", "namespace": "dev", "uid": "y"}})
		}, []string{"ReplicaSet dev/mine", "ReplicaSet mine was made by hand"}},
		{"pods not owned by fleet", "managed-pods", func(o []map[string]any) []map[string]any {
			return o[:2] // no pods at all
		}, []string{"Deployment dev/fleet: length(owned(pods, owned(replicasets, fleet)))", "manages 0 pod(s)"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := vt.RunFake(t, labs, tc.mutate(vt.FleetObjects(3, int64(1))))
			if r.ExitCode() != 1 {
				t.Fatalf("exit %d, want 1:\n%s", r.ExitCode(), text(r))
			}
			if c := vt.Check(t, r, tc.check); c.Status != Failed {
				t.Errorf("check %s is %s, want failed:\n%s", tc.check, c.Status, text(r))
			}
			out := text(r)
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
}

// maxSurge left out is the API server's 25%, one pod at 3 replicas:
// the value alone passes a learner who never set it. Whether the learner
// wrote it is read from the records each way of applying leaves
// (managedFields, kubectl's last-applied annotation); here as fake
// objects, in TestClusterMaxSurgeMustBeWritten as the API server writes
// them.
func TestShippedLabMaxSurgeMustBeWritten(t *testing.T) {
	_, labs := vt.ShippedLabs(t)
	update := func(manager string) map[string]any {
		return map[string]any{"manager": manager, "operation": "Update", "apiVersion": "apps/v1", "fieldsType": "FieldsV1",
			"fieldsV1": map[string]any{"f:spec": map[string]any{"f:replicas": map[string]any{}, "f:strategy": map[string]any{
				"f:type": map[string]any{}, "f:rollingUpdate": map[string]any{".": map[string]any{}, "f:maxSurge": map[string]any{}, "f:maxUnavailable": map[string]any{}}}}}}
	}
	const (
		appliedWithout = `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"fleet","namespace":"dev"},"spec":{"replicas":3}}`
		appliedWith1   = `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"fleet","namespace":"dev"},"spec":{"replicas":3,"strategy":{"rollingUpdate":{"maxSurge":1}}}}`
		appliedWith25  = `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"fleet","namespace":"dev"},"spec":{"replicas":3,"strategy":{"rollingUpdate":{"maxSurge":"25%"}}}}`
	)
	fleet := func(maxSurge any, lastApplied string, managed ...any) []map[string]any {
		objs := vt.FleetObjects(3, maxSurge)
		md := objs[0]["metadata"].(map[string]any)
		md["managedFields"] = managed
		if lastApplied != "" {
			md["annotations"] = map[string]any{"kubectl.kubernetes.io/last-applied-configuration": lastApplied}
		}
		return objs
	}
	for _, tc := range []struct {
		name   string
		objs   []map[string]any
		passes bool
	}{
		{"server-side apply without maxSurge", fleet("25%", "", vt.Applied(nil)), false},
		{"server-side apply of maxSurge 1", fleet(int64(1), "", vt.Applied(int64(1))), true},
		{"kubectl apply without maxSurge", fleet("25%", appliedWithout, update("kubectl-client-side-apply")), false},
		{"kubectl apply of maxSurge 1", fleet(int64(1), appliedWith1, update("kubectl-client-side-apply")), true},
		{"kubectl apply of maxSurge 25%", fleet("25%", appliedWith25, update("kubectl-client-side-apply")), true},
		{"kubectl create without maxSurge", fleet("25%", "", update("kubectl-create")), false},
		{"kubectl create of maxSurge 1", fleet(int64(1), "", update("kubectl-create")), true},
		{"kubectl apply without, then kubectl edit to 1", fleet(int64(1), appliedWithout, update("kubectl-client-side-apply"), update("kubectl-edit")), true},
		{"no record at all", fleet("25%", ""), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := vt.RunFake(t, labs, tc.objs)
			out := text(r)
			c := vt.Check(t, r, "rolling-update")
			if tc.passes {
				if r.ExitCode() != 0 {
					t.Fatalf("exit %d, want 0:\n%s", r.ExitCode(), out)
				}
				return
			}
			if r.ExitCode() != 1 || c.Status != Failed || len(c.Failures) != 1 {
				t.Fatalf("exit %d, rolling-update %s with %d failure(s), want exit 1 and one failure:\n%s", r.ExitCode(), c.Status, len(c.Failures), out)
			}
			for _, w := range []string{
				"Deployment dev/fleet: spec.strategy.rollingUpdate.maxSurge",
				"expected: set in your manifest",
				`actual:   "25%" (filled in by Kubernetes)`,
				"your manifest does not set maxSurge, so Kubernetes filled in its default, 25%",
				"hint: Add maxSurge: 1 under spec.strategy.rollingUpdate",
				"4 passed, 1 failed",
			} {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
}

func TestMissingObjectShownOnce(t *testing.T) {
	_, labs := vt.ShippedLabs(t)
	r := vt.RunFake(t, labs, nil)
	out := text(r)
	if n := strings.Count(out, "no Deployment named fleet"); n != 1 {
		t.Errorf("missing Deployment explained %d times, want once:\n%s", n, out)
	}
	if !strings.HasSuffix(out, "0 passed, 5 failed\n") {
		t.Errorf("summary wrong:\n%s", out)
	}
}

func TestFunctions(t *testing.T) {
	call := func(name string, args ...cty.Value) cty.Value {
		t.Helper()
		v, err := Functions()[name].Call(args)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return v
	}
	n := func(v cty.Value) float64 { f, _ := v.AsBigFloat().Float64(); return f }
	if got := n(call("quantity", cty.StringVal("170Mi"))); got != 170*1024*1024 {
		t.Errorf("quantity 170Mi = %v", got)
	}
	if got := n(call("quantity", cty.StringVal("100m"))); got != 0.1 {
		t.Errorf("quantity 100m = %v", got)
	}
	for _, tc := range []struct {
		v     cty.Value
		total int64
		up    bool
		want  float64
	}{
		{cty.NumberIntVal(1), 3, true, 1}, {cty.StringVal("1"), 3, true, 1}, {cty.StringVal("25%"), 3, true, 1},
		{cty.StringVal("25%"), 3, false, 0}, {cty.StringVal("25%"), 5, true, 2}, {cty.StringVal("50%"), 4, true, 2},
		{cty.StringVal("100%"), 3, true, 3},
	} {
		if got := n(call("intorpercent", tc.v, cty.NumberIntVal(tc.total), cty.BoolVal(tc.up))); got != tc.want {
			t.Errorf("intorpercent(%s, %d, %v) = %v, want %v", Show(tc.v), tc.total, tc.up, got, tc.want)
		}
	}
	if _, err := Functions()["intorpercent"].Call([]cty.Value{cty.StringVal("lots"), cty.NumberIntVal(3)}); err == nil {
		t.Error("intorpercent accepted \"lots\"")
	}
	if _, err := Functions()["quantity"].Call([]cty.Value{cty.StringVal("12 GB")}); err == nil {
		t.Error("quantity accepted \"12 GB\"")
	}

	objs := vt.FleetObjects(2, int64(1))
	dep, rs := vt.ObjectValue(objs[0]), vt.ObjectValue(objs[1])
	pods := cty.TupleVal([]cty.Value{vt.ObjectValue(objs[2]), vt.ObjectValue(objs[3])})
	rss := cty.TupleVal([]cty.Value{rs})
	if got := call("owned", pods, call("owned", rss, dep)).LengthInt(); got != 2 {
		t.Errorf("owned pods of fleet = %d, want 2", got)
	}
	if got := call("owners", rss, vt.ObjectValue(objs[2])).LengthInt(); got != 1 {
		t.Errorf("owners of a pod = %d, want 1", got)
	}
	if got := call("owned", pods, cty.NullVal(cty.DynamicPseudoType)).LengthInt(); got != 0 {
		t.Errorf("owned by null = %d", got)
	}
	if got := call("get", dep, cty.StringVal("spec.strategy.rollingUpdate.maxUnavailable"), cty.NullVal(cty.String)); got.AsString() != "25%" {
		t.Errorf("get = %s", Show(got))
	}
	if got := call("get", dep, cty.StringVal("spec.nope.deeper"), cty.StringVal("d")); got.AsString() != "d" {
		t.Errorf("get default = %s", Show(got))
	}
	if got := call("get", vt.ObjectValue(objs[2]), cty.StringVal("metadata.ownerReferences.0.kind"), cty.NullVal(cty.String)); got.AsString() != "ReplicaSet" {
		t.Errorf("get list index = %s", Show(got))
	}
}

func TestDecodeErrors(t *testing.T) {
	for _, tc := range []struct {
		name, body, want string
	}{
		{"solution outside", `solution = "../../etc/passwd"`, "Invalid solution path"},
		{"bad timeout", `timeout = "soon"`, "Invalid timeout"},
		{"reserved label", `check "c" {
  select "each" {
    api_version = "v1"
    kind = "Pod"
  }
}`, "Reserved selection name"},
		{"unknown name", `check "c" {
  select "pods" {
    api_version = "v1"
    kind = "Pod"
  }
  assert {
    condition = length(pod) > 0
    error_message = "x"
  }
}`, `"pod" is not a selection of check "c"`},
		{"lowercase kind", `check "c" {
  select "d" {
    api_version = "apps/v1"
    kind = "deployment"
  }
}`, "Invalid kind"},
		{"missing condition", `check "c" {
  select "d" {
    api_version = "apps/v1"
    kind = "Deployment"
  }
  assert {
    error_message = "x"
  }
}`, `"condition" is required`},
		{"duplicate check", `check "c" {
  select "d" {
    api_version = "v1"
    kind = "Pod"
  }
}
check "c" {
  select "d" {
    api_version = "v1"
    kind = "Pod"
  }
}`, "Duplicate check"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "labs.hcl")
			vt.Write(t, path, "lab \"l\" {\n"+tc.body+"\n}\n")
			cfg, diags := config.Load(path, config.Options{Env: []string{}})
			if !diags.HasErrors() {
				_, diags = Decode(cfg, nil)
			}
			if !diags.HasErrors() || !strings.Contains(diags.Error(), tc.want) {
				t.Errorf("diags = %v, want one with %q", diags, tc.want)
			}
			for _, d := range diags {
				if d.Severity == 1 && d.Subject == nil {
					t.Errorf("diagnostic without a place: %s", d.Summary)
				}
			}
		})
	}
}

func TestConditionErrorsAreFailuresNotPanics(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "labs.hcl")
	vt.Write(t, path, `lab "l" {
  check "c" {
    select "d" {
      api_version = "apps/v1"
      kind = "Deployment"
      namespace = "dev"
      name = "fleet"
    }
    assert {
      condition = d.spec.template.spec.nodeName == "x"
      error_message = "node is ${actual}"
    }
    assert {
      condition = upper(d.spec.replicas) == "x"
      error_message = "bad function use"
    }
  }
  check "author" {
    select "d" {
      api_version = "apps/v1"
      kind = "Deployment"
      namespace = "dev"
      name = "fleet"
    }
    assert {
      condition = d.spec.replicas
      error_message = "not a bool"
    }
  }
}
`)
	_, labs := vt.LoadLabs(t, path)
	r := vt.RunFake(t, labs, vt.FleetObjects(3, int64(1)))
	out := text(r)
	// A condition that is not a bool is the author's mistake: the check
	// could not judge the learner's work (exit 2), the others failed.
	if r.ExitCode() != 2 || vt.Check(t, r, "c").Status != Failed || vt.Check(t, r, "author").Status != Errored {
		t.Fatalf("exit %d:\n%s", r.ExitCode(), out)
	}
	for _, w := range []string{"Deployment dev/fleet: spec.template.spec.nodeName", "actual:   not set", "the check itself is wrong (labs.hcl:", "must be true or false, but it is 3", "bad function use"} {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
}

// Values are shown as a learner reads them, whatever they are: no
// value makes show or printable panic or print nothing.
func TestShow(t *testing.T) {
	for _, tc := range []struct {
		v               cty.Value
		show, printable string
	}{
		{cty.NilVal, "null (not set)", `cty.StringVal("not set")`},
		{cty.DynamicVal, "(unknown)", `cty.StringVal("not set")`},
		{cty.NullVal(cty.String), "null (not set)", `cty.StringVal("not set")`},
		{cty.EmptyObjectVal, "{}", `cty.StringVal("{}")`},
		{cty.EmptyTupleVal, "[]", `cty.StringVal("[]")`},
		{cty.ListValEmpty(cty.String), "[]", `cty.StringVal("[]")`},
		{cty.MapVal(map[string]cty.Value{"a": cty.True}), "{a: true}", `cty.StringVal("{a: true}")`},
		{cty.StringVal("x").Mark("sensitive"), `"x"`, `cty.StringVal("x")`},
		{cty.NumberIntVal(3), "3", "cty.NumberIntVal(3)"},
		{vt.ObjectValue(vt.FleetObjects(1, int64(1))[0]), "Deployment dev/fleet", `cty.StringVal("Deployment dev/fleet")`},
		{cty.TupleVal([]cty.Value{cty.True, cty.True, cty.True, cty.True, cty.True, cty.True, cty.True}), "[true, true, true, true, true, ... 2 more]", ""},
	} {
		if got := Show(tc.v); got != tc.show {
			t.Errorf("show(%#v) = %q, want %q", tc.v, got, tc.show)
		}
		if tc.printable == "" {
			continue
		}
		if got := Printable(tc.v).GoString(); got != tc.printable {
			t.Errorf("printable(%#v) = %s, want %s", tc.v, got, tc.printable)
		}
	}
}

// lateSource serves no objects for its first calls, then all of them: an
// object created while verify already runs.
type lateSource struct {
	mu    sync.Mutex
	calls int
	after int
	objs  []map[string]any
}

func (s *lateSource) Objects(ctx context.Context, sel *Selection, t time.Time) ([]Object, error) {
	s.mu.Lock()
	s.calls++
	n := s.calls
	s.mu.Unlock()
	if n <= s.after {
		return nil, nil
	}
	return (&vt.FakeSource{Objs: s.objs}).Objects(ctx, sel, t)
}

// A named object that never appears fails after a short grace, not the
// check's whole timeout; one that appears while verify retries passes.
func TestMissingObjectGrace(t *testing.T) {
	path := filepath.Join(t.TempDir(), "labs.hcl")
	vt.Write(t, path, `lab "l" {
  timeout = "1m"
  check "deployment" {
    select "fleet" {
      api_version = "apps/v1"
      kind        = "Deployment"
      namespace   = "dev"
      name        = "fleet"
    }
  }
}
`)
	_, one := vt.LoadLabs(t, path)

	never := &lateSource{after: 1 << 30}
	r := Run(context.Background(), one, Options{Source: never})
	c := r.Labs[0].Checks[0]
	// Within the 2 s grace the backoff (0.1, 0.2, 0.4, 0.8, 1 s) allows
	// at most 5 attempts; the minute's timeout would allow over 60.
	if c.Status != Failed || c.Attempts < 2 || c.Attempts > 5 {
		t.Fatalf("missing object: status %s after %d attempts, want failed after 2-5", c.Status, c.Attempts)
	}

	late := &lateSource{after: 2, objs: vt.FleetObjects(3, int64(1))}
	r = Run(context.Background(), one, Options{Source: late})
	if c := r.Labs[0].Checks[0]; c.Status != Passed || c.Attempts != 3 {
		t.Fatalf("object created during verify: status %s after %d attempts, want passed on the 3rd", c.Status, c.Attempts)
	}
}

// Why a check could not run stays typed in its result, for the CLI to
// tell an unreachable cluster from a kind the cluster does not serve
// with errors.As: nothing is decided by reading messages.
func TestErrorsStayTyped(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	host := "https://" + l.Addr().String()
	l.Close() // nothing listens there now
	dyn, err := dynamic.NewForConfig(&rest.Config{Host: host, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "labs.hcl")
	vt.Write(t, path, `lab "l" {
  check "fleet" {
    select "d" {
      api_version = "apps/v1"
      kind        = "Deployment"
      namespace   = "dev"
      name        = "fleet"
    }
  }
  check "widgets" {
    select "w" {
      api_version = "example.com/v1"
      kind        = "Widget"
    }
  }
}
`)
	_, labs := vt.LoadLabs(t, path)
	r := Run(context.Background(), labs, Options{Source: NewClusterFrom(dyn, nil, host, "kind-gone"), Once: true})
	if r.ExitCode() != 2 || r.Errors != 2 {
		t.Fatalf("exit %d with %d errors, want 2 and 2:\n%s", r.ExitCode(), r.Errors, text(r))
	}
	var u *UnreachableError
	if err := vt.Check(t, r, "fleet").Err; !errors.As(err, &u) || u.Host != host || u.Context != "kind-gone" || !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("fleet: err %#v, want an UnreachableError for %s (context kind-gone) wrapping connection refused", err, host)
	}
	if !strings.Contains(text(r), "cannot reach the cluster at "+host+" (context kind-gone): connection refused") {
		t.Errorf("text:\n%s", text(r))
	}
	var ns *NotServedError
	var sel *SelectError
	if err := vt.Check(t, r, "widgets").Err; !errors.As(err, &ns) || !errors.As(err, &sel) || ns.Kind != "Widget" || sel.Label != "w" {
		t.Errorf("widgets: err %#v, want a SelectError of w wrapping a NotServedError of Widget", err)
	}
	if errs := r.Errs(); len(errs) != 2 {
		t.Errorf("Errs() = %v, want both", errs)
	}
}
