package ui

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"labs.dev/lab/lab/plan"
	"labs.dev/lab/lab/resource"
	"labs.dev/lab/lab/ui/ansi"
)

var update = flag.Bool("update", false, "rewrite golden files")

func addr(t, n string) resource.Addr { return resource.Addr{Type: t, Name: n} }

func samplePlan() *plan.Plan {
	return &plan.Plan{Changes: []*plan.Change{
		{Addr: addr("helm_release", "fleet"), Change: resource.Change{Action: resource.Update, Drift: true, Reason: "objects of the release were changed outside lab",
			Fields: []resource.FieldDiff{{Path: "Deployment staging/fleet spec.replicas", Old: "5", New: "2"}}}},
		{Addr: addr("kind_cluster", "kind"), Change: resource.Change{Action: resource.Replace, Reason: "runtime changed",
			Fields: []resource.FieldDiff{{Path: "runtime", Old: "simulated", New: "docker"}}}},
		{Addr: addr("namespace", "dev"), Change: resource.Change{Action: resource.Create}, Deferred: true},
		{Addr: addr("namespace", "old"), Change: resource.Change{Action: resource.Delete, Reason: "no longer in labs.hcl"}},
		{Addr: addr("namespace", "secret"), Change: resource.Change{Action: resource.Update,
			Fields: []resource.FieldDiff{{Path: "labels.token", Old: "(sensitive)", New: "(sensitive)", Sensitive: true}, {Path: "labels.team", New: "blue"}}}},
		{Addr: addr("namespace", "same"), Change: resource.Change{Action: resource.NoOp}},
	}}
}

func TestWritePlanGolden(t *testing.T) {
	var b bytes.Buffer
	WritePlan(&b, samplePlan(), ansi.Style{})
	golden(t, "testdata/plan.txt", b.String())
	if strings.Contains(b.String(), "\x1b[") {
		t.Error("colour codes without colour")
	}
	b.Reset()
	WritePlan(&b, samplePlan(), ansi.Style{Color: true})
	if !strings.Contains(b.String(), "\x1b[32m+\x1b[0m") {
		t.Error("no colour with colour on")
	}
}

func TestWritePlanNoChanges(t *testing.T) {
	var b bytes.Buffer
	WritePlan(&b, &plan.Plan{Changes: []*plan.Change{{Addr: addr("namespace", "a"), Change: resource.Change{Action: resource.NoOp}}}}, ansi.Style{})
	if !strings.HasPrefix(b.String(), "No changes.") {
		t.Errorf("got %q", b.String())
	}
}

func TestLinesWithoutTerminalArePlainAndTimestamped(t *testing.T) {
	var b bytes.Buffer
	l := NewLines(&b, ansi.Style{}, 0, 3)
	l.now = func() time.Time { return time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC) }
	l.PreApply(addr("namespace", "dev"), resource.Create)
	l.Progress(resource.Progress{Addr: addr("namespace", "dev"), Msg: "waiting", Done: 1, Total: 2})
	l.PostApply(addr("namespace", "dev"), resource.Create, 1500*time.Millisecond, nil)
	l.Finish()
	want := "15:04:05 namespace.dev: creating...\n15:04:05 namespace.dev: waiting (1/2)\n15:04:05 namespace.dev: created after 1.5s\n"
	if b.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", b.String(), want)
	}
}

func TestJSONLinesAreOneObjectEach(t *testing.T) {
	var b bytes.Buffer
	j := NewJSONLines(&b)
	j.PreApply(addr("namespace", "dev"), resource.Create)
	j.PostApply(addr("namespace", "dev"), resource.Create, time.Second, nil)
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[1], `"type":"apply_complete"`) || !strings.Contains(lines[1], `"addr":"namespace.dev"`) {
		t.Errorf("got %q", lines)
	}
}

func TestPlanJSONDropsPrivateData(t *testing.T) {
	p := samplePlan()
	p.Changes[0].Private = []byte(`{"secret":"x"}`)
	j := NewPlanJSON(p)
	if j.Changes[0].Private != nil || p.Changes[0].Private == nil {
		t.Error("private data in JSON, or the plan itself was changed")
	}
	if len(j.Drift) != 1 || j.Drift[0] != "helm_release.fleet" || !j.HasChanges {
		t.Errorf("drift %v has %v", j.Drift, j.HasChanges)
	}
}

func golden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s:\n%s", path, got)
	}
}

func TestStalledProgressIsALineEvenUnderTheBar(t *testing.T) {
	var b bytes.Buffer
	l := NewLines(&b, ansi.Style{}, 120, 3)
	blocked := &resource.Blocked{Object: "Deployment dev/fleet", Reason: "FailedScheduling", Summary: "0 of 2 pods scheduled"}
	l.Progress(resource.Progress{Addr: addr("manifest", "fleet"), Msg: "waiting for 1 object to be ready: Deployment dev/fleet: 0 of 2 pods scheduled", Blocked: blocked})
	if strings.Contains(b.String(), "0 of 2 pods scheduled\n") {
		t.Errorf("a progress report under the bar became a line: %q", b.String())
	}
	b.Reset()
	l.Progress(resource.Progress{Addr: addr("manifest", "fleet"), Msg: "no progress for 30s: Deployment dev/fleet: 0 of 2 pods scheduled", Blocked: blocked, Stalled: true})
	l.Finish()
	if !strings.Contains(b.String(), "manifest.fleet: stalled: no progress for 30s: Deployment dev/fleet: 0 of 2 pods scheduled\n") {
		t.Errorf("a stall is not its own line: %q", b.String())
	}
}

func TestJSONProgressCarriesWhatBlocks(t *testing.T) {
	var b bytes.Buffer
	j := NewJSONLines(&b)
	j.Progress(resource.Progress{Addr: addr("helm_release", "fleet"), Msg: "m", Blocked: &resource.Blocked{Object: "Deployment dev/fleet", Reason: "FailedScheduling",
		Message: "0/1 nodes are available: 1 Insufficient cpu"}, Stalled: true})
	got := b.String()
	for _, want := range []string{`"type":"progress"`, `"blocked":{"object":"Deployment dev/fleet","reason":"FailedScheduling","message":"0/1 nodes are available: 1 Insufficient cpu"}`, `"stalled":true`} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %s in %s", want, got)
		}
	}
	b.Reset()
	j.Progress(resource.Progress{Addr: addr("helm_release", "fleet"), Msg: "m"})
	if strings.Contains(b.String(), "blocked") || strings.Contains(b.String(), "stalled") {
		t.Errorf("an unblocked wait reports blocked or stalled: %s", b.String())
	}
}

func TestGroupFailures(t *testing.T) {
	blocked := func(a resource.Addr, group string) error {
		return &plan.ResourceError{Addr: a, Op: "create", Err: &resource.BlockedError{Blocked: resource.Blocked{Reason: "FailedScheduling", Group: group}, Err: errors.New("x")}}
	}
	var failed []error
	for i := range 40 {
		failed = append(failed, blocked(addr("helm_release", fmt.Sprintf("l%02d_fleet", i)), "pods could not be scheduled (Insufficient cpu)"))
	}
	failed = append(failed,
		blocked(addr("manifest", "app"), "rollout paused"),
		blocked(addr("helm_release", "x"), "rollout paused"),
		&plan.ResourceError{Addr: addr("namespace", "dev"), Op: "create", Err: errors.New("forbidden")},
		blocked(addr("manifest", "web"), "images could not be pulled (nginx:nope)"),
		blocked(addr("existing_cluster", "event"), "no answer"),
	)
	var got []string
	for _, g := range GroupFailures(failed) {
		got = append(got, g.String())
	}
	want := []string{
		"40 releases failed: pods could not be scheduled (Insufficient cpu)",
		"2 resources failed: rollout paused",
		"1 manifest failed: images could not be pulled (nginx:nope)",
		"1 cluster failed: no answer",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
