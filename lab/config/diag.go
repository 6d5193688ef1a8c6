package config

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"golang.org/x/term"
)

// sortDiags orders diagnostics by file, line and column, errors without
// a place first, so the output reads top to bottom like the file.
func sortDiags(diags hcl.Diagnostics) hcl.Diagnostics {
	sort.SliceStable(diags, func(i, j int) bool {
		a, b := diags[i].Subject, diags[j].Subject
		switch {
		case a == nil || b == nil:
			return a == nil && b != nil
		case a.Filename != b.Filename:
			return a.Filename < b.Filename
		case a.Start.Line != b.Start.Line:
			return a.Start.Line < b.Start.Line
		default:
			return a.Start.Column < b.Start.Column
		}
	})
	return diags
}

// SortDiagnostics is sortDiags for callers outside the package.
func SortDiagnostics(diags hcl.Diagnostics) hcl.Diagnostics { return sortDiags(diags) }

// WriteDiagnostics renders diags with source snippets, like Terraform.
func (c *Config) WriteDiagnostics(w io.Writer, diags hcl.Diagnostics, color bool) {
	files := map[string]*hcl.File{}
	if c != nil {
		files = c.Files
	}
	// Wrap for people at a terminal only; logs and tests get whole lines.
	width := uint(0)
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		width = 100
		if cols, _, err := term.GetSize(int(f.Fd())); err == nil && cols > 20 {
			width = uint(cols)
		}
	}
	wr := hcl.NewDiagnosticTextWriter(w, files, width, color)
	_ = wr.WriteDiagnostics(sortDiags(literalHints(diags, files)))
}

// literalHints adds, to an unknown variable written as ${NAME} in a
// string, how to write the text ${NAME} itself: a task that shows a
// shell command with ${HOME} is a common case.
func literalHints(diags hcl.Diagnostics, files map[string]*hcl.File) hcl.Diagnostics {
	for i, d := range diags {
		if (d.Summary != "Unknown variable" && d.Summary != "Unknown reference") || d.Subject == nil || files[d.Subject.Filename] == nil {
			continue
		}
		src, r := files[d.Subject.Filename].Bytes, d.Subject
		if r.Start.Byte < 2 || r.End.Byte > len(src) || string(src[r.Start.Byte-2:r.Start.Byte]) != "${" {
			continue
		}
		name := string(src[r.Start.Byte:r.End.Byte])
		c := *d
		c.Detail += fmt.Sprintf(" To write the text ${%s} itself in a string, escape it as $${%s}.", name, name)
		diags[i] = &c
	}
	return diags
}

// didYouMean suggests the closest of candidates, or says nothing.
func didYouMean(name string, candidates []string) string {
	best, bestDist := "", 3
	for _, c := range candidates {
		if d := distance(strings.ToLower(name), strings.ToLower(c)); d < bestDist {
			best, bestDist = c, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" Did you mean %q?", best)
}

// distance is the Levenshtein distance.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}
