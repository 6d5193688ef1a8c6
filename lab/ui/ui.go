// Package ui renders the engine's results and events for people (text,
// colour on a terminal, progress bars on a TTY, plain timestamped lines
// otherwise) and for machines (JSON).
package ui

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"labs.dev/lab/lab/plan"
	"labs.dev/lab/lab/resource"
	"labs.dev/lab/lab/ui/ansi"
)

// symbol is Terraform's mark for an action.
func symbol(s ansi.Style, a resource.Action) string {
	switch a {
	case resource.Create:
		return s.Green("+")
	case resource.Update:
		return s.Yellow("~")
	case resource.Replace:
		return s.Red("-") + "/" + s.Green("+")
	case resource.Delete:
		return s.Red("-")
	case resource.Forget:
		return s.Yellow(">")
	}
	return " "
}

var verbs = map[resource.Action]string{
	resource.Create:  "will be created",
	resource.Update:  "will be updated in place",
	resource.Replace: "must be replaced",
	resource.Delete:  "will be destroyed",
	resource.Forget:  "will be forgotten (renamed; nothing is deleted)",
}

// WritePlan renders p like `terraform plan`.
func WritePlan(w io.Writer, p *plan.Plan, s ansi.Style) {
	var changes []*plan.Change
	drift := 0
	for _, c := range p.Changes {
		if c.Action != resource.NoOp {
			changes = append(changes, c)
			if c.Drift {
				drift++
			}
		}
	}
	if len(changes) == 0 {
		fmt.Fprintln(w, s.Green("No changes.")+" The environment matches the lab file and the live cluster.")
		return
	}
	if drift > 0 {
		fmt.Fprintf(w, "%s %d resource(s) changed outside lab (drift); apply puts them back.\n\n", s.Yellow("Drift:"), drift)
	}
	fmt.Fprintln(w, "lab will perform these actions:")
	fmt.Fprintln(w)
	for _, c := range changes {
		line := fmt.Sprintf("  %s %s %s", symbol(s, c.Action), s.Bold(c.Addr.String()), verbs[c.Action])
		if c.Drift {
			line += " " + s.Yellow("(drift)")
		}
		fmt.Fprintln(w, line)
		if c.Reason != "" {
			fmt.Fprintf(w, "      %s %s\n", s.Dim("#"), c.Reason)
		}
		if c.Deferred && c.Reason == "" {
			fmt.Fprintf(w, "      %s %s\n", s.Dim("#"), "values known after apply")
		}
		for _, f := range c.Fields {
			fmt.Fprintf(w, "      %s\n", fieldLine(f, s))
		}
	}
	n := p.Counts()
	fmt.Fprintf(w, "\nPlan: %d to create, %d to update, %d to destroy", n[resource.Create], n[resource.Update], n[resource.Delete])
	if n[resource.Forget] > 0 {
		fmt.Fprintf(w, ", %d to forget", n[resource.Forget])
	}
	fmt.Fprintln(w, ".")
}

func fieldLine(f resource.FieldDiff, s ansi.Style) string {
	switch {
	case f.Old == "" && f.New != "":
		return fmt.Sprintf("%s %s = %s", s.Green("+"), f.Path, f.New)
	case f.Old != "" && f.New == "":
		return fmt.Sprintf("%s %s = %s", s.Red("-"), f.Path, f.Old)
	case f.Old == "" && f.New == "":
		return fmt.Sprintf("%s %s", s.Yellow("~"), f.Path)
	}
	return fmt.Sprintf("%s %s: %s → %s", s.Yellow("~"), f.Path, f.Old, f.New)
}

// Summary is the last line of an apply or destroy.
func Summary(done map[resource.Action]int, destroy bool) string {
	if destroy {
		return fmt.Sprintf("Destroy complete! Resources: %d destroyed.", done[resource.Delete])
	}
	return fmt.Sprintf("Apply complete! Resources: %d added, %d changed, %d destroyed.",
		done[resource.Create]+done[resource.Replace], done[resource.Update], done[resource.Delete])
}

// PlanJSON is the machine form of a plan.
type PlanJSON struct {
	Changes    []*plan.Change          `json:"changes"`
	Counts     map[resource.Action]int `json:"counts"`
	HasChanges bool                    `json:"has_changes"`
	Drift      []string                `json:"drift"`
}

// NewPlanJSON builds the JSON form of p.
func NewPlanJSON(p *plan.Plan) PlanJSON {
	out := PlanJSON{Changes: []*plan.Change{}, Counts: p.Counts(), HasChanges: p.HasChanges(), Drift: []string{}}
	for _, c := range p.Changes {
		cc := *c
		cc.Private = nil
		out.Changes = append(out.Changes, &cc)
		if c.Drift {
			out.Drift = append(out.Drift, c.Addr.String())
		}
	}
	sort.Strings(out.Drift)
	return out
}

func pastTense(a resource.Action) string {
	switch a {
	case resource.Create:
		return "created"
	case resource.Update:
		return "updated"
	case resource.Replace:
		return "replaced"
	case resource.Delete:
		return "destroyed"
	case resource.Forget:
		return "forgotten"
	}
	return string(a)
}

func presentTense(a resource.Action) string {
	switch a {
	case resource.Create:
		return "creating"
	case resource.Update:
		return "updating"
	case resource.Replace:
		return "replacing"
	case resource.Delete:
		return "destroying"
	case resource.Forget:
		return "forgetting"
	}
	return strings.TrimSuffix(string(a), "e") + "ing"
}
