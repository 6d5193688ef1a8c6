package resource

import (
	"cmp"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/zclconf/go-cty/cty"
)

// Key is the instance key of a resource or lab block with for_each (a
// string, each.key) or count (a whole number, count.index); the zero Key
// is a block of one instance. Keys are comparable, so an Addr stays a map
// key.
type Key struct {
	str  string
	idx  int
	kind keyKind
}

type keyKind uint8

const (
	noKey keyKind = iota
	intKey
	stringKey
)

// StringKey is for_each's key k.
func StringKey(k string) Key { return Key{str: k, kind: stringKey} }

// IntKey is count's index i.
func IntKey(i int) Key { return Key{idx: i, kind: intKey} }

// IsZero reports whether k is no key: a block of one instance.
func (k Key) IsZero() bool { return k.kind == noKey }

// IsInt reports whether k is a count index.
func (k Key) IsInt() bool { return k.kind == intKey }

// Value is the key as HCL sees it: each.key or count.index.
func (k Key) Value() cty.Value {
	switch k.kind {
	case intKey:
		return cty.NumberIntVal(int64(k.idx))
	case stringKey:
		return cty.StringVal(k.str)
	}
	return cty.NilVal
}

// Raw is the key as a learner names it on a command line: alice, 0.
func (k Key) Raw() string {
	switch k.kind {
	case intKey:
		return strconv.Itoa(k.idx)
	case stringKey:
		return k.str
	}
	return ""
}

// String is the key as written after an address: ["alice"], [0]; "" for
// no key.
func (k Key) String() string {
	switch k.kind {
	case intKey:
		return "[" + strconv.Itoa(k.idx) + "]"
	case stringKey:
		return "[" + Quote(k.str) + "]"
	}
	return ""
}

// Quote writes s as an HCL string literal: Go's escapes, and ${ and %{
// doubled so the literal is not read as a template.
func Quote(s string) string {
	q := strconv.Quote(s)
	q = strings.ReplaceAll(q, "${", "$${")
	return strings.ReplaceAll(q, "%{", "%%{")
}

// CompareKeys orders no key first, then count indexes by number, then
// for_each keys by text.
func CompareKeys(a, b Key) int {
	if c := cmp.Compare(a.kind, b.kind); c != 0 {
		return c
	}
	if a.kind == intKey {
		return cmp.Compare(a.idx, b.idx)
	}
	return strings.Compare(a.str, b.str)
}

// MarshalJSON writes a for_each key as a JSON string, a count index as
// a number (as Terraform's JSON plan writes "index").
func (k Key) MarshalJSON() ([]byte, error) {
	switch k.kind {
	case intKey:
		return json.Marshal(k.idx)
	case stringKey:
		return json.Marshal(k.str)
	}
	return []byte("null"), nil
}

// UnmarshalJSON reads what MarshalJSON writes.
func (k *Key) UnmarshalJSON(b []byte) error {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	switch x := v.(type) {
	case nil:
		*k = Key{}
	case string:
		*k = StringKey(x)
	case float64:
		if x != float64(int(x)) || x < 0 {
			return fmt.Errorf("instance key %v is not a whole number ≥ 0", x)
		}
		*k = IntKey(int(x))
	default:
		return fmt.Errorf("instance key %s is neither a string nor a number", b)
	}
	return nil
}
