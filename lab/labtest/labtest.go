// Package labtest proves a lab (`lab test`): its checks must fail on a
// fresh environment and pass once the lab's reference solution is
// applied, and the solution is removed again either way. The solution is
// read and server-side applied the way the manifest kind does it
// (providers/kubernetes), so a solution means what a manifest means.
package labtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"labs.dev/lab/lab/reset"
	"labs.dev/lab/lab/verify"
	"labs.dev/lab/providers/kube"
	"labs.dev/lab/providers/kubernetes"
)

// FieldManager is the server-side apply field manager of `lab test`.
const FieldManager = "lab-test"

// maxSolution bounds the solution file read, like a manifest file.
const maxSolution = 16 << 20

// Result is what `lab test` found for one lab.
type Result struct {
	Lab string `json:"lab"`
	// Broken says the lab's checks are wrong: they pass before the
	// solution (Before) or fail with it (After). Reason says which.
	Broken bool   `json:"broken"`
	Reason string `json:"reason,omitempty"`
	// Err says the test could not run (Broken is then false): a
	// *NotFreshError, a verify error (unreachable, ...) or a solution
	// that cannot be read or applied.
	Err    error          `json:"-"`
	Before *verify.Result `json:"before,omitempty"`
	After  *verify.Result `json:"after,omitempty"`
	// PassedBefore are checks that already pass on the fresh environment;
	// harmless alone, but worth a look.
	PassedBefore []string           `json:"passed_before,omitempty"`
	Applied      []verify.ObjectRef `json:"applied,omitempty"`
}

// OK reports whether the lab is proven.
func (r *Result) OK() bool { return !r.Broken && r.Err == nil }

// Evidence is the run of the checks that shows why a broken lab is
// broken: the one with the solution applied, else the one before it;
// nil when neither ran.
func (r *Result) Evidence() *verify.Result {
	if r.After != nil {
		return r.After
	}
	return r.Before
}

// MarshalJSON writes Err as "error", its message.
func (r *Result) MarshalJSON() ([]byte, error) {
	type plain Result
	msg := ""
	if r.Err != nil {
		msg = r.Err.Error()
	}
	return json.Marshal(struct {
		*plain
		Error string `json:"error,omitempty"`
	}{(*plain)(r), msg})
}

// NotFreshError says the environment already holds work a lab test
// would be confused by, or would delete: the solution's objects, or
// anything lab did not make in the lab's namespaces.
type NotFreshError struct {
	Lab string
	// Existing is an object of the solution that already exists.
	Existing *verify.ObjectRef
	// Stray is what lab reset would delete.
	Stray []verify.ObjectRef
}

func (e *NotFreshError) Error() string {
	if e.Existing != nil {
		return fmt.Sprintf("%s already exists, so this is not a fresh environment; run lab reset %s first", e.Existing, e.Lab)
	}
	var names []string
	for _, r := range e.Stray[:min(len(e.Stray), 5)] {
		names = append(names, r.String())
	}
	if len(e.Stray) > 5 {
		names = append(names, fmt.Sprintf("and %d more", len(e.Stray)-5))
	}
	return fmt.Sprintf("not a fresh environment: lab did not make %s; run lab reset %s first (lab reset %s --dry-run lists what it removes)", strings.Join(names, ", "), e.Lab, e.Lab)
}

// Options control Test.
type Options struct {
	// Timeout overrides the checks' timeouts after the solution is applied.
	Timeout time.Duration
	// Progress receives a line per step; nil discards them.
	Progress func(string)
	// Reset says what the lab file made, to look for a learner's work in
	// the lab's namespaces first (what lab reset would delete); nil skips
	// the look. Its DryRun is ignored: the look deletes nothing.
	Reset *reset.Options
}

// Test proves l on the cluster c talks to: its checks must fail on the
// fresh environment, pass once the reference solution is applied, and
// the solution is removed again either way.
func Test(ctx context.Context, l *verify.Lab, c *kube.Client, opts Options) *Result {
	say := opts.Progress
	if say == nil {
		say = func(string) {}
	}
	r := &Result{Lab: l.Name}
	if l.Solution == "" {
		r.Err = fmt.Errorf("lab %s has no solution; add solution = \"manifests/%s/solution.yaml\" to its lab block", l.Name, l.Name)
		return r
	}
	objs, err := readSolution(c, l)
	if err != nil {
		r.Err = err
		return r
	}
	// Refuse to run over the learner's work: the clean-up deletes what
	// the solution names.
	for _, o := range objs {
		_, err := o.Resource.Get(ctx, o.GetName(), metav1.GetOptions{})
		switch {
		case err == nil:
			ref := refOf(o)
			r.Err = &NotFreshError{Lab: l.Name, Existing: &ref}
			return r
		case !apierrors.IsNotFound(err):
			r.Err = fmt.Errorf("look up %s: %w", o, verify.Reach(c, err))
			return r
		}
	}
	if opts.Reset != nil && len(l.Namespaces) > 0 {
		look := *opts.Reset
		look.DryRun = true
		stray, err := reset.Run(ctx, l, c, look)
		if err != nil {
			r.Err = err
			return r
		}
		if len(stray.Deleted) > 0 {
			r.Err = &NotFreshError{Lab: l.Name, Stray: stray.Deleted}
			return r
		}
	}

	cl := verify.NewCluster(c)
	say(fmt.Sprintf("%s: checking the fresh environment (must fail)", l.Name))
	r.Before = verify.Run(ctx, []*verify.Lab{l}, verify.Options{Source: cl, Once: true})
	switch r.Before.ExitCode() {
	case 2:
		r.Err = fmt.Errorf("could not check the fresh environment: %w", firstErr(r.Before))
		return r
	case 0:
		r.Broken = true
		r.Reason = "every check passes before the solution is applied: the checks do not test the task (or the environment already holds a solution)"
		return r
	}
	for _, lr := range r.Before.Labs {
		for _, cr := range lr.Checks {
			if cr.Status == verify.Passed {
				r.PassedBefore = append(r.PassedBefore, cr.Name)
			}
		}
	}

	say(fmt.Sprintf("%s: applying %s", l.Name, l.Solution))
	defer func() {
		// Clean up even after Ctrl-C, bounded.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		say(fmt.Sprintf("%s: removing the solution", l.Name))
		if err := deleteAndWait(cctx, c, objs); err != nil && r.Err == nil {
			r.Err = fmt.Errorf("removing the solution: %w", err)
		}
	}()
	for _, o := range objs {
		if _, err := kubernetes.Apply(ctx, o, FieldManager); err != nil {
			r.Err = fmt.Errorf("apply %s (document %d of %s): %w", o, o.Doc, l.Solution, verify.Reach(c, err))
			return r
		}
		r.Applied = append(r.Applied, refOf(o))
	}

	say(fmt.Sprintf("%s: checking the solution (must pass)", l.Name))
	r.After = verify.Run(ctx, []*verify.Lab{l}, verify.Options{Source: cl, Timeout: opts.Timeout})
	switch r.After.ExitCode() {
	case 2:
		r.Err = fmt.Errorf("could not check the solution: %w", firstErr(r.After))
	case 1:
		r.Broken = true
		r.Reason = "checks fail on the reference solution: the checks or the solution are wrong"
	}
	return r
}

// readSolution reads and resolves l's solution: objects without a
// namespace go to the lab's first namespace.
func readSolution(c *kube.Client, l *verify.Lab) ([]kubernetes.Object, error) {
	f, err := os.Open(l.Solution)
	if err != nil {
		return nil, fmt.Errorf("read the solution: %w", err)
	}
	defer f.Close()
	src, err := io.ReadAll(io.LimitReader(f, maxSolution+1))
	if err != nil {
		return nil, fmt.Errorf("read the solution: %w", err)
	}
	if len(src) > maxSolution {
		return nil, fmt.Errorf("%s is over %d bytes; a solution is a few manifests", l.Solution, maxSolution)
	}
	objs, err := kubernetes.Decode(src)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", l.Solution, err)
	}
	if len(objs) == 0 {
		return nil, fmt.Errorf("%s holds no objects", l.Solution)
	}
	ns := "default"
	if len(l.Namespaces) > 0 {
		ns = l.Namespaces[0]
	}
	objs, err = kubernetes.Resolve(c, objs, ns)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", l.Solution, verify.Reach(c, err))
	}
	return objs, nil
}

func firstErr(r *verify.Result) error {
	if errs := r.Errs(); len(errs) > 0 {
		return errs[0]
	}
	return errors.New("unknown error")
}

func refOf(o kubernetes.Object) verify.ObjectRef {
	return verify.ObjectRef{APIVersion: o.GetAPIVersion(), Kind: o.GetKind(), Namespace: o.GetNamespace(), Name: o.GetName()}
}

// deleteAndWait deletes objs (in reverse order) and waits until they are
// gone, so the next test starts fresh. Built-in kinds go in the
// foreground, so "gone" includes a Deployment's pods.
func deleteAndWait(ctx context.Context, c *kube.Client, objs []kubernetes.Object) error {
	var errs []error
	for i := len(objs) - 1; i >= 0; i-- {
		o := objs[i]
		policy := metav1.DeletePropagationForeground
		if gv, err := schema.ParseGroupVersion(o.GetAPIVersion()); err != nil || strings.Contains(gv.Group, ".") {
			// The garbage collector may not watch a new CRD's kind yet
			// and would hold a foreground deletion until it does.
			policy = metav1.DeletePropagationBackground
		}
		err := o.Resource.Delete(ctx, o.GetName(), metav1.DeleteOptions{PropagationPolicy: &policy})
		if err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("delete %s: %w", o, verify.Reach(c, err)))
		}
	}
	for _, o := range objs {
		for {
			_, err := o.Resource.Get(ctx, o.GetName(), metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				break
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("look up %s: %w", o, verify.Reach(c, err)))
				break
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("%s still exists: %w", o, ctx.Err())
			case <-time.After(200 * time.Millisecond):
			}
		}
	}
	return errors.Join(errs...)
}
