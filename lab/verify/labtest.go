package verify

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	yamlutil "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// FieldManager is the server-side apply field manager of `lab test`.
const FieldManager = "lab-test"

// TestResult is what `lab test` found for one lab.
type TestResult struct {
	Lab string `json:"lab"`
	// Broken says the lab's checks are wrong: they pass before the
	// solution (Before) or fail with it (After). Reason says which.
	Broken bool   `json:"broken"`
	Reason string `json:"reason,omitempty"`
	// Error says the test could not run (Broken is then false).
	Error  string  `json:"error,omitempty"`
	Before *Result `json:"before,omitempty"`
	After  *Result `json:"after,omitempty"`
	// PassedBefore are checks that already pass on the fresh environment;
	// harmless alone, but worth a look.
	PassedBefore []string    `json:"passed_before,omitempty"`
	Applied      []ObjectRef `json:"applied,omitempty"`
}

// OK reports whether the lab is proven.
func (t *TestResult) OK() bool { return !t.Broken && t.Error == "" }

// TestOptions control Test.
type TestOptions struct {
	// Timeout overrides the checks' timeouts after the solution is applied.
	Timeout time.Duration
	// Progress receives a line per step; nil discards them.
	Progress func(string)
	// Learners lists what a learner made in the lab's namespaces (what
	// lab reset would delete); nil skips the look. A lab is proven only
	// on a fresh environment: stray work can fail its checks.
	Learners func(ctx context.Context) ([]ObjectRef, error)
}

// Test proves a lab on the current cluster: its checks must fail on the
// fresh environment, pass once the reference solution is applied
// (server-side apply), and the solution is removed again either way.
func Test(ctx context.Context, l *Lab, c *Cluster, opts TestOptions) *TestResult {
	say := opts.Progress
	if say == nil {
		say = func(string) {}
	}
	tr := &TestResult{Lab: l.Name}
	if l.Solution == "" {
		tr.Error = fmt.Sprintf("lab %s has no solution; add solution = \"manifests/%s/solution.yaml\" to its lab block", l.Name, l.Name)
		return tr
	}
	objs, err := readManifests(l.Solution, defaultNamespace(l))
	if err != nil {
		tr.Error = err.Error()
		return tr
	}
	// Refuse to run over the learner's work: the clean-up deletes what
	// the solution names.
	for _, o := range objs {
		exists, err := c.exists(ctx, o)
		if err != nil {
			tr.Error = err.Error()
			return tr
		}
		if exists {
			tr.Error = fmt.Sprintf("%s already exists, so this is not a fresh environment; run lab reset %s first", refOfObj(o), l.Name)
			return tr
		}
	}

	if opts.Learners != nil {
		refs, err := opts.Learners(ctx)
		if err != nil {
			tr.Error = err.Error()
			return tr
		}
		if len(refs) > 0 {
			var names []string
			for _, r := range refs[:min(len(refs), 5)] {
				names = append(names, r.String())
			}
			if len(refs) > 5 {
				names = append(names, fmt.Sprintf("and %d more", len(refs)-5))
			}
			tr.Error = fmt.Sprintf("not a fresh environment: lab did not make %s; run lab reset %s first (lab reset %s --dry-run lists what it removes)", strings.Join(names, ", "), l.Name, l.Name)
			return tr
		}
	}

	say(fmt.Sprintf("%s: checking the fresh environment (must fail)", l.Name))
	tr.Before = Run(ctx, []*Lab{l}, Options{Source: c, Once: true})
	switch tr.Before.ExitCode() {
	case 2:
		tr.Error = "could not check the fresh environment: " + firstError(tr.Before)
		return tr
	case 0:
		tr.Broken = true
		tr.Reason = "every check passes before the solution is applied: the checks do not test the task (or the environment already holds a solution)"
		return tr
	}
	for _, lr := range tr.Before.Labs {
		for _, cr := range lr.Checks {
			if cr.Status == Passed {
				tr.PassedBefore = append(tr.PassedBefore, cr.Name)
			}
		}
	}

	say(fmt.Sprintf("%s: applying %s", l.Name, l.Solution))
	defer func() {
		// Clean up even after Ctrl-C, bounded.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		say(fmt.Sprintf("%s: removing the solution", l.Name))
		if err := c.deleteAndWait(cctx, objs); err != nil && tr.Error == "" {
			tr.Error = "removing the solution: " + err.Error()
		}
	}()
	for _, o := range objs {
		if err := c.apply(ctx, o); err != nil {
			tr.Error = err.Error()
			return tr
		}
		tr.Applied = append(tr.Applied, refOfObj(o))
	}

	say(fmt.Sprintf("%s: checking the solution (must pass)", l.Name))
	tr.After = Run(ctx, []*Lab{l}, Options{Source: c, Timeout: opts.Timeout})
	switch tr.After.ExitCode() {
	case 2:
		tr.Error = "could not check the solution: " + firstError(tr.After)
	case 1:
		tr.Broken = true
		tr.Reason = "checks fail on the reference solution: the checks or the solution are wrong"
	}
	return tr
}

func defaultNamespace(l *Lab) string {
	if len(l.Namespaces) > 0 {
		return l.Namespaces[0]
	}
	return "default"
}

func firstError(r *Result) string {
	for _, l := range r.Labs {
		for _, c := range l.Checks {
			if c.Status == Errored {
				return c.Error
			}
		}
	}
	return "unknown error"
}

func refOfObj(o *unstructured.Unstructured) ObjectRef {
	return ObjectRef{APIVersion: o.GetAPIVersion(), Kind: o.GetKind(), Namespace: o.GetNamespace(), Name: o.GetName()}
}

// readManifests reads every object of a multi-document YAML file.
func readManifests(path, namespace string) ([]*unstructured.Unstructured, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read the solution: %w", err)
	}
	defer f.Close()
	src, err := io.ReadAll(io.LimitReader(f, 16<<20))
	if err != nil {
		return nil, fmt.Errorf("read the solution: %w", err)
	}
	r := yamlutil.NewYAMLReader(bufio.NewReader(bytes.NewReader(src)))
	var out []*unstructured.Unstructured
	for i := 1; ; i++ {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: document %d: %w", path, i, err)
		}
		if len(bytes.TrimSpace(stripComments(doc))) == 0 {
			continue
		}
		js, err := yaml.YAMLToJSON(doc)
		if err != nil {
			return nil, fmt.Errorf("%s: document %d is not valid YAML: %w", path, i, err)
		}
		o := &unstructured.Unstructured{}
		if err := o.UnmarshalJSON(js); err != nil {
			return nil, fmt.Errorf("%s: document %d is not a Kubernetes object: %w", path, i, err)
		}
		if o.GetName() == "" {
			return nil, fmt.Errorf("%s: document %d (%s) has no metadata.name", path, i, o.GetKind())
		}
		if o.GetNamespace() == "" {
			o.SetNamespace(namespace)
		}
		out = append(out, o)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s holds no objects", path)
	}
	return out, nil
}

func stripComments(doc []byte) []byte {
	var out []byte
	for _, line := range bytes.Split(doc, []byte("\n")) {
		if t := bytes.TrimSpace(line); len(t) > 0 && t[0] != '#' {
			out = append(out, line...)
			out = append(out, '\n')
		}
	}
	return out
}

func (c *Cluster) resourceFor(o *unstructured.Unstructured) (Mapping, string, error) {
	m, err := c.Mapping(o.GetAPIVersion(), o.GetKind())
	if err != nil {
		return Mapping{}, "", fmt.Errorf("%s: %w", refOfObj(o), err)
	}
	ns := o.GetNamespace()
	if !m.Namespaced {
		ns = ""
	}
	return m, ns, nil
}

func (c *Cluster) exists(ctx context.Context, o *unstructured.Unstructured) (bool, error) {
	m, ns, err := c.resourceFor(o)
	if err != nil {
		return false, err
	}
	_, err = c.dyn.Resource(m.Resource).Namespace(ns).Get(ctx, o.GetName(), metav1.GetOptions{})
	switch {
	case err == nil:
		return true, nil
	case apierrors.IsNotFound(err):
		return false, nil
	}
	return false, fmt.Errorf("look up %s: %w", refOfObj(o), c.wrap(err))
}

func (c *Cluster) apply(ctx context.Context, o *unstructured.Unstructured) error {
	m, ns, err := c.resourceFor(o)
	if err != nil {
		return err
	}
	data, err := o.MarshalJSON()
	if err != nil {
		return err
	}
	force := true
	_, err = c.dyn.Resource(m.Resource).Namespace(ns).Patch(ctx, o.GetName(), types.ApplyPatchType, data,
		metav1.PatchOptions{FieldManager: FieldManager, Force: &force})
	if err != nil {
		return fmt.Errorf("apply %s: %s", refOfObj(o), apiMessage(c.wrap(err)))
	}
	return nil
}

// deleteAndWait deletes objs (in reverse order) and waits until they are
// gone, so the next test starts fresh.
func (c *Cluster) deleteAndWait(ctx context.Context, objs []*unstructured.Unstructured) error {
	var errs []error
	policy := metav1.DeletePropagationForeground
	for i := len(objs) - 1; i >= 0; i-- {
		o := objs[i]
		m, ns, err := c.resourceFor(o)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		err = c.dyn.Resource(m.Resource).Namespace(ns).Delete(ctx, o.GetName(), metav1.DeleteOptions{PropagationPolicy: &policy})
		if err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("delete %s: %w", refOfObj(o), c.wrap(err)))
		}
	}
	for _, o := range objs {
		for {
			exists, err := c.exists(ctx, o)
			if err != nil {
				errs = append(errs, err)
				break
			}
			if !exists {
				break
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("%s still exists: %w", refOfObj(o), ctx.Err())
			case <-time.After(200 * time.Millisecond):
			}
		}
	}
	return errors.Join(errs...)
}
