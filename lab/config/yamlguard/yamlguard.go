// Package yamlguard refuses YAML whose aliases expand it far beyond its
// size (a "billion laughs" bomb) before a decoder that expands aliases
// eats the machine's memory.
package yamlguard

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	yaml "go.yaml.in/yaml/v3"
)

// MaxNodes is how many nodes a document may expand to through aliases
// when they more than double it. A hand-written manifest or values file
// has a few thousand; a big generated one without aliases is not limited.
const MaxNodes = 100_000

// Check parses src (one or more documents) without expanding aliases and
// fails when aliases would expand a document to more than max nodes and
// more than twice its own. Syntax errors are left to the real decoder, which words them
// better; Check only says no to bombs.
func Check(src []byte, max int) error {
	if !bytes.Contains(src, []byte("*")) {
		return nil // no alias, nothing can expand
	}
	dec := yaml.NewDecoder(bytes.NewReader(src))
	for doc := 1; ; doc++ {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return nil
		}
		c := counter{memo: map[*yaml.Node]int{}, max: max}
		expanded := c.count(&n)
		if c.aliases && expanded > max && expanded > 2*len(c.memo) {
			return &BombError{Doc: doc, Line: firstLine(&n), Max: max}
		}
	}
}

// BombError is a document that expands too far; Doc and Line count from
// the start of what Check was given.
type BombError struct {
	Doc, Line, Max int
}

func (e *BombError) Error() string {
	return fmt.Sprintf("document %d (line %d) %s", e.Doc, e.Line, e.Reason())
}

// Reason is the error without its place.
func (e *BombError) Reason() string {
	return fmt.Sprintf("expands to more than %d YAML nodes through its aliases (*name); "+
		"a YAML bomb? Write the values out instead of repeating anchors", e.Max)
}

type counter struct {
	memo    map[*yaml.Node]int
	max     int
	aliases bool
}

// count is the number of nodes n stands for once aliases are expanded,
// saturating just above max so a bomb's count cannot overflow.
func (c *counter) count(n *yaml.Node) int {
	if n == nil {
		return 0
	}
	if v, ok := c.memo[n]; ok {
		return v
	}
	c.memo[n] = c.max + 1 // an alias cycle counts as too big
	total := 1
	if n.Kind == yaml.AliasNode {
		c.aliases = true
		total = c.count(n.Alias)
	}
	for _, ch := range n.Content {
		total += c.count(ch)
		if total > c.max {
			total = c.max + 1
			break
		}
	}
	c.memo[n] = total
	return total
}

func firstLine(n *yaml.Node) int {
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		return n.Content[0].Line
	}
	return n.Line
}
