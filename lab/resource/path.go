package resource

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/zclconf/go-cty/cty"
)

// Path is where a field is inside a value, written the one way lab
// writes field paths (plan diffs, the redaction of sensitive values,
// verify's failures): spec.replicas, containers[0].image,
// labels["app.kubernetes.io/name"], containers[name=app], items[*].
type Path []Step

// Step is one step of a Path.
type Step struct {
	Kind  StepKind
	Name  string // an attribute's name, a map key, or an item's name
	Index int
}

// StepKind says how a Step reaches into a value.
type StepKind uint8

const (
	AttrStep  StepKind = iota // .name
	KeyStep                   // ["key"]: a map key, quoted whatever it is
	IndexStep                 // [0]
	SplatStep                 // [*]: every element
	ItemStep                  // [name=app]: the list item with that name
)

func (p Path) with(s Step) Path { return append(p[:len(p):len(p)], s) }

// Attr, Key, Index, Splat and Item return p with one more step; p is not
// changed.
func (p Path) Attr(name string) Path { return p.with(Step{Kind: AttrStep, Name: name}) }
func (p Path) Key(key string) Path   { return p.with(Step{Kind: KeyStep, Name: key}) }
func (p Path) Index(i int) Path      { return p.with(Step{Kind: IndexStep, Index: i}) }
func (p Path) Splat() Path           { return p.with(Step{Kind: SplatStep}) }
func (p Path) Item(name string) Path { return p.with(Step{Kind: ItemStep, Name: name}) }

// Field is a map key or an object's member, written as an attribute when
// it reads as a name (spec.replicas) and as a key otherwise
// (labels["app.kubernetes.io/name"]).
func (p Path) Field(key string) Path {
	if isName(key) {
		return p.Attr(key)
	}
	return p.Key(key)
}

// isName reports whether s is a letter or _, then letters, digits, _ or -.
func isName(s string) bool {
	for i, r := range s {
		switch {
		case r == '_', r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z':
		case i > 0 && (r >= '0' && r <= '9' || r == '-'):
		default:
			return false
		}
	}
	return s != ""
}

func (p Path) String() string {
	var b strings.Builder
	for _, s := range p {
		switch s.Kind {
		case AttrStep:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(s.Name)
		case KeyStep:
			b.WriteString("[" + strconv.Quote(s.Name) + "]")
		case IndexStep:
			b.WriteString("[" + strconv.Itoa(s.Index) + "]")
		case SplatStep:
			b.WriteString("[*]")
		case ItemStep:
			b.WriteString("[name=" + s.Name + "]")
		}
	}
	return b.String()
}

// CtyPath is the Path of a cty.Path: attributes, keys (as Field writes
// them) and indexes.
func CtyPath(cp cty.Path) Path {
	var p Path
	for _, step := range cp {
		switch s := step.(type) {
		case cty.GetAttrStep:
			p = p.Attr(s.Name)
		case cty.IndexStep:
			if s.Key.Type() == cty.String {
				p = p.Field(s.Key.AsString())
			} else {
				i, _ := s.Key.AsBigFloat().Int64()
				p = p.Index(int(i))
			}
		}
	}
	return p
}

// ParsePath reads a path as String writes it.
func ParsePath(s string) (Path, error) {
	var p Path
	bad := func(what string) (Path, error) { return nil, fmt.Errorf("field path %q: %s", s, what) }
	for rest := s; rest != ""; {
		switch {
		case rest[0] == '[':
			end := strings.IndexByte(rest, ']')
			if strings.HasPrefix(rest, `["`) {
				q, err := strconv.QuotedPrefix(rest[1:])
				if err != nil || !strings.HasPrefix(rest[1+len(q):], "]") {
					return bad("a key must be a quoted string")
				}
				k, _ := strconv.Unquote(q)
				p, rest = p.Key(k), rest[len(q)+2:]
				continue
			}
			if end < 0 {
				return bad("[ without ]")
			}
			in := rest[1:end]
			switch {
			case in == "*":
				p = p.Splat()
			case strings.HasPrefix(in, "name="):
				p = p.Item(in[len("name="):])
			default:
				i, err := strconv.Atoi(in)
				if err != nil || i < 0 {
					return bad("[" + in + "] is not an index")
				}
				p = p.Index(i)
			}
			rest = rest[end+1:]
		default:
			if len(p) > 0 {
				if rest[0] != '.' {
					return bad("a step must start with . or [")
				}
				rest = rest[1:]
			}
			end := strings.IndexAny(rest, ".[")
			if end < 0 {
				end = len(rest)
			}
			if !isName(rest[:end]) && !isIndex(rest[:end]) {
				return bad(fmt.Sprintf("%q is not a name", rest[:end]))
			}
			p, rest = p.Attr(rest[:end]), rest[end:]
		}
	}
	return p, nil
}

// isIndex reports whether s is digits: spec.containers.0 names an item
// as Kubernetes' dotted paths do.
func isIndex(s string) bool {
	_, err := strconv.Atoi(s)
	return err == nil && s[0] != '-' && s[0] != '+'
}

// HasPrefix reports whether p is prefix or lies under it. An attribute
// and a key of the same name are one step: an HCL object's attribute is
// a map's key once converted.
func (p Path) HasPrefix(prefix Path) bool {
	if len(prefix) > len(p) {
		return false
	}
	for i, s := range prefix {
		t := p[i]
		named := func(k StepKind) bool { return k == AttrStep || k == KeyStep }
		switch {
		case named(s.Kind) && named(t.Kind):
			if s.Name != t.Name {
				return false
			}
		case s != t:
			return false
		}
	}
	return true
}

// MarshalText writes p as String does.
func (p Path) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

// UnmarshalText reads p as ParsePath does; a path it cannot read (from
// an older lab) is kept as one step and written back as it was.
func (p *Path) UnmarshalText(b []byte) error {
	q, err := ParsePath(string(b))
	if err != nil {
		q = Path{{Kind: AttrStep, Name: string(b)}}
	}
	*p = q
	return nil
}
