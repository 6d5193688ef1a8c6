package verify

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"time"

	"github.com/hashicorp/hcl/v2"

	"labs.dev/lab/providers/kube/blocker"
)

// Status is a check's outcome.
type Status string

const (
	Passed  Status = "passed"
	Failed  Status = "failed"
	Errored Status = "error" // could not check: unreachable, forbidden, ...
)

// Result is the outcome of one Run.
type Result struct {
	Labs     []LabResult   `json:"labs"`
	Passed   int           `json:"passed"`
	Failed   int           `json:"failed"`
	Errors   int           `json:"errors"`
	Duration time.Duration `json:"-"`
}

// LabResult holds one lab's checks. Name is the lab instance's address
// (deploy-fleet["alice"]); Lab and Learner its block name and key.
type LabResult struct {
	Name    string        `json:"name"`
	Lab     string        `json:"lab,omitempty"`
	Learner string        `json:"learner,omitempty"`
	Title   string        `json:"title,omitempty"`
	Checks  []CheckResult `json:"checks"`
}

// CheckResult is one check's outcome after its retries.
type CheckResult struct {
	Lab      string
	Name     string
	Status   Status
	Failures []Failure
	// Err says why the check could not judge the work (Status Errored):
	// *UnreachableError, *NotServedError, *DeniedError, *SelectError,
	// *AuthorError or *InterruptedError.
	Err      error
	Attempts int
	Duration time.Duration
}

// MarshalJSON writes Err as its message.
func (c CheckResult) MarshalJSON() ([]byte, error) {
	msg := ""
	if c.Err != nil {
		msg = c.Err.Error()
	}
	return json.Marshal(struct {
		Name     string    `json:"name"`
		Status   Status    `json:"status"`
		Failures []Failure `json:"failures,omitempty"`
		Error    string    `json:"error,omitempty"`
		Attempts int       `json:"attempts"`
	}{c.Name, c.Status, c.Failures, msg, c.Attempts})
}

// Failure is one reason a check failed, as an instructor would say it.
type Failure struct {
	Object   *ObjectRef `json:"object,omitempty"`
	Field    string     `json:"field,omitempty"`
	Expected string     `json:"expected,omitempty"`
	Actual   string     `json:"actual,omitempty"`
	Message  string     `json:"message"`
	Hint     string     `json:"hint,omitempty"`
	// Source is where the assertion is written (labs.hcl:42).
	Source string `json:"source,omitempty"`
	// Why says, for a failure about a workload's status, why it is not
	// available: what holds the object itself, then each pod that is not
	// ready, with the scheduler's or kubelet's reason.
	Why []blocker.Reason `json:"why,omitempty"`
	// Missing says the failure is a named object that does not exist, so
	// a report can say it once for every check that selects it.
	Missing bool `json:"-"`

	missing *Selection // the selection that found nothing
}

// ExitCode is what `lab verify` exits with: 0 all passed, 1 a check
// failed, 2 a check could not be evaluated.
func (r *Result) ExitCode() int {
	switch {
	case r.Errors > 0:
		return 2
	case r.Failed > 0:
		return 1
	}
	return 0
}

// Summary is the last line of the text output.
func (r *Result) Summary() string {
	return fmt.Sprintf("%d passed, %d failed", r.Passed, r.Failed+r.Errors)
}

// Errs are the errors of the checks that could not judge the work, in
// order.
func (r *Result) Errs() []error {
	var out []error
	for _, l := range r.Labs {
		for _, c := range l.Checks {
			if c.Status == Errored && c.Err != nil {
				out = append(out, c.Err)
			}
		}
	}
	return out
}

func shortRange(r hcl.Range) string {
	if r.Filename == "" {
		return ""
	}
	return fmt.Sprintf("%s:%d", filepath.Base(r.Filename), r.Start.Line)
}
