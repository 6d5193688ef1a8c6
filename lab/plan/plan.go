// Package plan refreshes every resource of a lab against the live world
// and works out what apply must do, in Terraform's terms: create, update,
// replace, delete or nothing, with drift called out.
package plan

import (
	"time"

	"labs.dev/lab/lab/resource"
)

// FormatVersion is the version of saved plan files.
const FormatVersion = 1

// Plan is what apply will do. It can be saved with -out and applied
// later, but only against the state it was made from.
type Plan struct {
	FormatVersion int       `json:"format_version"`
	Created       time.Time `json:"created"`
	// Lineage and Serial are the state's when the plan was made; a plan is
	// stale once they moved.
	Lineage string `json:"lineage"`
	Serial  uint64 `json:"serial"`
	// ConfigHash is a hash of the lab file and var files; a plan made
	// from another configuration is refused.
	ConfigHash string `json:"config_hash"`
	// Vars and VarFiles are the -var and -var-file options the plan was
	// made with; applying it uses them again.
	Vars     []string `json:"vars,omitempty"`
	VarFiles []string `json:"var_files,omitempty"`
	Destroy  bool     `json:"destroy,omitempty"`
	// Changes holds every resource in config or state, sorted by address.
	Changes []*Change `json:"changes"`
}

// Change is the plan for one resource.
type Change struct {
	Addr resource.Addr   `json:"addr"`
	Deps []resource.Addr `json:"deps,omitempty"`
	resource.Change
	// Deferred is true when the config depends on values only known after
	// its dependencies are applied; apply plans it again then.
	Deferred bool `json:"deferred,omitempty"`
	// Sensitive lists argument paths that hold sensitive values.
	Sensitive []resource.Path `json:"sensitive,omitempty"`
	// MovedTo is, for a Forget, the address that now manages the same
	// thing; the old address leaves state when that one is recorded.
	MovedTo *resource.Addr `json:"moved_to,omitempty"`
}

// HasChanges reports whether applying p would change anything.
func (p *Plan) HasChanges() bool {
	for _, c := range p.Changes {
		if c.Action != resource.NoOp {
			return true
		}
	}
	return false
}

// Counts returns how many resources each action touches.
func (p *Plan) Counts() map[resource.Action]int {
	n := map[resource.Action]int{}
	for _, c := range p.Changes {
		switch c.Action {
		case resource.Replace:
			n[resource.Create]++
			n[resource.Delete]++
		default:
			n[c.Action]++
		}
	}
	return n
}

// Change returns the change for addr, or nil.
func (p *Plan) Change(addr resource.Addr) *Change {
	for _, c := range p.Changes {
		if c.Addr == addr {
			return c
		}
	}
	return nil
}
