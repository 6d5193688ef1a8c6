package workshop

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
)

// checks are the columns of deploy-fleet in lab verify --all-learners.
var checks = []string{"deployment", "replicas", "rolling-update", "available", "managed-pods"}

// verifyLearners drives lab verify --learner and --all-learners on the
// workshop brought up for learners (alice, bob and carol), each working
// with their own kubeconfig: alice applies the solution, bob too few
// replicas, carol pods no node can take; then bob and carol fix theirs.
func verifyLearners(t *testing.T, w *workshop, learners []string) {
	ctx := context.Background()
	admin := w.admin()

	// A learner the lab file does not have, or both flags, is "could
	// not check", said before the cluster is read.
	_, errOut, code := w.labOut(learners, "verify", "--learner", "dave")
	if want := `there is no learner "dave"; learners: alice, bob, carol`; code != 2 || !strings.Contains(errOut, want) {
		t.Errorf("--learner dave: exit %d, want 2 and %q:\n%s", code, want, errOut)
	}
	_, errOut, code = w.labOut(learners, "verify", "--learner", "alice", "--all-learners")
	if code != 2 || !strings.Contains(errOut, "--learner and --all-learners exclude each other") {
		t.Errorf("--learner with --all-learners: exit %d, want 2:\n%s", code, errOut)
	}

	// Nothing done yet: every cell says what is missing.
	rows, summary := learnerTable(t, w, learners, 1)
	for _, l := range learners {
		for _, c := range checks {
			if want := "✗ missing Deployment " + l + "-dev/fleet"; rows[l][c] != want {
				t.Errorf("before any work, %s's %s: %q, want %q", l, c, rows[l][c], want)
			}
		}
		if rows[l]["passed"] != "0/5" {
			t.Errorf("before any work, %s passed %s", l, rows[l]["passed"])
		}
	}
	if want := "3 learner(s): 0 passed, 15 failed"; summary != want {
		t.Errorf("summary %q, want %q", summary, want)
	}

	// Each learner works with their own credentials.
	nowhere := deployment("fleet", 3)
	if err := unstructured.SetNestedStringMap(nowhere.Object, map[string]string{"lab.dev/nowhere": "yes"}, "spec", "template", "spec", "nodeSelector"); err != nil {
		t.Fatal(err)
	}
	for l, d := range map[string]*unstructured.Unstructured{"alice": deployment("fleet", 3), "bob": deployment("fleet", 2), "carol": nowhere} {
		_, as := w.as(l)
		if _, err := as.Resource(gvrDeployments).Namespace(l+"-dev").Create(ctx, d, metav1.CreateOptions{}); err != nil {
			t.Fatalf("%s applies her or his fleet: %v", l, err)
		}
		t.Cleanup(func() {
			bg := metav1.DeletePropagationBackground
			_ = admin.Resource(gvrDeployments).Namespace(l+"-dev").Delete(context.Background(), "fleet", metav1.DeleteOptions{PropagationPolicy: &bg})
		})
	}
	// --all-learners reads once without retrying: wait until the
	// controllers and the scheduler are done with what was applied.
	settle(t, admin, "alice-dev", available(3))
	settle(t, admin, "bob-dev", available(2))
	settle(t, admin, "carol-dev", unschedulable(3))

	out, code := w.lab(learners, "verify", "--learner", "alice", "--timeout", "60s")
	if code != 0 || !strings.HasSuffix(out, "5 passed, 0 failed\n") {
		t.Errorf("--learner alice after her solution: exit %d, want 0:\n%s", code, out)
	}
	out, code = w.lab(learners, "verify", "deploy-fleet", "--learner", "bob", "--timeout", "2s")
	if code != 1 || !strings.Contains(out, "fleet asks for 2 replica(s); the task asks for at least 3.") ||
		!strings.HasSuffix(out, "4 passed, 1 failed\n") || strings.Contains(out, "alice") {
		t.Errorf("--learner bob with 2 replicas: exit %d, want 1 and his checks only:\n%s", code, out)
	}
	out, code = w.lab(learners, "verify", "--learner", "carol", "--timeout", "2s")
	if code != 1 || !strings.Contains(out, "why: Pod carol-dev/fleet-") || !strings.Contains(out, "didn't match Pod's node affinity/selector") {
		t.Errorf("--learner carol, pods no node takes: exit %d, want 1 and why:\n%s", code, out)
	}

	rows, summary = learnerTable(t, w, learners, 1)
	want := map[string]map[string]string{
		"alice": {"passed": "5/5"},
		"bob":   {"replicas": "✗ fleet asks for 2 replica(s); the task a…", "passed": "4/5"},
		"carol": {"available": "✗ 0 of 3 replicas are available.", "passed": "4/5"},
	}
	for l, cells := range want {
		for _, c := range slices.Concat(checks, []string{"passed"}) {
			cell, ok := cells[c]
			if !ok {
				cell = "✓"
			}
			if rows[l][c] != cell {
				t.Errorf("%s's %s: %q, want %q", l, c, rows[l][c], cell)
			}
		}
	}
	if want := "3 learner(s): 13 passed, 2 failed"; summary != want {
		t.Errorf("summary %q, want %q", summary, want)
	}

	// -o json: every learner's every check, with the failure in full.
	res := learnersJSON(t, w, learners, 1)
	if res.Passed != 13 || res.Failed != 2 || res.Errors != 0 || res.ExitCode != 1 {
		t.Errorf("-o json: %d passed, %d failed, %d errors, exit_code %d; want 13, 2, 0, 1", res.Passed, res.Failed, res.Errors, res.ExitCode)
	}
	type failure struct{ message, hint, object string }
	failures := map[string]failure{
		"bob/replicas":    {"fleet asks for 2 replica(s); the task asks for at least 3.", "Set spec.replicas: 3 in your manifest and apply it again.", "Deployment bob-dev/fleet"},
		"carol/available": {"0 of 3 replicas are available.", "kubectl get pods -n carol-dev shows which pods are not ready; kubectl describe pod <name> says why.", "Deployment carol-dev/fleet"},
	}
	for key, cell := range res.cells(t) {
		f, failed := failures[key]
		switch {
		case !failed && cell.Status != "passed":
			t.Errorf("-o json: %s %s (%s), want passed", key, cell.Status, cell.Message)
		case failed && (cell.Status != "failed" || cell.Message != f.message || cell.Hint != f.hint || cell.Object != f.object):
			t.Errorf("-o json: %s: %+v, want failed with %+v", key, cell, f)
		}
		// Why carol's pods are not available reaches the table (and
		// the board's detail); nothing else has a reason.
		if wantWhy := key == "carol/available"; wantWhy != (len(cell.Why) > 0) ||
			(wantWhy && !strings.Contains(strings.Join(cell.Why, "\n"), "didn't match Pod's node affinity/selector")) {
			t.Errorf("-o json: %s why %q", key, cell.Why)
		}
	}

	// -o junit: a testsuite per learner, a testcase per check.
	suites := learnersJUnit(t, w, learners, 1)
	if suites.Tests != 15 || suites.Failures != 2 || suites.Errors != 0 || len(suites.Suites) != 3 {
		t.Errorf("-o junit: %d tests, %d failures, %d errors in %d suites; want 15, 2, 0 in 3", suites.Tests, suites.Failures, suites.Errors, len(suites.Suites))
	}
	for _, s := range suites.Suites {
		var failed []string
		for _, c := range s.Cases {
			if c.Failure != nil {
				failed = append(failed, s.Name+"/"+c.Name)
				if f := failures[s.Name+"/"+c.Name]; c.Failure.Message != f.message {
					t.Errorf("-o junit: %s/%s fails with %q, want %q", s.Name, c.Name, c.Failure.Message, f.message)
				}
			}
		}
		if len(s.Cases) != 5 || s.Tests != 5 || s.Failures != len(failed) {
			t.Errorf("-o junit: suite %s has %d testcases (tests=%d, failures=%d, %d failed), want 5", s.Name, len(s.Cases), s.Tests, s.Failures, len(failed))
		}
		if want := map[string]int{"alice": 0, "bob": 1, "carol": 1}[s.Name]; len(failed) != want {
			t.Errorf("-o junit: %s fails %v, want %d", s.Name, failed, want)
		}
	}

	// bob and carol fix theirs: everyone passes, exit 0.
	if _, err := admin.Resource(gvrDeployments).Namespace("bob-dev").Patch(ctx, "fleet", "application/merge-patch+json", []byte(`{"spec":{"replicas":3}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Resource(gvrDeployments).Namespace("carol-dev").Patch(ctx, "fleet", "application/merge-patch+json", []byte(`{"spec":{"template":{"spec":{"nodeSelector":null}}}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, l := range learners {
		settle(t, admin, l+"-dev", available(3))
	}
	rows, summary = learnerTable(t, w, learners, 0)
	for _, l := range learners {
		for _, c := range checks {
			if rows[l][c] != "✓" {
				t.Errorf("after the fixes, %s's %s: %q, want ✓", l, c, rows[l][c])
			}
		}
	}
	if want := "3 learner(s): 15 passed, 0 failed"; summary != want {
		t.Errorf("summary %q, want %q", summary, want)
	}
	if res := learnersJSON(t, w, learners, 0); res.Passed != 15 || res.ExitCode != 0 {
		t.Errorf("-o json after the fixes: %d passed, exit_code %d", res.Passed, res.ExitCode)
	}

	// alice asks for more pods than her quota allows (6): the API
	// refuses the seventh, and verify says which quota holds it.
	scale := func(n int) {
		t.Helper()
		if _, err := admin.Resource(gvrDeployments).Namespace("alice-dev").Patch(ctx, "fleet", "application/merge-patch+json", fmt.Appendf(nil, `{"spec":{"replicas":%d}}`, n), metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	scale(7)
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(500 * time.Millisecond) {
		out, code = w.lab(learners, "verify", "--learner", "alice", "--timeout", "1ms")
		if code == 1 && strings.Contains(out, "exceeded quota: learner-quota") || time.Now().After(deadline) {
			break
		}
	}
	if !strings.Contains(out, "✗ available") || !strings.Contains(out, "why:") || !strings.Contains(out, "exceeded quota: learner-quota") {
		t.Errorf("--learner alice over her quota: want ✗ available and why: naming learner-quota:\n%s", out)
	}
	scale(3)
	settle(t, admin, "alice-dev", available(3))
}

// cellSep is what lab verify --all-learners puts between columns: the
// table's padding, never inside a cell.
var cellSep = regexp.MustCompile(`\s{2,}`)

// learnerTable runs lab verify --all-learners, wants exit code want,
// and reads its table: each learner's cells by column (the checks, and
// "passed"), and the summary line.
func learnerTable(t *testing.T, w *workshop, learners []string, want int) (map[string]map[string]string, string) {
	t.Helper()
	out, errOut, code := w.labOut(learners, "verify", "--all-learners")
	if code != want {
		t.Fatalf("--all-learners: exit %d, want %d\n%s%s", code, want, out, errOut)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != len(learners)+2 {
		t.Fatalf("--all-learners prints %d lines, want a header, one per learner and a summary:\n%s", len(lines), out)
	}
	head := cellSep.Split(strings.TrimSpace(lines[0]), -1)
	if got, want := strings.Join(head, "|"), "LEARNER|DEPLOYMENT|REPLICAS|ROLLING-UPDATE|AVAILABLE|MANAGED-PODS|PASSED"; got != want {
		t.Fatalf("header %s, want %s:\n%s", got, want, out)
	}
	rows := map[string]map[string]string{}
	for _, line := range lines[1 : len(lines)-1] {
		f := cellSep.Split(strings.TrimSpace(line), -1)
		if len(f) != len(head) {
			t.Fatalf("row %q has %d cells, want %d:\n%s", line, len(f), len(head), out)
		}
		row := map[string]string{}
		for i, h := range head[1:] {
			row[strings.ToLower(h)] = f[i+1]
		}
		rows[f[0]] = row
	}
	for _, l := range learners {
		if rows[l] == nil {
			t.Fatalf("no row for %s:\n%s", l, out)
		}
	}
	return rows, lines[len(lines)-1]
}

// learnerResults is lab verify --all-learners -o json.
type learnerResults struct {
	Columns []struct{ Lab, Check string }
	Rows    []struct {
		Learner string
		Passed  int
		Cells   []struct {
			Status, Message, Hint, Object string
			Missing                       bool
			Why                           []string
		}
	}
	Passed, Failed, Errors int
	ExitCode               int `json:"exit_code"`
}

// jsonCell is one cell of --all-learners -o json.
type jsonCell struct {
	Status, Message, Hint, Object string
	Why                           []string
}

// cells are the table's cells by learner/check.
func (r *learnerResults) cells(t *testing.T) map[string]jsonCell {
	t.Helper()
	if len(r.Columns) != len(checks) {
		t.Fatalf("-o json: columns %+v, want deploy-fleet's %v", r.Columns, checks)
	}
	for i, c := range r.Columns {
		if c.Lab != "deploy-fleet" || c.Check != checks[i] {
			t.Fatalf("-o json: column %d is %s/%s, want deploy-fleet/%s", i, c.Lab, c.Check, checks[i])
		}
	}
	out := map[string]jsonCell{}
	for _, row := range r.Rows {
		if len(row.Cells) != len(checks) {
			t.Fatalf("-o json: %s has %d cells", row.Learner, len(row.Cells))
		}
		for i, c := range row.Cells {
			out[row.Learner+"/"+checks[i]] = jsonCell{c.Status, c.Message, c.Hint, c.Object, c.Why}
		}
	}
	if len(r.Rows) != 3 {
		t.Fatalf("-o json: %d rows, want 3", len(r.Rows))
	}
	return out
}

func learnersJSON(t *testing.T, w *workshop, ls []string, want int) *learnerResults {
	t.Helper()
	out, errOut, code := w.labOut(ls, "verify", "--all-learners", "-o", "json")
	var r learnerResults
	if err := json.Unmarshal([]byte(out), &r); err != nil || code != want {
		t.Fatalf("--all-learners -o json: exit %d (want %d), %v\n%s%s", code, want, err, out, errOut)
	}
	return &r
}

// junitReport is what the test reads of -o junit.
type junitReport struct {
	Tests    int `xml:"tests,attr"`
	Failures int `xml:"failures,attr"`
	Errors   int `xml:"errors,attr"`
	Suites   []struct {
		Name     string `xml:"name,attr"`
		Tests    int    `xml:"tests,attr"`
		Failures int    `xml:"failures,attr"`
		Cases    []struct {
			Name    string `xml:"name,attr"`
			Failure *struct {
				Message string `xml:"message,attr"`
			} `xml:"failure"`
		} `xml:"testcase"`
	} `xml:"testsuite"`
}

func learnersJUnit(t *testing.T, w *workshop, ls []string, want int) *junitReport {
	t.Helper()
	out, errOut, code := w.labOut(ls, "verify", "--all-learners", "-o", "junit")
	var r junitReport
	if err := xml.Unmarshal([]byte(out), &r); err != nil || code != want {
		t.Fatalf("--all-learners -o junit: exit %d (want %d), %v\n%s%s", code, want, err, out, errOut)
	}
	return &r
}

// state says whether a namespace's fleet is as a test waits for it to
// be, and if not, how it is.
type state func(dep *unstructured.Unstructured, pods []unstructured.Unstructured) (bool, string)

// available: the controller saw the last change, and n up-to-date
// replicas are available with none left over.
func available(n int64) state {
	return func(dep *unstructured.Unstructured, _ []unstructured.Unstructured) (bool, string) {
		st, _, _ := unstructured.NestedMap(dep.Object, "status")
		seen, _, _ := unstructured.NestedInt64(st, "observedGeneration")
		got := map[string]int64{}
		for _, k := range []string{"replicas", "updatedReplicas", "availableReplicas"} {
			got[k], _, _ = unstructured.NestedInt64(st, k)
		}
		ok := seen >= dep.GetGeneration() && got["replicas"] == n && got["updatedReplicas"] == n && got["availableReplicas"] == n
		return ok, fmt.Sprintf("generation %d seen %d, %v", dep.GetGeneration(), seen, got)
	}
}

// unschedulable: the controller saw the last change and made n pods,
// and the scheduler has said of each why no node takes it.
func unschedulable(n int) state {
	return func(dep *unstructured.Unstructured, pods []unstructured.Unstructured) (bool, string) {
		seen, _, _ := unstructured.NestedInt64(dep.Object, "status", "observedGeneration")
		said := 0
		for _, p := range pods {
			conds, _, _ := unstructured.NestedSlice(p.Object, "status", "conditions")
			for _, c := range conds {
				if c, _ := c.(map[string]any); c["type"] == "PodScheduled" && c["status"] == "False" && c["reason"] == "Unschedulable" {
					said++
				}
			}
		}
		return seen >= dep.GetGeneration() && len(pods) == n && said == n, fmt.Sprintf("%d pods, %d unschedulable", len(pods), said)
	}
}

// settle waits until ns's fleet is in state s.
func settle(t *testing.T, admin dynamic.Interface, ns string, s state) {
	t.Helper()
	ctx := context.Background()
	how := "not read"
	for deadline := time.Now().Add(90 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		dep, err := admin.Resource(gvrDeployments).Namespace(ns).Get(ctx, "fleet", metav1.GetOptions{})
		if err != nil {
			how = err.Error()
			continue
		}
		pods, err := admin.Resource(gvrPods).Namespace(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=fleet"})
		if err != nil {
			how = err.Error()
			continue
		}
		var live []unstructured.Unstructured
		for _, p := range pods.Items {
			if p.GetDeletionTimestamp() == nil {
				live = append(live, p)
			}
		}
		var ok bool
		if ok, how = s(dep, live); ok {
			return
		}
	}
	t.Fatalf("the fleet in %s never settled: %s", ns, how)
}
