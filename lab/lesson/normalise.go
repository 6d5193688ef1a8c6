package lesson

import (
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// What legitimately differs between the cluster a lesson was written on
// and the one it runs on is replaced by a placeholder on both sides:
// the comparison then says nothing about it, and a diff shows it as
// <age>, <id>, <time>.

// Kubernetes makes generated names from this alphabet (no vowels, no
// 0, 1 or 3), so "kube-proxy" or "kind-control-plane" are never taken
// for a generated suffix.
const genChars = `[bcdfghjklmnpqrstvwxz2456789]`

var lineRules = []struct {
	re   *regexp.Regexp
	with string
}{
	{regexp.MustCompile(`\x1b\[[0-9;?]*[A-Za-z]`), ""}, // ANSI colours
	// RFC 1123 (kubectl describe), RFC 3339 and Go's time.String.
	{regexp.MustCompile(`\b(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{1,2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d\d:\d\d:\d\d ([+-]\d{4}|[A-Z]{3,4})`), "<time>"},
	{regexp.MustCompile(`\b\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:?\d\d)?( [A-Z]{3,4})?`), "<time>"},
	{regexp.MustCompile(`\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b`), "<uid>"},
	{regexp.MustCompile(`\b[0-9a-f]{64}\b`), "<hash>"},
	{regexp.MustCompile(`\b(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}\b`), "<ip>"},
	{regexp.MustCompile(`\b(resourceVersion:\s*)"?\d+"?`), "${1}<rv>"},
	// Pods of a ReplicaSet, pods of a DaemonSet or Job, ReplicaSets.
	{regexp.MustCompile(`\b([a-z0-9](?:[-a-z0-9.]*[a-z0-9])?)-` + genChars + `{6,10}-` + genChars + `{5}\b`), "${1}-<hash>-<id>"},
	{regexp.MustCompile(`\b([a-z0-9](?:[-a-z0-9.]*[a-z0-9])?)-` + genChars + `{5}\b`), "${1}-<id>"},
	{regexp.MustCompile(`\b([a-z0-9](?:[-a-z0-9.]*[a-z0-9])?)-` + genChars + `{6,10}\b`), "${1}-<hash>"},
	// Newer kubectl prints port names: 53/UDP (dns).
	{regexp.MustCompile(`(\d+/(?:TCP|UDP|SCTP)) \([a-z0-9-]+\)`), "${1}"},
	// A restart's age: 1 (2d ago).
	{regexp.MustCompile(`\((\d+[smhdy])+ ago\)`), "(<age> ago)"},
}

var (
	ageRe = regexp.MustCompile(`^(\d+[smhdy])+$|^<unknown>$|^<invalid>$`)
	// A pod row without its header (kubectl get pods | grep x):
	// NAME READY STATUS RESTARTS AGE.
	podRowRe = regexp.MustCompile(`^(\S+ \d+/\d+ [A-Z][\w:/-]*) \d+( \(<age> ago\))? <age>`)
)

// normLine normalises one line of text: placeholders for what differs
// legitimately, runs of spaces as one (column widths follow the longest
// value), indentation kept.
func normLine(s string) string {
	s = visible(s)
	for _, r := range lineRules {
		s = r.re.ReplaceAllString(s, r.with)
	}
	trimmed := strings.TrimLeft(s, " \t")
	indent := s[:len(s)-len(trimmed)]
	fields := strings.Fields(trimmed)
	// The last column of a table row is its age.
	if n := len(fields); n >= 3 && ageRe.MatchString(fields[n-1]) {
		fields[n-1] = "<age>"
	}
	s = indent + strings.Join(fields, " ")
	return podRowRe.ReplaceAllString(s, "${1} <restarts>${2} <age>")
}

// normText normalises an output: lines normalised, blank lines at either
// end dropped, and a describe's Events section (which depends on how
// long ago things happened) reduced to one line.
func normText(s string) []string {
	raw := strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n")
	var out []string
	for i := 0; i < len(raw); i++ {
		l := normLine(raw[i])
		if t := strings.TrimLeft(l, " "); strings.HasPrefix(t, "Events:") {
			indent := len(l) - len(t)
			out = append(out, l[:indent]+"Events: <events>")
			for i+1 < len(raw) && indentOf(raw[i+1]) > indent && strings.TrimSpace(raw[i+1]) != "" {
				i++
			}
			continue
		}
		out = append(out, l)
	}
	for len(out) > 0 && strings.TrimSpace(out[0]) == "" {
		out = out[1:]
	}
	for len(out) > 0 && strings.TrimSpace(out[len(out)-1]) == "" {
		out = out[:len(out)-1]
	}
	return out
}

func indentOf(s string) int {
	return len(s) - len(strings.TrimLeft(s, " \t"))
}

// visible makes a line printable: invalid UTF-8 and control characters
// (but tabs) are shown escaped, so binary output cannot garble a
// terminal or a report.
func visible(s string) string {
	ok := utf8.ValidString(s)
	if ok {
		for _, r := range s {
			if r != '\t' && r != '\x1b' && unicode.IsControl(r) {
				ok = false
				break
			}
		}
	}
	if ok {
		return s
	}
	var b strings.Builder
	for len(s) > 0 {
		r, size := utf8.DecodeRuneInString(s)
		switch {
		case r == utf8.RuneError && size <= 1:
			b.WriteString(`\x` + strconv.FormatUint(uint64(s[0]), 16))
		case r != '\t' && r != '\x1b' && unicode.IsControl(r):
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteString(s[:size])
		}
		s = s[size:]
	}
	return b.String()
}

// normCell normalises a table cell by its column: ages and restart
// counts become placeholders whatever they hold.
func normCell(col, cell string) string {
	switch col {
	case "AGE", "LAST SEEN", "DURATION", "LAST SCHEDULE":
		if cell != "" && cell != "<none>" {
			return "<age>"
		}
	case "RESTARTS":
		return "<restarts>"
	}
	return strings.Join(strings.Fields(normLine(cell)), " ")
}
