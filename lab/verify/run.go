package verify

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"labs.dev/lab/lab/resource"
)

// Options control Run.
type Options struct {
	Source Source
	// Timeout overrides every check's timeout when > 0.
	Timeout time.Duration
	// Once evaluates every check once, without retrying.
	Once bool
	// OnCheck, when set, is called as each check finishes (from any
	// goroutine, one call at a time), for progress output.
	OnCheck func(CheckResult)
}

// maxParallel bounds the checks in flight.
const maxParallel = 16

// Run evaluates every check of labs in parallel and returns the results
// in the labs' and checks' declaration order.
func Run(ctx context.Context, labs []*Lab, opts Options) *Result {
	began := time.Now()
	res := &Result{}
	var wg sync.WaitGroup
	var cbMu sync.Mutex
	sem := make(chan struct{}, maxParallel)
	for _, l := range labs {
		lr := LabResult{Name: l.Address(), Title: l.Title, Checks: make([]CheckResult, len(l.Checks))}
		if l.Multi {
			lr.Lab, lr.Learner = l.Name, l.Learner()
		}
		res.Labs = append(res.Labs, lr)
		for i, c := range l.Checks {
			wg.Add(1)
			go func(out *CheckResult) {
				defer wg.Done()
				sem <- struct{}{}
				defer func() { <-sem }()
				*out = runCheck(ctx, l, c, opts, began)
				if opts.OnCheck != nil {
					cbMu.Lock()
					opts.OnCheck(*out)
					cbMu.Unlock()
				}
			}(&lr.Checks[i])
		}
	}
	wg.Wait()
	res.Duration = time.Since(began)
	for _, lr := range res.Labs {
		for _, c := range lr.Checks {
			switch c.Status {
			case Passed:
				res.Passed++
			case Failed:
				res.Failed++
			default:
				res.Errors++
			}
		}
	}
	return res
}

func runCheck(ctx context.Context, l *Lab, c *Check, opts Options, began time.Time) CheckResult {
	timeout := c.Timeout
	if timeout == 0 {
		timeout = l.Timeout
	}
	if opts.Timeout > 0 {
		timeout = opts.Timeout
	}
	start := time.Now()
	deadline := start.Add(timeout)
	notBefore := began // the first attempts of all checks share listings
	backoff := 100 * time.Millisecond
	var r CheckResult
	for attempt := 1; ; attempt++ {
		r = attemptCheck(ctx, l, c, opts.Source, notBefore)
		r.Attempts = attempt
		end := deadline
		if onlyMissing(r) && start.Add(missingGrace).Before(end) {
			// An object the learner created exists as soon as kubectl
			// returns; waiting out the whole timeout for one never made
			// only keeps a learner from the answer. Once it exists, the
			// check gets its whole timeout again.
			end = start.Add(missingGrace)
		}
		if r.Status != Failed || opts.Once || ctx.Err() != nil || time.Now().Add(backoff).After(end) {
			break
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
		case <-t.C:
		}
		if ctx.Err() != nil {
			break
		}
		backoff = min(backoff*2, time.Second)
		notBefore = time.Now()
	}
	if ctx.Err() != nil && r.Status != Passed {
		r.Status, r.Err, r.Failures = Errored, &InterruptedError{Err: ctx.Err()}, nil
	}
	// A missing object: say where it is if it went to another namespace.
	if f, ok := opts.Source.(elsewhereFinder); ok && r.Status == Failed {
		for i := range r.Failures {
			if sel := r.Failures[i].missing; sel != nil {
				if refs := f.Elsewhere(ctx, sel); len(refs) > 0 {
					var where []string
					for _, ref := range refs {
						where = append(where, ref.Namespace)
					}
					r.Failures[i].Message += fmt.Sprintf("; there is one in namespace %s, but the task needs it in %s", strings.Join(where, ", "), sel.Namespace)
				}
			}
		}
	}
	// A workload that is not available: say why, pod by pod.
	if w, ok := opts.Source.(whyFinder); ok && r.Status == Failed && ctx.Err() == nil {
		explainStatus(ctx, w, r.Failures, began)
	}
	r.Duration = time.Since(start)
	return r
}

// missingGrace is how long a check retries when all it found wrong is a
// named object that does not exist.
const missingGrace = 2 * time.Second

func onlyMissing(r CheckResult) bool {
	if r.Status != Failed || len(r.Failures) == 0 {
		return false
	}
	for _, f := range r.Failures {
		if f.missing == nil {
			return false
		}
	}
	return true
}

func attemptCheck(ctx context.Context, l *Lab, c *Check, src Source, notBefore time.Time) CheckResult {
	r := CheckResult{Lab: l.Address(), Name: c.Name, Status: Passed}
	vars := map[string]cty.Value{}
	singles := map[string]bool{}
	var seen [][]Object // what each selection matched, for written()
	for _, s := range c.Selections {
		objs, err := src.Objects(ctx, s, notBefore)
		if err != nil {
			var u *UnreachableError
			if !errors.As(err, &u) {
				err = &SelectError{Label: s.Label, What: s.Describe(), Err: err}
			}
			r.Status, r.Err = Errored, err
			return r
		}
		matched := filter(objs, s)
		seen = append(seen, matched)
		switch {
		case !s.Single():
			vars[s.Label] = tuple(values(matched))
		case len(matched) > 0:
			vars[s.Label] = matched[0].Value
			singles[s.Label] = true
		case s.Optional:
			vars[s.Label] = cty.NullVal(cty.DynamicPseudoType)
		default:
			r.Status = Failed
			ns := ""
			if s.Namespace != "" {
				ns = " in namespace " + s.Namespace
			}
			msg := fmt.Sprintf("no %s named %s%s", s.Kind, s.Name, ns)
			if names := objectNames(objs); len(names) > 0 && len(names) <= 5 {
				// Often a typo or another name: show what is there.
				msg += fmt.Sprintf("; %s%s: %s", plural(s.Kind), ns, strings.Join(names, ", "))
			}
			r.Failures = append(r.Failures, Failure{
				Object:  &ObjectRef{APIVersion: s.APIVersion, Kind: s.Kind, Namespace: s.Namespace, Name: s.Name},
				Message: msg,
				Hint:    s.Hint,
				Source:  shortRange(s.DeclRange),
				Missing: true,
				missing: s,
			})
		}
	}
	if r.Status == Failed {
		return r // the assertions would only repeat that something is missing
	}
	ev := &evaluator{lab: l, check: c, singles: singles}
	ctxv := l.ctx.NewChild()
	ctxv.Variables = vars
	ctxv.Functions = functions(seen)
	for _, a := range c.Asserts {
		fs, err := ev.assert(a, ctxv)
		if err != nil {
			// Not the learner's failure: "could not check" (exit 2).
			r.Status, r.Failures, r.Err = Errored, nil, err
			return r
		}
		if len(fs) > 0 {
			r.Status = Failed
			r.Failures = append(r.Failures, fs...)
		}
	}
	return r
}

func objectNames(objs []Object) []string {
	var out []string
	for _, o := range objs {
		if n, ok := attr(o.Value, "metadata.name"); ok && n.Type() == cty.String && !n.IsNull() {
			out = append(out, n.AsString())
		}
	}
	sort.Strings(out)
	return out
}

func values(objs []Object) []cty.Value {
	out := make([]cty.Value, len(objs))
	for i, o := range objs {
		out[i] = o.Value
	}
	return out
}

// filter keeps the objects matching the selection's name and labels.
func filter(objs []Object, s *Selection) []Object {
	var out []Object
	for _, obj := range objs {
		o := obj.Value
		if s.Namespace != "" {
			if ns, ok := attr(o, "metadata.namespace"); ok && ns.Type() == cty.String && !ns.IsNull() && ns.AsString() != s.Namespace {
				continue
			}
		}
		if s.Name != "" {
			n, ok := attr(o, "metadata.name")
			if !ok || n.Type() != cty.String || n.IsNull() || n.AsString() != s.Name {
				continue
			}
		}
		if !labelsMatch(o, s.Labels) {
			continue
		}
		out = append(out, obj)
	}
	return out
}

func labelsMatch(o cty.Value, want map[string]string) bool {
	for k, v := range want {
		l, ok := attr(o, "metadata.labels")
		if !ok || l.IsNull() || !l.Type().IsObjectType() || !l.Type().HasAttribute(k) {
			return false
		}
		got := l.GetAttr(k)
		if got.Type() != cty.String || got.IsNull() || got.AsString() != v {
			return false
		}
	}
	return true
}

// evaluator evaluates one check's assertions and explains failures.
type evaluator struct {
	lab     *Lab
	check   *Check
	singles map[string]bool // selections that are one object
}

// assert evaluates a; the error is an *AuthorError, a mistake in the
// assertion itself.
func (ev *evaluator) assert(a *Assert, ctx *hcl.EvalContext) ([]Failure, error) {
	if a.ForEach == nil {
		f, err := ev.one(a, ctx, nil)
		if f != nil {
			return []Failure{*f}, nil
		}
		return nil, err
	}
	coll, diags := a.ForEach.Value(ctx)
	if diags.HasErrors() {
		return []Failure{ev.evalFailure(a, ctx, diags, "for_each")}, nil
	}
	coll, _ = coll.UnmarkDeep()
	if coll.IsNull() || !coll.IsKnown() {
		return nil, nil
	}
	ty := coll.Type()
	if !(ty.IsTupleType() || ty.IsListType() || ty.IsSetType() || ty.IsMapType() || ty.IsObjectType()) {
		return nil, &AuthorError{Source: shortRange(a.DeclRange), Problem: fmt.Sprintf("for_each must be a list or map, not %s", ty.FriendlyName())}
	}
	var out []Failure
	i := 0
	for it := coll.ElementIterator(); it.Next(); i++ {
		k, v := it.Element()
		if ty.IsTupleType() || ty.IsListType() || ty.IsSetType() {
			k = cty.NumberIntVal(int64(i))
		}
		each := ctx.NewChild()
		each.Variables = map[string]cty.Value{"each": cty.ObjectVal(map[string]cty.Value{"key": k, "value": v})}
		f, err := ev.one(a, each, &v)
		if err != nil {
			return nil, err
		}
		if f != nil {
			out = append(out, *f)
		}
	}
	return out, nil
}

// one evaluates a's condition in ctx; each is the for_each element.
func (ev *evaluator) one(a *Assert, ctx *hcl.EvalContext, each *cty.Value) (*Failure, error) {
	cond, diags := a.Condition.Value(ctx)
	if diags.HasErrors() {
		f := ev.evalFailure(a, ctx, diags, "condition")
		if each != nil {
			if ref, ok := refOf(*each); ok {
				f.Object = &ref
			}
		}
		return &f, nil
	}
	cond, _ = cond.UnmarkDeep()
	if cond.IsKnown() && !cond.IsNull() && cond.Type() == cty.Bool && cond.True() {
		return nil, nil
	}
	if cond.IsKnown() && !cond.IsNull() && cond.Type() != cty.Bool {
		return nil, &AuthorError{Source: shortRange(a.DeclRange), Problem: fmt.Sprintf("the condition must be true or false, but it is %s", show(cond))}
	}
	ex := ev.explain(a.Condition, ctx, each)
	f := Failure{Object: ex.object, Field: ex.field, Expected: ex.expected, Source: shortRange(a.DeclRange)}
	if ex.actual != cty.NilVal {
		f.Actual = show(ex.actual)
		switch {
		case ex.note != "" && ex.actual.IsNull():
			f.Actual = ex.note
		case ex.note != "":
			f.Actual += " (" + ex.note + ")"
		case ex.raw == cty.NilVal || ex.raw.RawEquals(ex.actual):
		case ex.raw.IsNull():
			f.Actual = show(ex.actual) + " (not set)"
		default:
			f.Actual = show(ex.raw) + " (= " + show(ex.actual) + ")"
		}
	}
	msgVal := ex.actual
	if ex.raw != cty.NilVal && !ex.raw.IsNull() {
		msgVal = ex.raw
	}
	f.Message, f.Hint = ev.messages(a, ctx, msgVal, ex.expectedVal)
	return &f, nil
}

// messages evaluates error_message and hint with actual and expected in
// scope.
func (ev *evaluator) messages(a *Assert, ctx *hcl.EvalContext, actual, expected cty.Value) (string, string) {
	mctx := ctx.NewChild()
	mctx.Variables = map[string]cty.Value{"actual": printable(actual), "expected": printable(expected)}
	text := func(e hcl.Expression) (string, error) {
		v, diags := e.Value(mctx)
		if diags.HasErrors() {
			return "", errors.New(diagText(diags))
		}
		v, _ = v.UnmarkDeep()
		if v.IsNull() || !v.IsKnown() || v.Type() != cty.String {
			return show(v), nil
		}
		return v.AsString(), nil
	}
	msg, err := text(a.ErrorMessage)
	if err != nil {
		msg = fmt.Sprintf("condition %s is false (error_message could not be evaluated: %s)", ev.source(a.Condition), err)
	}
	hint := ""
	if a.Hint != nil {
		hint, _ = text(a.Hint)
	}
	return msg, hint
}

// printable makes actual/expected usable in a message template: nulls
// and collections become text.
func printable(v cty.Value) cty.Value {
	if v == cty.NilVal || v.IsNull() || !v.IsKnown() {
		return cty.StringVal("not set")
	}
	v, _ = v.UnmarkDeep()
	if v.Type().IsPrimitiveType() {
		return v
	}
	return cty.StringVal(show(v))
}

// evalFailure turns an evaluation error into a failure. Most are a field
// the learner did not set ("does not have an attribute named ...").
func (ev *evaluator) evalFailure(a *Assert, ctx *hcl.EvalContext, diags hcl.Diagnostics, what string) Failure {
	f := Failure{Source: shortRange(a.DeclRange)}
	d := diags[0]
	if d.Subject != nil {
		if expr := findTraversal(a.Condition, *d.Subject); expr != nil {
			f.Object, f.Field, _ = ev.locate(expr, ctx)
		}
		if f.Field == "" {
			f.Field = ev.sourceRange(*d.Subject)
		}
	}
	f.Actual = "not set"
	if !strings.Contains(d.Summary, "Unsupported attribute") && !strings.Contains(d.Summary, "Invalid index") {
		f.Actual = ""
	}
	msg, hint := ev.messages(a, ctx, cty.NilVal, cty.NilVal)
	f.Message, f.Hint = msg, hint
	if f.Actual == "" {
		f.Message += fmt.Sprintf(" (%s could not be evaluated: %s)", what, diagText(diags))
	}
	return f
}

func diagText(diags hcl.Diagnostics) string {
	var parts []string
	for _, d := range diags {
		if d.Severity == hcl.DiagError {
			parts = append(parts, strings.TrimSuffix(d.Summary+": "+d.Detail, "."))
		}
	}
	return strings.Join(parts, "; ")
}

type explanation struct {
	object      *ObjectRef
	field       string
	actual      cty.Value // the compared value
	raw         cty.Value // the field's own value, when actual derives from it
	expected    string
	expectedVal cty.Value
	// note says what actual is, replacing the usual rendering when set:
	// "filled in by Kubernetes".
	note string
}

var opText = map[*hclsyntax.Operation]string{
	hclsyntax.OpEqual: "", hclsyntax.OpNotEqual: "not ", hclsyntax.OpLessThan: "< ", hclsyntax.OpLessThanOrEqual: "<= ",
	hclsyntax.OpGreaterThan: "> ", hclsyntax.OpGreaterThanOrEqual: ">= ",
}

var flipped = map[*hclsyntax.Operation]*hclsyntax.Operation{
	hclsyntax.OpEqual: hclsyntax.OpEqual, hclsyntax.OpNotEqual: hclsyntax.OpNotEqual,
	hclsyntax.OpLessThan: hclsyntax.OpGreaterThan, hclsyntax.OpLessThanOrEqual: hclsyntax.OpGreaterThanOrEqual,
	hclsyntax.OpGreaterThan: hclsyntax.OpLessThan, hclsyntax.OpGreaterThanOrEqual: hclsyntax.OpLessThanOrEqual,
}

// explain finds, in a false condition, the part that is false: for
// a && b the false side, for a comparison the side reading an object
// (actual) against the other (expected).
func (ev *evaluator) explain(expr hcl.Expression, ctx *hcl.EvalContext, each *cty.Value) explanation {
	switch x := expr.(type) {
	case *hclsyntax.ParenthesesExpr:
		return ev.explain(x.Expression, ctx, each)
	case *hclsyntax.BinaryOpExpr:
		if x.Op == hclsyntax.OpLogicalAnd {
			if v, d := x.LHS.Value(ctx); d.HasErrors() || isFalse(v) {
				return ev.explain(x.LHS, ctx, each)
			}
			return ev.explain(x.RHS, ctx, each)
		}
		if x.Op == hclsyntax.OpLogicalOr {
			// "not applicable || requirement": the last alternative is the
			// requirement the learner missed.
			return ev.explain(x.RHS, ctx, each)
		}
		if _, ok := opText[x.Op]; ok {
			field, other, op := x.LHS, x.RHS, x.Op
			if !ev.readsObject(field) && ev.readsObject(other) {
				field, other, op = other, field, flipped[op]
			}
			ex := explanation{}
			ex.actual, _ = field.Value(ctx)
			ex.expectedVal, _ = other.Value(ctx)
			ex.expected = opText[op] + show(ex.expectedVal)
			ex.object, ex.field, ex.raw = ev.locate(field, ctx)
			ev.eachObject(&ex, each)
			return ex
		}
	case *hclsyntax.FunctionCallExpr:
		if ex, ok := ev.explainWritten(x, ctx, each); ok {
			return ex
		}
	case *hclsyntax.UnaryOpExpr:
		if x.Op == hclsyntax.OpLogicalNot {
			ex := explanation{expected: "false", expectedVal: cty.False}
			ex.actual, _ = x.Val.Value(ctx)
			ex.object, ex.field, ex.raw = ev.locate(x.Val, ctx)
			ev.eachObject(&ex, each)
			return ex
		}
	}
	ex := explanation{expected: "true", expectedVal: cty.True}
	ex.actual, _ = expr.Value(ctx)
	ex.object, ex.field, ex.raw = ev.locate(expr, ctx)
	ev.eachObject(&ex, each)
	return ex
}

// explainWritten explains a false written(object, "path", ...): the
// field is the path, and its value is what the API server filled in.
func (ev *evaluator) explainWritten(x *hclsyntax.FunctionCallExpr, ctx *hcl.EvalContext, each *cty.Value) (explanation, bool) {
	if x.Name != "written" || len(x.Args) < 2 {
		return explanation{}, false
	}
	path, d := x.Args[1].Value(ctx)
	path, _ = path.UnmarkDeep()
	if d.HasErrors() || !path.IsKnown() || path.IsNull() || path.Type() != cty.String {
		return explanation{}, false
	}
	obj, d := x.Args[0].Value(ctx)
	if d.HasErrors() {
		return explanation{}, false
	}
	ex := explanation{field: path.AsString(), expected: "set in your manifest", expectedVal: cty.True, actual: cty.NullVal(cty.DynamicPseudoType), note: "not set"}
	if ref, ok := refOf(obj); ok {
		ex.object = &ref
	}
	if v, ok := attr(obj, path.AsString()); ok && !v.IsNull() {
		ex.actual, ex.note = v, "filled in by Kubernetes"
	}
	ev.eachObject(&ex, each)
	return ex, true
}

func (ev *evaluator) eachObject(ex *explanation, each *cty.Value) {
	if each == nil {
		return
	}
	if ref, ok := refOf(*each); ok {
		ex.object = &ref
	}
}

func isFalse(v cty.Value) bool {
	v, _ = v.UnmarkDeep()
	return !v.IsKnown() || v.IsNull() || v.Type() != cty.Bool || v.False()
}

// readsObject reports whether expr reads a selected object.
func (ev *evaluator) readsObject(expr hcl.Expression) bool {
	for _, t := range expr.Variables() {
		if ev.isSelection(t.RootName()) || t.RootName() == "each" {
			return true
		}
	}
	return false
}

func (ev *evaluator) isSelection(name string) bool {
	for _, s := range ev.check.Selections {
		if s.Label == name {
			return true
		}
	}
	return false
}

// locate names the object and field expr reads: the first traversal of
// one object (a named selection, each.value, or an indexed list item)
// with a path. field is that path, raw its value when expr is more than
// the bare traversal; without such a path, field is expr's source.
func (ev *evaluator) locate(expr hcl.Expression, ctx *hcl.EvalContext) (*ObjectRef, string, cty.Value) {
	var object *ObjectRef
	for _, t := range expr.Variables() {
		root := t.RootName()
		var base hcl.Traversal // the traversal up to the object itself
		switch {
		case root == "each":
			if len(t) < 2 || attrStep(t[1]) != "value" {
				continue
			}
			base = t[:2]
		case ev.singles[root]:
			base = t[:1]
		case ev.isSelection(root):
			if len(t) < 2 {
				continue
			}
			if _, ok := t[1].(hcl.TraverseIndex); !ok {
				continue
			}
			base = t[:2]
		default:
			continue
		}
		objVal, d := base.TraverseAbs(ctx)
		if d.HasErrors() {
			continue
		}
		ref, ok := refOf(objVal)
		if !ok {
			continue
		}
		if object == nil {
			object = &ref
		}
		rest := t[len(base):]
		if len(rest) == 0 {
			continue
		}
		path := traversalPath(rest)
		raw := cty.NilVal
		if ste, ok := expr.(*hclsyntax.ScopeTraversalExpr); !ok || len(ste.Traversal) != len(t) {
			if v, d := t.TraverseAbs(ctx); !d.HasErrors() {
				raw = v
			} else {
				raw = cty.NullVal(cty.DynamicPseudoType)
			}
		}
		return &ref, path, raw
	}
	return object, ev.source(expr), cty.NilVal
}

func attrStep(t hcl.Traverser) string {
	if a, ok := t.(hcl.TraverseAttr); ok {
		return a.Name
	}
	return ""
}

// traversalPath is the field path steps name:
// spec.template.spec.containers[0].image.
func traversalPath(steps hcl.Traversal) string {
	var p resource.Path
	for _, s := range steps {
		switch x := s.(type) {
		case hcl.TraverseAttr:
			p = p.Attr(x.Name)
		case hcl.TraverseIndex:
			switch x.Key.Type() {
			case cty.Number:
				i, _ := x.Key.AsBigFloat().Int64()
				p = p.Index(int(i))
			case cty.String:
				p = p.Field(x.Key.AsString())
			}
		case hcl.TraverseSplat:
			p = p.Splat()
		}
	}
	return p.String()
}

// findTraversal returns the traversal expression inside expr that covers
// r (where an evaluation error points), so the error names its object.
func findTraversal(expr hcl.Expression, r hcl.Range) hcl.Expression {
	var found hcl.Expression
	if se, ok := expr.(hclsyntax.Expression); ok {
		_ = hclsyntax.VisitAll(se, func(n hclsyntax.Node) hcl.Diagnostics {
			if t, ok := n.(*hclsyntax.ScopeTraversalExpr); ok && found == nil {
				tr := t.Range()
				if tr.Filename == r.Filename && tr.Start.Byte <= r.Start.Byte && r.End.Byte <= tr.End.Byte {
					found = t
				}
			}
			return nil
		})
	}
	return found
}

func (ev *evaluator) source(expr hcl.Expression) string {
	return ev.sourceRange(expr.Range())
}

func (ev *evaluator) sourceRange(r hcl.Range) string {
	if f, ok := ev.lab.files[r.Filename]; ok && f != nil && r.End.Byte <= len(f.Bytes) && r.Start.Byte <= r.End.Byte {
		return strings.Join(strings.Fields(string(r.SliceBytes(f.Bytes))), " ")
	}
	return "(expression)"
}
