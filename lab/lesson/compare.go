package lesson

import (
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strings"

	"github.com/pmezard/go-difflib/difflib"
	"sigs.k8s.io/yaml"
)

// Mode is how an output was compared.
type Mode string

const (
	TextMode   Mode = "text"  // line by line
	TableMode  Mode = "table" // by column header and row name
	YAMLMode   Mode = "yaml"  // as data (YAML or JSON)
	StatusMode Mode = "exit"  // no output shown: the command must succeed
)

// comparison is what compare found.
type comparison struct {
	mode     Mode
	problems []string // one line each: what differs, where
	diff     string   // expected against actual, normalised
}

func (c comparison) ok() bool { return len(c.problems) == 0 }

// Limits on what a report shows, so a command that printed megabytes
// gives a diff one can read.
const (
	maxDiffLines = 60
	maxProblems  = 20
	maxDiffInput = 5000 // lines of each side
)

var (
	outputFlagRe = regexp.MustCompile(`(^|\s)(-o|--output)(=|\s*)(yaml|json)\b`)
	headerCellRe = regexp.MustCompile(`^[A-Z][A-Z0-9_()./%-]*( [A-Z][A-Z0-9_()./%-]*)*$`)
	colSplitRe   = regexp.MustCompile(`\s{2,}`)
)

// compare holds what a command printed against what the lesson shows.
func compare(st *Step, actual string) comparison {
	exp := st.Expected.Text
	subset := st.Marks.Contains || st.Expected.Elided
	if structured(st.Command, exp) {
		if c, ok := compareData(exp, actual, subset); ok {
			return c
		}
	}
	if et, ok := parseTable(exp); ok {
		if at, ok := parseTable(actual); ok {
			return compareTables(et, at, st.Marks.Contains)
		}
	}
	return compareText(exp, actual, st.Marks.Contains)
}

// structured reports whether an output is YAML or JSON to compare as
// data: the command asks for it, or the lesson's block plainly is.
func structured(command, expected string) bool {
	if outputFlagRe.MatchString(command) {
		return true
	}
	t := strings.TrimSpace(expected)
	return strings.HasPrefix(t, "apiVersion:") || strings.HasPrefix(t, "{") || strings.HasPrefix(t, "[")
}

// compareText compares line by line; with contains, the lesson's lines
// must appear in order among what was printed.
func compareText(expected, actual string, contains bool) comparison {
	e, a := normText(expected), normText(actual)
	c := comparison{mode: TextMode}
	if contains {
		j := 0
		for _, l := range e {
			for j < len(a) && a[j] != l {
				j++
			}
			if j == len(a) {
				c.problems = append(c.problems, clip(fmt.Sprintf("not printed (in this order): %s", l)))
				break
			}
			j++
		}
	} else if !reflect.DeepEqual(e, a) {
		c.problems = append(c.problems, textProblem(e, a))
	}
	if !c.ok() {
		c.diff = unified(e, a)
	}
	return c
}

// textProblem names the first line that differs.
func textProblem(e, a []string) string {
	for i := range max(len(e), len(a)) {
		switch {
		case i >= len(e):
			return fmt.Sprintf("printed %d line(s) more than the lesson shows", len(a)-len(e))
		case i >= len(a):
			return fmt.Sprintf("printed %d line(s) fewer than the lesson shows", len(e)-len(a))
		case e[i] != a[i]:
			return fmt.Sprintf("output line %d differs", i+1)
		}
	}
	return "output differs"
}

// unified is a unified diff of the normalised lines, cut to a readable
// length.
func unified(e, a []string) string {
	cut := func(ls []string) []string {
		if len(ls) > maxDiffInput {
			ls = append(ls[:maxDiffInput:maxDiffInput], fmt.Sprintf("… %d more lines", len(ls)-maxDiffInput))
		}
		out := make([]string, len(ls))
		for i, l := range ls {
			out[i] = clip(l) + "\n"
		}
		return out
	}
	d, err := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
		A: cut(e), B: cut(a), FromFile: "expected (the lesson)", ToFile: "actual (the command)", Context: 2,
	})
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(d, "\n"), "\n")
	if len(lines) > maxDiffLines {
		n := len(lines) - maxDiffLines
		lines = append(lines[:maxDiffLines], fmt.Sprintf("… %d more diff lines", n))
	}
	return strings.Join(lines, "\n")
}

// maxLineShown is the longest line a report shows.
const maxLineShown = 200

// clip cuts a line to maxLineShown characters, saying how many it hid.
func clip(l string) string {
	if len(l) <= maxLineShown {
		return l
	}
	r := []rune(l)
	if len(r) <= maxLineShown {
		return l
	}
	return string(r[:maxLineShown]) + fmt.Sprintf(" … (%d more characters)", len(r)-maxLineShown)
}

// table is kubectl's tabular output.
type table struct {
	cols []string
	rows [][]string // cells in cols order, normalised
	text []string   // rows as normalised lines, for the diff
}

// isHeader reports whether a line is a kubectl table header: upper-case
// column names two or more spaces apart.
func isHeader(l string) ([]string, []int, bool) {
	t := strings.TrimRight(l, " \t")
	if t == "" || t[0] == ' ' {
		return nil, nil, false
	}
	var cols []string
	var starts []int
	for _, loc := range splitCols(t) {
		cell := t[loc[0]:loc[1]]
		if !headerCellRe.MatchString(cell) {
			return nil, nil, false
		}
		cols = append(cols, cell)
		starts = append(starts, loc[0])
	}
	if len(cols) < 2 && (len(cols) != 1 || cols[0] != "NAME") {
		return nil, nil, false
	}
	return cols, starts, true
}

// splitCols finds the cells of a line: runs separated by two or more
// spaces.
func splitCols(l string) [][2]int {
	var out [][2]int
	start := 0
	for _, gap := range colSplitRe.FindAllStringIndex(l, -1) {
		if gap[0] > start {
			out = append(out, [2]int{start, gap[0]})
		}
		start = gap[1]
	}
	if start < len(l) {
		out = append(out, [2]int{start, len(l)})
	}
	return out
}

func parseTable(s string) (*table, bool) {
	lines := strings.Split(strings.TrimRight(strings.ReplaceAll(s, "\r\n", "\n"), "\n \t"), "\n")
	for len(lines) > 0 && strings.TrimSpace(lines[0]) == "" {
		lines = lines[1:]
	}
	if len(lines) == 0 {
		return nil, false
	}
	cols, starts, ok := isHeader(lines[0])
	if !ok {
		return nil, false
	}
	t := &table{cols: cols, text: []string{strings.Join(cols, " ")}}
	for _, l := range lines[1:] {
		if strings.TrimSpace(l) == "" {
			return nil, false // not one table
		}
		cells := make([]string, len(cols))
		if locs := splitCols(strings.TrimRight(l, " \t")); len(locs) == len(cols) {
			for i, loc := range locs {
				cells[i] = l[loc[0]:loc[1]]
			}
		} else {
			// Cells by the header's columns: kubectl aligns them.
			r := []rune(l)
			for i := range cols {
				from, to := starts[i], len(r)
				if i+1 < len(cols) {
					to = starts[i+1]
				}
				if from < len(r) {
					cells[i] = strings.TrimSpace(string(r[from:min(to, len(r))]))
				}
			}
		}
		for i := range cells {
			cells[i] = normCell(cols[i], cells[i])
		}
		t.rows = append(t.rows, cells)
		t.text = append(t.text, strings.Join(cells, " "))
	}
	return t, true
}

// key names a row: its namespace and name when the table has them, else
// its first cell.
func (t *table) key(row []string) string {
	var parts []string
	for i, c := range t.cols {
		if c == "NAMESPACE" || c == "NAME" {
			parts = append(parts, row[i])
		}
	}
	if len(parts) == 0 {
		return row[0]
	}
	return strings.Join(parts, "/")
}

func compareTables(e, a *table, contains bool) comparison {
	c := comparison{mode: TableMode}
	aIndex := map[string]int{}
	for i, col := range a.cols {
		aIndex[col] = i
	}
	for _, col := range e.cols {
		if _, ok := aIndex[col]; !ok {
			c.problems = append(c.problems, fmt.Sprintf("column %s: in the lesson, not printed", col))
		}
	}
	if !contains {
		eCols := map[string]bool{}
		for _, col := range e.cols {
			eCols[col] = true
		}
		for _, col := range a.cols {
			if !eCols[col] {
				c.problems = append(c.problems, fmt.Sprintf("column %s: printed, not in the lesson", col))
			}
		}
	}
	used := make([]bool, len(a.rows))
	for _, er := range e.rows {
		k := e.key(er)
		found := -1
		for j, ar := range a.rows {
			if !used[j] && a.key(ar) == k {
				found = j
				break
			}
		}
		if found < 0 {
			c.problems = append(c.problems, fmt.Sprintf("row %s: in the lesson, not printed", k))
			continue
		}
		used[found] = true
		for i, col := range e.cols {
			j, ok := aIndex[col]
			if !ok {
				continue
			}
			if ev, av := er[i], a.rows[found][j]; ev != av {
				c.problems = append(c.problems, clip(fmt.Sprintf("row %s, column %s: expected %s, actual %s", k, col, ev, av)))
			}
		}
	}
	if !contains {
		for j, ar := range a.rows {
			if !used[j] {
				c.problems = append(c.problems, fmt.Sprintf("row %s: printed, not in the lesson", a.key(ar)))
			}
		}
	}
	if !c.ok() {
		c.problems = capProblems(c.problems)
		c.diff = unified(e.text, a.text)
	}
	return c
}

func capProblems(p []string) []string {
	if len(p) > maxProblems {
		n := len(p) - maxProblems
		p = append(p[:maxProblems:maxProblems], fmt.Sprintf("… and %d more differences", n))
	}
	return p
}

// compareData compares YAML or JSON as data. ok is false when the
// lesson's block is not YAML (then it is compared as text).
func compareData(expected, actual string, subset bool) (comparison, bool) {
	var want, got any
	if err := yaml.Unmarshal([]byte(elide(expected)), &want); err != nil || want == nil {
		return comparison{}, false
	}
	c := comparison{mode: YAMLMode}
	if err := yaml.Unmarshal([]byte(actual), &got); err != nil {
		c.problems = []string{"the lesson shows YAML or JSON; the command printed something else: " + firstLine(err.Error())}
		c.diff = unified(normText(expected), normText(actual))
		return c, true
	}
	d := &dataDiff{subset: subset}
	d.walk("", want, got)
	c.problems = capProblems(d.problems)
	return c, true
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

// elide turns a lesson's "..." lines into YAML: a "..." alone under a
// key stays as its value (anything), "- ..." stays as a list item (more
// items), and a "..." among a map's keys goes (maps match as subsets).
func elide(s string) string {
	lines := strings.Split(s, "\n")
	var out []string
	prev := ""
	for _, l := range lines {
		t := strings.TrimSpace(l)
		if t == "…" {
			t, l = "...", strings.Replace(l, "…", "...", 1)
		}
		if t == "..." {
			pt := strings.TrimSpace(prev)
			if indentOf(l) == 0 || !strings.HasSuffix(pt, ":") || indentOf(prev) >= indentOf(l) {
				continue
			}
		}
		out = append(out, l)
		if t != "" {
			prev = l
		}
	}
	return strings.Join(out, "\n")
}

// dataDiff walks the lesson's data against the printed data.
type dataDiff struct {
	subset   bool
	problems []string
}

// volatileKeys hold values that differ on every cluster.
var volatileKeys = map[string]bool{"uid": true, "resourceVersion": true, "restartCount": true, "containerID": true, "imageID": true}

func (d *dataDiff) add(path, msg string) {
	if path == "" {
		path = "(top)"
	}
	d.problems = append(d.problems, path+": "+msg)
}

func (d *dataDiff) walk(path string, want, got any) {
	if s, ok := want.(string); ok && (s == "..." || s == "…") {
		return
	}
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			d.add(path, fmt.Sprintf("expected a map, actual %s", show(got)))
			return
		}
		w, g = dropNullTimestamps(w), dropNullTimestamps(g)
		for _, k := range sortedKeys(w) {
			gv, ok := g[k]
			if !ok {
				d.add(path+"."+k, "in the lesson, not printed")
				continue
			}
			if volatileKeys[k] {
				continue
			}
			d.walk(path+"."+k, w[k], gv)
		}
		if !d.subset {
			for _, k := range sortedKeys(g) {
				if _, ok := w[k]; !ok {
					d.add(path+"."+k, "printed, not in the lesson: "+show(g[k]))
				}
			}
		}
	case []any:
		g, ok := got.([]any)
		if !ok {
			d.add(path, fmt.Sprintf("expected a list, actual %s", show(got)))
			return
		}
		more := false
		var items []any
		for _, it := range w {
			if s, ok := it.(string); ok && (s == "..." || s == "…") {
				more = true
				continue
			}
			items = append(items, it)
		}
		if !d.subset && !more {
			if len(items) != len(g) {
				d.add(path, fmt.Sprintf("expected %d item(s), actual %d", len(items), len(g)))
			}
			for i := range min(len(items), len(g)) {
				d.walk(fmt.Sprintf("%s[%d]", path, i), items[i], g[i])
			}
			return
		}
		// Elided: the lesson's items in order among the printed ones.
		j := 0
		for i, it := range items {
			k := j
			for k < len(g) && !d.matches(it, g[k]) {
				k++
			}
			if k == len(g) {
				at := min(i, len(g)-1)
				if at < 0 {
					d.add(fmt.Sprintf("%s[%d]", path, i), "in the lesson, not printed (the list is empty)")
					continue
				}
				// Say why the item at the same place does not match.
				sub := &dataDiff{subset: d.subset}
				sub.walk(fmt.Sprintf("%s[%d]", path, at), it, g[at])
				d.problems = append(d.problems, sub.problems...)
				continue
			}
			j = k + 1
		}
	default:
		if w == nil && got == nil {
			return
		}
		if scalar(want) != scalar(got) {
			d.add(path, fmt.Sprintf("expected %s, actual %s", show(want), show(got)))
		}
	}
}

func (d *dataDiff) matches(want, got any) bool {
	sub := &dataDiff{subset: d.subset}
	sub.walk("", want, got)
	return len(sub.problems) == 0
}

// dropNullTimestamps removes creationTimestamp: null, which older
// servers print in templates and newer ones leave out.
func dropNullTimestamps(m map[string]any) map[string]any {
	if v, ok := m["creationTimestamp"]; ok && v == nil {
		c := make(map[string]any, len(m))
		for k, v := range m {
			if k != "creationTimestamp" {
				c[k] = v
			}
		}
		return c
	}
	return m
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// scalar is a value as compared: text normalised like any output line.
func scalar(v any) string {
	if v == nil {
		return "null"
	}
	return normLine(fmt.Sprint(v))
}

func show(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		return fmt.Sprintf("%q", clip(visible(x)))
	case map[string]any, []any:
		b, err := yaml.Marshal(x)
		if err != nil {
			return fmt.Sprint(x)
		}
		s := strings.TrimSpace(string(b))
		if strings.Contains(s, "\n") || len(s) > 120 {
			s = strings.SplitN(s, "\n", 2)[0] + " …"
		}
		return s
	}
	return clip(fmt.Sprint(v))
}
