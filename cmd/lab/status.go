package main

import (
	"github.com/spf13/cobra"

	"labs.dev/lab/cmd/lab/views"
	"labs.dev/lab/lab/plan"
	"labs.dev/lab/lab/resource"
)

func (a *app) statusCmd() *cobra.Command {
	var e engineFlags
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show each resource and its live status",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			v := a.views.Status()
			s, err := a.open(cmd.Context(), cmd, &e, false)
			if err != nil {
				return err
			}
			defer s.close()
			p, err := s.makePlan(cmd.Context(), v, false)
			if err != nil {
				return err
			}
			var rows []views.ResourceStatus
			for _, c := range p.Changes {
				_, inState := s.st.Get(c.Addr)
				rows = append(rows, statusOf(c, inState))
			}
			v.Resources(rows)
			return nil
		},
	}
	a.varFlags(cmd.Flags())
	return cmd
}

// statusOf says where the resource of c stands, from its planned change.
func statusOf(c *plan.Change, inState bool) views.ResourceStatus {
	r := views.ResourceStatus{Resource: c.Addr.String(), Detail: c.Reason}
	switch {
	case c.Action == resource.NoOp:
		r.Status = "ready"
	case c.Action == resource.Delete:
		r.Status = "orphaned"
		r.Detail = "in state but no longer in the lab file; lab apply removes it"
	case c.Action == resource.Forget:
		r.Status = "renamed"
	case !inState:
		r.Status = "not created"
	case c.Drift:
		r.Status = "drifted"
	default:
		r.Status = "pending changes"
	}
	return r
}
