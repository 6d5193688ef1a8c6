package report_test

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"strings"
	"syscall"
	"testing"

	"labs.dev/lab/lab/report"
	"labs.dev/lab/lab/ui/ansi"
	"labs.dev/lab/lab/verify"
	vt "labs.dev/lab/lab/verify/verifytest"
)

// Text is what a learner reads: every failure with its object, field,
// expected and actual value, message and hint; a missing object once;
// why a check could not run; the summary last.
func TestText(t *testing.T) {
	fleet := &verify.ObjectRef{APIVersion: "apps/v1", Kind: "Deployment", Namespace: "dev", Name: "fleet"}
	r := &verify.Result{Passed: 1, Failed: 2, Errors: 1, Labs: []verify.LabResult{{
		Name: "deploy-fleet", Title: "Deploy a Fleet of Pods",
		Checks: []verify.CheckResult{
			{Name: "deployment", Status: verify.Failed, Failures: []verify.Failure{{Object: fleet, Message: "no Deployment named fleet in namespace dev", Hint: "Write it.\nThen apply it.", Missing: true}}},
			{Name: "replicas", Status: verify.Failed, Failures: []verify.Failure{
				{Object: fleet, Message: "no Deployment named fleet in namespace dev", Missing: true},
				{Object: fleet, Field: "spec.replicas", Expected: ">= 3", Actual: "2", Message: "asks for 2\nnot 3"},
			}},
			{Name: "pods", Status: verify.Passed},
			{Name: "available", Status: verify.Errored, Err: &verify.UnreachableError{Host: "https://127.0.0.1:1", Context: "kind-kind", Err: syscall.ECONNREFUSED}},
		},
	}}}
	var b strings.Builder
	report.Text(&b, r, ansi.Style{})
	want := `deploy-fleet: Deploy a Fleet of Pods
  ✗ deployment
    Deployment dev/fleet
      no Deployment named fleet in namespace dev
      hint: Write it.
            Then apply it.
  ✗ replicas
      Deployment dev/fleet is missing (see above)
    Deployment dev/fleet: spec.replicas
      expected: >= 3
      actual:   2
      asks for 2
      not 3
  ✓ pods
  ! available: could not check: cannot reach the cluster at https://127.0.0.1:1 (context kind-kind): connection refused — is it up? run ` + "`lab up`" + `
1 passed, 3 failed
`
	if b.String() != want {
		t.Errorf("text:\n%s\nwant:\n%s", b.String(), want)
	}
	b.Reset()
	report.Text(&b, r, ansi.Style{Color: true})
	for _, w := range []string{"\x1b[1mdeploy-fleet: Deploy a Fleet of Pods\x1b[0m", "\x1b[31m✗\x1b[0m replicas", "\x1b[32m✓\x1b[0m pods", "\x1b[33m!\x1b[0m available", "\x1b[33mhint:\x1b[0m Write it."} {
		if !strings.Contains(b.String(), w) {
			t.Errorf("painted text lacks %q:\n%s", w, b.String())
		}
	}
}

func TestJSONAndJUnit(t *testing.T) {
	_, labs := vt.ShippedLabs(t)
	objs := vt.FleetObjects(3, int64(1))
	objs[0]["spec"].(map[string]any)["replicas"] = int64(2)
	r := vt.RunFake(t, labs, objs)
	r.Labs[0].Checks[4].Status, r.Labs[0].Checks[4].Err = verify.Errored, &verify.AuthorError{Source: "labs.hcl:9", Problem: "for_each must be a list or map"}
	r.Passed, r.Errors = r.Passed-1, 1

	var buf bytes.Buffer
	if err := report.JSON(&buf, r); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Passed, Failed, Errors int
		ExitCode               int `json:"exit_code"`
		Labs                   []struct {
			Checks []struct {
				Name, Status, Error string
				Failures            []verify.Failure
			}
		}
	}
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatalf("invalid JSON: %v\n%s", err, buf.String())
	}
	if got.ExitCode != 2 || got.Failed != 1 || got.Errors != 1 || got.Passed != 3 {
		t.Errorf("json: exit %d, %d passed, %d failed, %d errors:\n%s", got.ExitCode, got.Passed, got.Failed, got.Errors, buf.String())
	}
	checks := got.Labs[0].Checks
	if c := checks[1]; c.Name != "replicas" || c.Status != "failed" || len(c.Failures) != 1 || c.Failures[0].Field != "spec.replicas" || c.Failures[0].Object.Name != "fleet" {
		t.Errorf("json lacks the replicas failure:\n%s", buf.String())
	}
	if c := checks[4]; c.Status != "error" || !strings.HasPrefix(c.Error, "the check itself is wrong (labs.hcl:9): for_each") {
		t.Errorf("json lacks why %s could not check:\n%s", c.Name, buf.String())
	}

	buf.Reset()
	if err := report.JUnit(&buf, r); err != nil {
		t.Fatal(err)
	}
	var suites struct {
		Tests    int `xml:"tests,attr"`
		Failures int `xml:"failures,attr"`
		Errors   int `xml:"errors,attr"`
		Suites   []struct {
			Name  string `xml:"name,attr"`
			Cases []struct {
				Name    string `xml:"name,attr"`
				Failure *struct {
					Type string `xml:"type,attr"`
					Text string `xml:",chardata"`
				} `xml:"failure"`
				Error *struct {
					Type string `xml:"type,attr"`
				} `xml:"error"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(buf.Bytes(), &suites); err != nil {
		t.Fatalf("invalid JUnit XML: %v\n%s", err, buf.String())
	}
	if suites.Tests != 5 || suites.Failures != 1 || suites.Errors != 1 || len(suites.Suites) != 1 || suites.Suites[0].Name != "deploy-fleet" {
		t.Fatalf("junit: %+v", suites)
	}
	cases := suites.Suites[0].Cases
	if f := cases[1].Failure; f == nil || f.Type != "CheckFailed" || !strings.Contains(f.Text, "Deployment dev/fleet: spec.replicas") {
		t.Errorf("junit replicas case: %+v\n%s", cases[1], buf.String())
	}
	if e := cases[4].Error; e == nil || e.Type != "CouldNotCheck" {
		t.Errorf("junit %s case: %+v", cases[4].Name, cases[4])
	}
}
