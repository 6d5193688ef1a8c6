package lesson

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"unicode/utf8"
)

// Edit is one output block rewritten by Update.
type Edit struct {
	Line       int
	Start, End int
	Text       string
}

// Update rewrites the output blocks of the steps that failed with what
// the cluster printed, and touches no other byte of the lesson. Lines
// that already match after normalisation keep the lesson's text (its
// ages and pod names), so an update changes only what drifted. Blocks
// it cannot rewrite faithfully (elided YAML, transcript output with
// blank lines, binary output) are left alone and named in notes.
func Update(l *Lesson, res *Result) (src []byte, edits []Edit, notes []string) {
	byLine := map[int]*Step{}
	for _, st := range l.Steps {
		byLine[st.Line] = st
	}
	for _, sr := range res.Steps {
		st := byLine[sr.Line]
		if st == nil || st.Expected == nil || sr.Status != Failed || sr.TimedOut {
			continue
		}
		where := fmt.Sprintf("%s:%d", l.Path, st.Expected.Line)
		text, why := newOutput(st, sr)
		if why != "" {
			notes = append(notes, where+": not updated: "+why)
			continue
		}
		edits = append(edits, Edit{Line: st.Expected.Line, Start: st.Expected.Start, End: st.Expected.End, Text: text})
	}
	return apply(l.Src, edits), edits, notes
}

func apply(src []byte, edits []Edit) []byte {
	sort.Slice(edits, func(i, j int) bool { return edits[i].Start < edits[j].Start })
	var b bytes.Buffer
	at := 0
	for _, e := range edits {
		b.Write(src[at:e.Start])
		b.WriteString(e.Text)
		at = e.End
	}
	b.Write(src[at:])
	return b.Bytes()
}

// newOutput is the block's new text, or why it is not rewritten.
func newOutput(st *Step, sr StepResult) (string, string) {
	if sr.Truncated {
		return "", fmt.Sprintf("the command printed %s, more than lab keeps", size(sr.Printed))
	}
	actual := strings.ReplaceAll(sr.Actual, "\r\n", "\n")
	if !utf8.ValidString(actual) || strings.ContainsRune(actual, 0) {
		return "", "the command printed binary bytes"
	}
	var lines []string
	for _, l := range strings.Split(strings.TrimRight(actual, "\n"), "\n") {
		lines = append(lines, strings.TrimRight(stripANSI(l), " \t"))
	}
	for len(lines) > 0 && lines[0] == "" {
		lines = lines[1:]
	}
	if sr.Mode == YAMLMode && (st.Expected.Elided || st.Marks.Contains) {
		return "", "the block shows part of the output (it elides details); update it by hand from what the report shows"
	}
	if sr.Mode == TextMode && !st.Marks.Contains {
		lines = keepMatching(strings.Split(strings.TrimRight(st.Expected.Text, "\n"), "\n"), lines)
	}
	for _, l := range lines {
		if st.Form == Transcript && strings.TrimSpace(l) == "" && len(lines) > 1 {
			return "", "the new output has blank lines, which would end the transcript; move the command into a ```bash block with an {{< output >}} block"
		}
		if st.Form == Transcript && (promptRe.MatchString(l) || markOpenRe.MatchString(l)) {
			return "", "a line of the new output looks like a prompt, which would split the transcript"
		}
		if st.Form == Fenced && (outputCloseRe.MatchString(l) || outputOpenRe.MatchString(l)) {
			return "", "the new output holds an output shortcode"
		}
	}
	if len(lines) == 0 {
		return "", "" // it printed nothing: an empty block
	}
	return strings.Join(lines, "\n") + "\n", ""
}

// keepMatching aligns the lesson's lines with the printed ones and
// keeps the lesson's text where they match after normalisation.
func keepMatching(old, fresh []string) []string {
	o := make([]string, len(old))
	for i, l := range old {
		o[i] = normLine(l)
	}
	f := make([]string, len(fresh))
	for i, l := range fresh {
		f[i] = normLine(l)
	}
	if len(o)*len(f) > 4_000_000 {
		return fresh
	}
	// Longest common subsequence of the normalised lines.
	n, m := len(o), len(f)
	dp := make([][]int, n+1)
	for i := range dp {
		dp[i] = make([]int, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if o[i] == f[j] {
				dp[i][j] = dp[i+1][j+1] + 1
			} else {
				dp[i][j] = max(dp[i+1][j], dp[i][j+1])
			}
		}
	}
	out := make([]string, 0, m)
	i, j := 0, 0
	for j < m {
		switch {
		case i < n && o[i] == f[j]:
			out = append(out, old[i])
			i++
			j++
		case i < n && dp[i+1][j] >= dp[i][j+1]:
			i++
		default:
			out = append(out, fresh[j])
			j++
		}
	}
	return out
}

func stripANSI(s string) string {
	return lineRules[0].re.ReplaceAllString(s, "")
}

// WriteFile replaces path's content atomically, keeping its mode.
func WriteFile(path string, data []byte) error {
	mode := os.FileMode(0o644)
	if fi, err := os.Stat(path); err == nil {
		mode = fi.Mode().Perm()
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
