package views

import (
	"fmt"

	"labs.dev/lab/lab/plan"
)

// Status is lab status's view.
type Status interface {
	Operation
	Resources(rows []ResourceStatus)
}

// ResourceStatus is one resource's line in lab status.
type ResourceStatus struct {
	Resource string `json:"resource"`
	Status   string `json:"status"`
	Detail   string `json:"detail,omitempty"`
}

func (h human) Status() Status   { return statusHuman{h.view} }
func (m machine) Status() Status { return statusJSON{m.view} }

type (
	statusHuman struct{ v *view }
	statusJSON  struct{ v *view }
)

func (x statusHuman) Hook(total int) (plan.Hook, func()) { return x.v.humanHook(total) }

func (x statusHuman) Resources(rows []ResourceStatus) {
	v := x.v
	st := v.outStyle
	for _, r := range rows {
		status := r.Status
		switch r.Status {
		case "ready":
			status = st.Green(status)
		case "drifted", "orphaned":
			status = st.Yellow(status)
		}
		line := fmt.Sprintf("%-36s %s", r.Resource, status)
		if r.Detail != "" {
			line += "  " + st.Dim(r.Detail)
		}
		fmt.Fprintln(v.out, line)
	}
}

func (x statusJSON) Hook(total int) (plan.Hook, func()) { return x.v.jsonHook(total) }

func (x statusJSON) Resources(rows []ResourceStatus) {
	v := x.v
	v.writeJSON(map[string]any{"resources": rows})
}

// ForceUnlock is lab force-unlock's view: text in every format.
type ForceUnlock interface{ Unlocked() }

func (h human) ForceUnlock() ForceUnlock   { return text{h.view} }
func (m machine) ForceUnlock() ForceUnlock { return text{m.view} }
