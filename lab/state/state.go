// Package state records what lab has applied: the file .lab/state.json beside
// the lab file (format version, serial, lineage, and each resource's
// attributes and dependencies), written atomically, and the lock that keeps
// two lab processes from writing it at once.
package state

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"

	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"

	"labs.dev/lab/lab/resource"
)

// Version is the state file format this lab reads and writes.
const Version = 1

// FileName and LockFileName are the files in the lab's state directory.
const (
	FileName     = "state.json"
	LockFileName = "state.lock"
)

// Resource statuses.
const (
	// StatusOK means the last apply of the resource finished.
	StatusOK = "ok"
	// StatusTainted means an apply failed midway: the attributes are what
	// is known, and the next plan replaces the resource.
	StatusTainted = "tainted"
)

// State is the content of the state file.
type State struct {
	Version int `json:"version"`
	// Serial grows by one with every write, so a saved plan can tell that
	// the state moved since it was made.
	Serial uint64 `json:"serial"`
	// Lineage is set on the first write and never changes, so a saved plan
	// or a state file copied from another lab can be told apart.
	Lineage    string     `json:"lineage"`
	LabVersion string     `json:"lab_version,omitempty"`
	Resources  []Resource `json:"resources"`

	// backedUp is set once Write has saved the file as it was before this
	// State's first write, so a run that writes after every resource keeps
	// the state from before the run as the backup (as Terraform does).
	backedUp bool
}

// Resource is one applied resource.
type Resource struct {
	Addr resource.Addr `json:"addr"`
	// Attrs is the attributes object in go-cty's JSON form, and AttrsType
	// its type, so state can be decoded without the kind's schema (which
	// may have changed since, or the kind may be gone).
	Attrs     json.RawMessage `json:"attrs"`
	AttrsType json.RawMessage `json:"attrs_type"`
	Deps      []resource.Addr `json:"deps,omitempty"`
	// Cluster is the cluster resource the engine connected it to, so it
	// is deleted from that cluster even once its block is gone.
	Cluster *resource.Addr `json:"cluster,omitempty"`
	Status  string         `json:"status"`

	// value is Attrs decoded, once: Load checks every resource's, and a
	// plan reads each again.
	value cty.Value
}

// New returns an empty state.
func New() *State {
	return &State{Version: Version, Resources: []Resource{}}
}

func compareAddr(a, b resource.Addr) int { return resource.Compare(a, b) }

func (s *State) find(addr resource.Addr) (int, bool) {
	return slices.BinarySearchFunc(s.Resources, addr, func(r Resource, a resource.Addr) int {
		return compareAddr(r.Addr, a)
	})
}

// Get returns the resource at addr. The pointer is into the state: changes
// through it change the state.
func (s *State) Get(addr resource.Addr) (*Resource, bool) {
	i, ok := s.find(addr)
	if !ok {
		return nil, false
	}
	return &s.Resources[i], true
}

// Set adds r or replaces the resource with its address. Resources stay
// sorted by address so that the file diffs cleanly from one write to the
// next.
func (s *State) Set(r Resource) {
	i, ok := s.find(r.Addr)
	if ok {
		s.Resources[i] = r
		return
	}
	s.Resources = slices.Insert(s.Resources, i, r)
}

// Remove deletes the resource at addr, if any.
func (s *State) Remove(addr resource.Addr) {
	if i, ok := s.find(addr); ok {
		s.Resources = slices.Delete(s.Resources, i, i+1)
	}
}

// Taint marks the resource at addr tainted; it reports whether it exists.
func (s *State) Taint(addr resource.Addr) bool {
	r, ok := s.Get(addr)
	if ok {
		r.Status = StatusTainted
	}
	return ok
}

// Value decodes the attributes of the resource at addr.
func (s *State) Value(addr resource.Addr) (cty.Value, error) {
	r, ok := s.Get(addr)
	if !ok {
		return cty.NilVal, fmt.Errorf("%s is not in state", addr)
	}
	return r.Value()
}

// Value decodes the resource's attributes.
func (r *Resource) Value() (cty.Value, error) {
	if r.value != cty.NilVal {
		return r.value, nil
	}
	ty, err := ctyjson.UnmarshalType(r.AttrsType)
	if err != nil {
		return cty.NilVal, fmt.Errorf("state of %s: attribute types: %w", r.Addr, err)
	}
	v, err := ctyjson.Unmarshal(r.Attrs, ty)
	if err != nil {
		return cty.NilVal, fmt.Errorf("state of %s: attributes: %w", r.Addr, err)
	}
	return v, nil
}

// Values decodes every resource's attributes, leaving out any that do
// not decode, for evaluating references against what was applied.
func (s *State) Values() map[resource.Addr]cty.Value {
	known := make(map[resource.Addr]cty.Value, len(s.Resources))
	for i := range s.Resources {
		if v, err := s.Resources[i].Value(); err == nil {
			known[s.Resources[i].Addr] = v
		}
	}
	return known
}

// SetValue records v as the attributes of the resource at addr, with its
// dependencies, as applied (StatusOK). v must be wholly known.
func (s *State) SetValue(addr resource.Addr, v cty.Value, deps []resource.Addr) error {
	if v.Type() == cty.NilType {
		return fmt.Errorf("state of %s: no attributes", addr)
	}
	// Marks (sensitive) cannot be written as JSON. Sensitivity comes back
	// from the configuration at every plan, and the file is 0600.
	v, _ = v.UnmarkDeep()
	if v.IsNull() {
		return fmt.Errorf("state of %s: attributes are null", addr)
	}
	if !v.IsWhollyKnown() {
		return fmt.Errorf("state of %s: attributes are not all known after apply", addr)
	}
	ty := v.Type()
	attrs, err := ctyjson.Marshal(v, ty)
	if err != nil {
		return fmt.Errorf("state of %s: attributes: %w", addr, err)
	}
	tyJSON, err := ctyjson.MarshalType(ty)
	if err != nil {
		return fmt.Errorf("state of %s: attribute types: %w", addr, err)
	}
	deps = slices.Clone(deps)
	slices.SortFunc(deps, compareAddr)
	deps = slices.Compact(deps)
	s.Set(Resource{Addr: addr, Attrs: attrs, AttrsType: tyJSON, Deps: deps, Status: StatusOK})
	return nil
}

// Load reads the state file at path. A missing file is an empty state.
func Load(path string) (*State, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return New(), nil
	}
	if err != nil {
		return nil, fmt.Errorf("read state: %w", err)
	}
	s, err := decode(data)
	var newer *newerError
	if errors.As(err, &newer) {
		return nil, fmt.Errorf("state file %s has format version %d, newer than this lab understands (%d); use the lab release that wrote it, or a newer one", path, newer.version, Version)
	}
	if err != nil {
		return nil, fmt.Errorf("state file %s %w; it was left as it is: restore it from %s if that exists, or move it away to start with an empty state (lab will then not know what it created before)", path, err, path+backupSuffix)
	}
	return s, nil
}

// decode parses a state file; its errors read after "state file PATH".
func decode(data []byte) (*State, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, errors.New("is empty")
	}
	var probe struct {
		Version *int `json:"version"`
	}
	if err := json.Unmarshal(data, &probe); err != nil {
		return nil, fmt.Errorf("is not valid JSON (%v)", err)
	}
	switch {
	case probe.Version == nil:
		return nil, errors.New("has no format version; it is not a lab state file")
	case *probe.Version > Version:
		return nil, &newerError{*probe.Version}
	case *probe.Version < 1:
		return nil, fmt.Errorf("has format version %d, which no lab release writes", *probe.Version)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	s := New()
	if err := dec.Decode(s); err != nil {
		return nil, fmt.Errorf("is not a valid lab state (%v)", err)
	}
	if dec.More() {
		return nil, errors.New("has data after the state object")
	}
	if s.Resources == nil {
		s.Resources = []Resource{}
	}
	for i, r := range s.Resources {
		if r.Addr.Type == "" || r.Addr.Name == "" {
			return nil, fmt.Errorf("has a resource (number %d) without a type or name", i+1)
		}
		if r.Status != StatusOK && r.Status != StatusTainted {
			return nil, fmt.Errorf("has %s with unknown status %q", r.Addr, r.Status)
		}
		v, err := r.Value()
		if err != nil {
			return nil, fmt.Errorf("is damaged: %v", err)
		}
		s.Resources[i].value = v
	}
	// A hand-edited file may be out of order; lookups need it sorted.
	slices.SortStableFunc(s.Resources, func(a, b Resource) int { return compareAddr(a.Addr, b.Addr) })
	for i := 1; i < len(s.Resources); i++ {
		if s.Resources[i-1].Addr == s.Resources[i].Addr {
			return nil, fmt.Errorf("has %s twice", s.Resources[i].Addr)
		}
	}
	return s, nil
}

type newerError struct{ version int }

func (e *newerError) Error() string { return fmt.Sprintf("has format version %d", e.version) }

// newID returns a random UUID (version 4) string.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms.
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
