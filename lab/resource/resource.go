// Package resource is the contract between the engine and the kinds of
// resource it manages. The engine plans, orders, applies and records state;
// a Kind knows one kind of thing in the world (a cluster, a namespace, a
// helm release) and nothing about the others.
package resource

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/zclconf/go-cty/cty"
)

// Addr names a resource instance: `namespace "dev"` is {Type: "namespace",
// Name: "dev"}; with for_each, its instance "alice" also has Key
// StringKey("alice") and reads namespace.dev["alice"].
type Addr struct {
	Type string `json:"type"`
	Name string `json:"name"`
	Key  Key    `json:"key,omitzero"`
}

func (a Addr) String() string { return a.Type + "." + a.Name + a.Key.String() }

// Block is the address of the block a is an instance of: a without its key.
func (a Addr) Block() Addr { return Addr{Type: a.Type, Name: a.Name} }

// Compare orders addresses by type, name and key (count indexes by number).
func Compare(a, b Addr) int {
	if c := strings.Compare(a.Type, b.Type); c != 0 {
		return c
	}
	if c := strings.Compare(a.Name, b.Name); c != 0 {
		return c
	}
	return CompareKeys(a.Key, b.Key)
}

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

// Validator is a Kind that can check its arguments without a cluster or
// any other live thing, so `lab validate` and plan, before it refreshes
// anything, refuse what apply would (a bad name, a missing file) before a
// cluster is made. Config may hold unknown values: arguments that
// reference resources not applied yet. Validate checks every argument
// that is known, skips each one that is not (an unknown value is never
// "missing"), and reports every problem at once: errors.Join of one
// error per problem, not prefixed with addr, each an *ArgError naming
// its argument where it has one. Plan and Apply check the same arguments
// with the same code. Env has Dir and File only.
type Validator interface {
	Validate(env Env, addr Addr, config cty.Value) error
}

// ArgError is a problem with one argument of a block, so the engine can
// point at the argument in the lab file. Its message names the argument
// itself (`chart "charts/x": no chart directory at ...`).
type ArgError struct {
	Arg string // the argument as written in the block, e.g. "chart"
	Err error
}

func (e *ArgError) Error() string { return e.Err.Error() }
func (e *ArgError) Unwrap() error { return e.Err }

// ArgErrorf is an *ArgError for arg with a formatted message.
func ArgErrorf(arg, format string, a ...any) error {
	return &ArgError{Arg: arg, Err: fmt.Errorf(format, a...)}
}

// Problems splits an error of Validate into the problems errors.Join
// joined.
func Problems(err error) []error {
	if err == nil {
		return nil
	}
	j, ok := err.(interface{ Unwrap() []error })
	if !ok {
		return []error{err}
	}
	var out []error
	for _, e := range j.Unwrap() {
		out = append(out, Problems(e)...)
	}
	return out
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

// Connection names a Kubernetes cluster the way kubectl does: a
// kubeconfig file and a context in it. Kubeconfig is absolute, or ""
// for the default ($KUBECONFIG, else ~/.kube/config); Context "" is
// that file's current context.
type Connection struct {
	Kubeconfig string
	Context    string
}

// Cluster is a Kind whose resources are clusters that other resources
// live in (kind_cluster; a cluster that already exists). The engine
// connects the resources of InCluster kinds to them, orders those after
// their cluster, and refreshes them only once their cluster is settled.
type Cluster interface {
	// Connection reads how to reach the cluster from its attributes: as
	// Apply returned them, as planned, or as declared (for commands that
	// run before anything was applied). It is false while the connection
	// is not known yet (a cluster this run creates).
	Connection(env Env, attrs cty.Value) (Connection, bool)
	// RemovesContents reports whether deleting a cluster of this kind
	// removes everything in it, so its contents need no delete of their
	// own when it goes in the same run. One that lab only connects to
	// does not.
	RemovesContents() bool
}

// Rechecked is a Cluster kind that lab connects to but did not make: by
// the time lab deletes what it made there, the recorded connection may
// reach another cluster (the kubeconfig's context was pointed
// elsewhere). Before deleting anything in such a cluster, the engine
// calls Recheck once with the cluster's state, and deletes nothing in
// it on an error.
type Rechecked interface {
	Recheck(ctx context.Context, env Env, addr Addr, prior cty.Value) error
}

// InCluster is a Kind whose resources live in a Kubernetes cluster. A
// block either states its connection itself (e.g. kubeconfig and
// context arguments) or the engine connects it to a cluster resource:
// the one its `cluster` argument names (an engine argument, like
// depends_on, so Schema must not have it), else the lab file's only
// one. Requests then carry that cluster's Connection.
type InCluster interface {
	// OwnConnection returns the connection config states itself, with a
	// relative kubeconfig resolved against env.Dir, and true; false when
	// it states none. An argument set to a value not known yet counts as
	// stated (its Connection field reads "").
	OwnConnection(env Env, config cty.Value) (Connection, bool)
}

// HelmRelease is a Kind whose resources are helm releases: lab reset
// keeps their objects and release records.
type HelmRelease interface {
	// Release names the release config installs; "" where not known.
	Release(config cty.Value) (name, namespace string)
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
	// Cluster is the connection of the cluster resource the engine
	// connected an InCluster kind's resource to; zero when there is none
	// (the block states its own, or the lab file declares no cluster).
	Cluster Connection
}

// ApplyRequest carries out a Change.
type ApplyRequest struct {
	Env
	Addr   Addr
	Config cty.Value // wholly known
	Prior  cty.Value // cty.NilVal when creating
	Change *Change   // as Plan returned it
	// Cluster is as in PlanRequest.
	Cluster Connection
}

// DeleteRequest removes a resource recorded in state.
type DeleteRequest struct {
	Env
	Addr  Addr
	Prior cty.Value
	// Cluster is as in PlanRequest, for the cluster the resource was
	// applied in.
	Cluster Connection
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
