package verify

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zclconf/go-cty/cty"

	"labs.dev/lab/lab/config"
)

func TestShippedLabPassesOnRightVariants(t *testing.T) {
	_, labs := shippedLabs(t)
	for name, objs := range map[string][]map[string]any{
		"solution":          fleetObjects(3, int64(1)),
		"more replicas":     fleetObjects(5, int64(1)),
		"maxSurge string":   fleetObjects(3, "1"),
		"maxSurge 25% of 4": fleetObjects(4, "25%"),
		"maxSurge 33% of 3": fleetObjects(3, "33%"),
	} {
		t.Run(name, func(t *testing.T) {
			r := runFake(t, labs, objs)
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
	_, labs := shippedLabs(t)
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
			r := runFake(t, labs, tc.mutate(fleetObjects(3, int64(1))))
			if r.ExitCode() != 1 {
				t.Fatalf("exit %d, want 1:\n%s", r.ExitCode(), text(r))
			}
			if c := checkResult(t, r, tc.check); c.Status != Failed {
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

func TestMissingObjectShownOnce(t *testing.T) {
	_, labs := shippedLabs(t)
	r := runFake(t, labs, nil)
	out := text(r)
	if n := strings.Count(out, "no Deployment named fleet"); n != 1 {
		t.Errorf("missing Deployment explained %d times, want once:\n%s", n, out)
	}
	if !strings.HasSuffix(out, "0 passed, 5 failed\n") {
		t.Errorf("summary wrong:\n%s", out)
	}
}

func TestJSONAndJUnit(t *testing.T) {
	_, labs := shippedLabs(t)
	objs := fleetObjects(3, int64(1))
	objs[0]["spec"].(map[string]any)["replicas"] = int64(2)
	r := runFake(t, labs, objs)

	var buf bytes.Buffer
	if err := r.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Passed, Failed int
		ExitCode       int `json:"exit_code"`
		Labs           []struct {
			Checks []struct {
				Name, Status string
				Failures     []Failure
			}
		}
	}
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatalf("invalid JSON: %v\n%s", err, buf.String())
	}
	if got.ExitCode != 1 || got.Failed == 0 {
		t.Errorf("json: exit %d failed %d:\n%s", got.ExitCode, got.Failed, buf.String())
	}
	found := false
	for _, c := range got.Labs[0].Checks {
		if c.Name == "replicas" && c.Status == "failed" && len(c.Failures) == 1 && c.Failures[0].Field == "spec.replicas" && c.Failures[0].Object.Name == "fleet" {
			found = true
		}
	}
	if !found {
		t.Errorf("json lacks the replicas failure:\n%s", buf.String())
	}

	buf.Reset()
	if err := r.WriteJUnit(&buf); err != nil {
		t.Fatal(err)
	}
	var suites junitSuites
	if err := xml.Unmarshal(buf.Bytes(), &suites); err != nil {
		t.Fatalf("invalid JUnit XML: %v\n%s", err, buf.String())
	}
	if suites.Tests != 5 || suites.Failures < 1 || len(suites.Suites) != 1 || suites.Suites[0].Name != "deploy-fleet" {
		t.Errorf("junit: %+v", suites)
	}
	if !strings.Contains(buf.String(), "spec.replicas") {
		t.Errorf("junit failure text lacks the field:\n%s", buf.String())
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
			t.Errorf("intorpercent(%s, %d, %v) = %v, want %v", show(tc.v), tc.total, tc.up, got, tc.want)
		}
	}
	if _, err := Functions()["intorpercent"].Call([]cty.Value{cty.StringVal("lots"), cty.NumberIntVal(3)}); err == nil {
		t.Error("intorpercent accepted \"lots\"")
	}
	if _, err := Functions()["quantity"].Call([]cty.Value{cty.StringVal("12 GB")}); err == nil {
		t.Error("quantity accepted \"12 GB\"")
	}

	objs := fleetObjects(2, int64(1))
	dep, rs := objectValue(objs[0]), objectValue(objs[1])
	pods := cty.TupleVal([]cty.Value{objectValue(objs[2]), objectValue(objs[3])})
	rss := cty.TupleVal([]cty.Value{rs})
	if got := call("owned", pods, call("owned", rss, dep)).LengthInt(); got != 2 {
		t.Errorf("owned pods of fleet = %d, want 2", got)
	}
	if got := call("owners", rss, objectValue(objs[2])).LengthInt(); got != 1 {
		t.Errorf("owners of a pod = %d, want 1", got)
	}
	if got := call("owned", pods, cty.NullVal(cty.DynamicPseudoType)).LengthInt(); got != 0 {
		t.Errorf("owned by null = %d", got)
	}
	if got := call("get", dep, cty.StringVal("spec.strategy.rollingUpdate.maxUnavailable"), cty.NullVal(cty.String)); got.AsString() != "25%" {
		t.Errorf("get = %s", show(got))
	}
	if got := call("get", dep, cty.StringVal("spec.nope.deeper"), cty.StringVal("d")); got.AsString() != "d" {
		t.Errorf("get default = %s", show(got))
	}
	if got := call("get", objectValue(objs[2]), cty.StringVal("metadata.ownerReferences.0.kind"), cty.NullVal(cty.String)); got.AsString() != "ReplicaSet" {
		t.Errorf("get list index = %s", show(got))
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
			write(t, path, "lab \"l\" {\n"+tc.body+"\n}\n")
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
	write(t, path, `lab "l" {
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
	_, labs := loadLabs(t, path)
	r := runFake(t, labs, fleetObjects(3, int64(1)))
	out := text(r)
	// A condition that is not a bool is the author's mistake: the check
	// could not judge the learner's work (exit 2), the others failed.
	if r.ExitCode() != 2 || checkResult(t, r, "c").Status != Failed || checkResult(t, r, "author").Status != Errored {
		t.Fatalf("exit %d:\n%s", r.ExitCode(), out)
	}
	for _, w := range []string{"Deployment dev/fleet: spec.template.spec.nodeName", "actual:   not set", "the check itself is wrong (labs.hcl:", "must be true or false, but it is 3", "bad function use"} {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
}

func TestShowNeverPanics(t *testing.T) {
	for _, v := range []cty.Value{cty.NilVal, cty.DynamicVal, cty.NullVal(cty.String), cty.EmptyObjectVal, cty.EmptyTupleVal,
		cty.ListValEmpty(cty.String), cty.MapVal(map[string]cty.Value{"a": cty.True}), cty.StringVal("x").Mark("sensitive")} {
		_ = show(v)
		_ = printable(v)
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

func (s *lateSource) Objects(ctx context.Context, sel *Selection, t time.Time) ([]cty.Value, error) {
	s.mu.Lock()
	s.calls++
	n := s.calls
	s.mu.Unlock()
	if n <= s.after {
		return nil, nil
	}
	return (&fakeSource{objs: s.objs}).Objects(ctx, sel, t)
}

// A named object that never appears fails after a short grace, not the
// check's whole timeout; one that appears while verify retries passes.
func TestMissingObjectGrace(t *testing.T) {
	_, labs := shippedLabs(t)
	var deployment *Check
	for _, c := range labs[0].Checks {
		if c.Name == "deployment" {
			deployment = c
		}
	}
	if deployment == nil {
		t.Fatal("the shipped lab has no check named deployment")
	}
	one := []*Lab{{Name: labs[0].Name, Checks: []*Check{deployment}, Timeout: time.Minute, ctx: labs[0].ctx}}

	never := &lateSource{after: 1 << 30}
	r := Run(context.Background(), one, Options{Source: never})
	c := r.Labs[0].Checks[0]
	// Within the 2 s grace the backoff (0.1, 0.2, 0.4, 0.8, 1 s) allows
	// at most 5 attempts; the minute's timeout would allow over 60.
	if c.Status != Failed || c.Attempts < 2 || c.Attempts > 5 {
		t.Fatalf("missing object: status %s after %d attempts, want failed after 2-5", c.Status, c.Attempts)
	}

	late := &lateSource{after: 2, objs: fleetObjects(3, int64(1))}
	r = Run(context.Background(), one, Options{Source: late})
	if c := r.Labs[0].Checks[0]; c.Status != Passed || c.Attempts != 3 {
		t.Fatalf("object created during verify: status %s after %d attempts, want passed on the 3rd", c.Status, c.Attempts)
	}
}
