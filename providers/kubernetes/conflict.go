package kubernetes

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"labs.dev/lab/lab/resource"
)

// Server-side apply without force fails when another field manager (a
// learner's kubectl edit, another tool) holds a field lab sets to a
// different value. lab forces only what the plan showed it would take
// back; a field changed after the plan was made is reported, not
// overwritten, so apply never undoes a change nobody was shown.

// fieldConflict is one field another manager holds.
type fieldConflict struct {
	Field   string // e.g. ".data.mode"
	Manager string // e.g. "kubectl-edit"
}

var managerRE = regexp.MustCompile(`conflict with "([^"]*)"`)

// conflictsOf lists the fields of an apply conflict, or nil when err is
// not one.
func conflictsOf(err error) []fieldConflict {
	var st apierrors.APIStatus
	if !apierrors.IsConflict(err) || !errors.As(err, &st) {
		return nil
	}
	d := st.Status().Details
	if d == nil {
		return nil
	}
	var out []fieldConflict
	for _, c := range d.Causes {
		if c.Type != metav1.CauseTypeFieldManagerConflict {
			continue
		}
		m := ""
		if g := managerRE.FindStringSubmatch(c.Message); g != nil {
			m = g[1]
		}
		out = append(out, fieldConflict{Field: c.Field, Manager: m})
	}
	return out
}

// planned reports whether the change showed every conflicting field of
// the object whose diffs carry prefix (e.g. "ConfigMap apps/x: ") with
// the value it has now (current: path → rendered live value, for the
// fields that differ from what lab applies), so taking them back is what
// was planned. A field shown in the plan but changed again since was not
// shown as it is, and is not forced.
func planned(ch *resource.Change, prefix string, cs []fieldConflict, current map[string]string) bool {
	if ch == nil || len(cs) == 0 {
		return false
	}
	var shown []resource.FieldDiff
	for _, f := range ch.Fields {
		if p, ok := strings.CutPrefix(f.Path, prefix); ok {
			f.Path = p
			shown = append(shown, f)
		}
	}
	for _, c := range cs {
		field := strings.TrimPrefix(c.Field, ".")
		ok := false
		for _, f := range shown {
			p := f.Path
			// List items are keyed differently in the two forms: any diff
			// inside the same top-level list counts.
			if p == field || strings.HasPrefix(p, field+".") || strings.HasPrefix(field, p+".") ||
				(strings.Contains(field, "[") && strings.HasPrefix(p, field[:strings.Index(field, "[")])) {
				if now, differs := current[p]; differs && !f.Sensitive && now != f.Old {
					return false // changed again after the plan
				}
				ok = true
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// ConflictError is a server-side apply conflict lab did not force.
type ConflictError struct {
	Object    string
	Conflicts []fieldConflict
}

func (e *ConflictError) Error() string {
	var parts []string
	for _, c := range e.Conflicts {
		parts = append(parts, fmt.Sprintf("%s (now managed by %q)", c.Field, c.Manager))
	}
	return fmt.Sprintf("%s was changed by someone else after the plan was made: %s; lab did not overwrite it. Run `lab plan` to see the change, then `lab up` to take it back, or change the lab file to keep it",
		e.Object, strings.Join(parts, ", "))
}
