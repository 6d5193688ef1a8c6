// Package resource is the contract between the engine and the kinds of
// resource it manages. The engine plans, orders, applies and records state;
// a Kind knows one kind of thing in the world (a cluster, a namespace, a
// helm release) and nothing about the others.
package resource

import (
	"context"
	"log/slog"

	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/zclconf/go-cty/cty"
)

// Addr names a resource block: `namespace "dev"` is {Type: "namespace", Name: "dev"}.
type Addr struct {
	Type string `json:"type"`
	Name string `json:"name"`
}

func (a Addr) String() string { return a.Type + "." + a.Name }

// Kind is one type of resource block, e.g. "namespace".
type Kind interface {
	// Type is the first block label, e.g. "namespace".
	Type() string
	// Schema describes the block's arguments (an *hcldec.ObjectSpec).
	// "depends_on" is the engine's and must not appear in it.
	Schema() hcldec.Spec
	// Computed lists attributes that only Apply knows (e.g. a cluster's
	// kubeconfig), so references to them plan as "known after apply".
	Computed() map[string]cty.Type
	// Plan refreshes the resource against the live world and says what
	// Apply would do. It must not change anything.
	Plan(ctx context.Context, req PlanRequest) (*Change, error)
	// Apply carries out a planned Create, Update or Replace (after the
	// engine has called Delete for a Replace) and returns every attribute:
	// the arguments plus Computed ones. It must converge: applying twice
	// creates nothing twice.
	Apply(ctx context.Context, req ApplyRequest) (cty.Value, error)
	// Delete removes what this resource created and nothing else. Deleting
	// something already gone is not an error.
	Delete(ctx context.Context, req DeleteRequest) error
}

// Validator is a Kind that can check its arguments without a cluster, so
// `lab validate` reports what plan would refuse (a bad name, a missing
// file). Config is wholly known; Env has Dir and File only.
type Validator interface {
	Validate(env Env, addr Addr, config cty.Value) error
}

// Identifier is a Kind whose resources each stand for one live thing
// named by their arguments (a namespace by its name and cluster). Two
// blocks with one identity are the same thing, so renaming a block moves
// it in state rather than deleting what the new name takes over.
type Identifier interface {
	// Identity names the live thing config stands for; an argument not
	// known yet reads as "".
	Identity(config cty.Value) string
}

// Env is what every call knows about the lab it runs for.
type Env struct {
	// Dir is the directory of the lab file; relative paths resolve here.
	Dir string
	// File is the absolute path of the lab file.
	File string
	// StateDir is the lab's private directory (.lab beside the lab file),
	// e.g. for a simulated cluster's data, logs and PIDs.
	StateDir string
	// Owner marks what lab creates so destroy and drift know what is lab's.
	Owner Owner
	// Log receives debug detail; never nil.
	Log *slog.Logger
	// Progress reports long waits (cluster start, helm wait); never nil.
	Progress func(Progress)
}

// Progress is one step of a long operation, for the UI.
type Progress struct {
	Addr  Addr
	Msg   string
	Done  int // steps done; Total 0 means unknown
	Total int
	// Blocked names what a wait waits on and why, when that is known.
	Blocked *Blocked
	// Stalled marks the one report that Blocked has held for a while
	// with nothing progressing; the UI shows it prominently.
	Stalled bool
}

// PlanRequest asks a Kind what Apply would do.
type PlanRequest struct {
	Env
	Addr Addr
	// Config holds the desired arguments as an object of Schema's type.
	// It is always wholly known: the engine plans "known after apply"
	// itself when a dependency is not applied yet.
	Config cty.Value
	// Prior holds the attributes recorded in state after the last apply,
	// or cty.NilVal when the resource is not in state.
	Prior cty.Value
}

// ApplyRequest carries out a Change.
type ApplyRequest struct {
	Env
	Addr   Addr
	Config cty.Value // wholly known
	Prior  cty.Value // cty.NilVal when creating
	Change *Change   // as Plan returned it
}

// DeleteRequest removes a resource recorded in state.
type DeleteRequest struct {
	Env
	Addr  Addr
	Prior cty.Value
}

// Action is what apply will do to one resource.
type Action string

const (
	NoOp    Action = "no-op"
	Create  Action = "create"
	Update  Action = "update"
	Replace Action = "replace"
	Delete  Action = "delete"
	// Forget drops a resource from state and deletes nothing: its block
	// was renamed and another address now manages the same live thing.
	Forget Action = "forget"
)

// Change is a Kind's answer to Plan.
type Change struct {
	Action Action `json:"action"`
	// Reason says why, in words a learner understands, when the reason is
	// not obvious: why a replace, why a create of something in state
	// ("deleted outside lab").
	Reason string `json:"reason,omitempty"`
	// Drift is true when the live object differs from what lab last
	// applied (someone changed or deleted it by hand).
	Drift bool `json:"drift,omitempty"`
	// Fields lists what differs between the live world and the config.
	Fields []FieldDiff `json:"fields,omitempty"`
	// Private is the Kind's own data from Plan to Apply (e.g. decoded
	// objects); it is saved in plan files, so it must be plain JSON.
	Private []byte `json:"private,omitempty"`
}

// FieldDiff is one field that will change. Old and New are rendered for
// humans; empty Old means added, empty New means removed.
type FieldDiff struct {
	Path      string `json:"path"`
	Old       string `json:"old,omitempty"`
	New       string `json:"new,omitempty"`
	Sensitive bool   `json:"sensitive,omitempty"`
}
