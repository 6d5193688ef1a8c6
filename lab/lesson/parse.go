package lesson

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"
)

// MaxSize is the largest lesson Parse reads: a lesson is prose, and a
// bigger file is almost surely not one.
const MaxSize = 8 << 20

// MaxTimeout bounds a timeout= mark.
const MaxTimeout = time.Hour

var (
	fenceRe       = regexp.MustCompile("^([ \t]*)(`{3,}|~{3,})(.*)$")
	outputOpenRe  = regexp.MustCompile(`^\s*\{\{[<%]\s*output\s*[>%]\}\}\s*$`)
	outputCloseRe = regexp.MustCompile(`^\s*\{\{[<%]\s*/output\s*[>%]\}\}\s*$`)
	// Any output shortcode, however malformed, so one that is not alone
	// on its line is reported rather than read as prose.
	outputAnyRe = regexp.MustCompile(`\{\{[<%]\s*/?output\b`)
	markRe      = regexp.MustCompile(`^\s*<!--\s*lab:(.*?)-->\s*$`)
	markOpenRe  = regexp.MustCompile(`^\s*<!--\s*lab:`)
	// A prompt: `$ cmd`, `user:~/dir $ cmd`, `user@host:~$ cmd` or
	// `[user@host dir]$ cmd`. A prefix must look like a prompt (":", "@"
	// or "~" in it, or brackets), so prose with a dollar sign is not one.
	promptRe = regexp.MustCompile("^(?:\\[[^\\]]*\\]\\s?|[^\\s$`]*[:@~][^\\s$`]*\\s?)?\\$ (\\S.*)$")
	elidedRe = regexp.MustCompile(`(?i)\b(elided|omitted|abridged|truncated)\b`)
	labName  = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_-]*$`)
)

// shellInfo are the info strings of fenced blocks whose content is run.
var shellInfo = map[string]bool{"bash": true, "sh": true, "shell": true}

// transcriptInfo are fences that may hold a prompt transcript.
var transcriptInfo = map[string]bool{"bash": true, "sh": true, "shell": true, "console": true, "shell-session": true, "text": true, "": true}

type line struct {
	num        int // 1-based
	start, end int // byte offsets; end excludes the newline
	text       string
}

type parser struct {
	path     string
	src      []byte
	lessn    *Lesson
	problems []Problem
	pending  Marks
	markLine int   // line of the first pending mark, 0 if none
	open     *Step // the last fenced command, still waiting for its output
	prose    strings.Builder
}

// Read reads and parses the lesson at path; when it cannot, the problems
// say why (a missing file, a directory, what Parse found).
func Read(path string) (*Lesson, []Problem) {
	f, err := os.Open(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err // the path is said already
		}
		return nil, []Problem{{File: path, Message: "cannot read the lesson: " + err.Error()}}
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.IsDir() {
		return nil, []Problem{{File: path, Message: "is a directory; name the lesson's .md file"}}
	}
	src, err := io.ReadAll(io.LimitReader(f, MaxSize+1))
	if err != nil {
		return nil, []Problem{{File: path, Message: "cannot read the lesson: " + err.Error()}}
	}
	l, err := Parse(path, src)
	var pe *ParseError
	if errors.As(err, &pe) {
		return nil, pe.Problems
	}
	return l, nil
}

// Parse reads a lesson. Every problem it finds comes back at once in a
// *ParseError, each with the lesson's path and line.
func Parse(path string, src []byte) (*Lesson, error) {
	p := &parser{path: path, src: src, lessn: &Lesson{Path: path, Src: src}}
	if len(src) > MaxSize {
		p.add(0, fmt.Sprintf("the file is %.1f MiB; lab reads lessons up to %d MiB", float64(len(src))/(1<<20), MaxSize>>20))
		return nil, p.err()
	}
	if !utf8.Valid(src) {
		n := firstBadLine(src)
		p.add(n, fmt.Sprintf("not UTF-8 text (first bad byte on line %d); save the lesson as UTF-8", n))
		return nil, p.err()
	}
	if i := bytes.IndexByte(src, 0); i >= 0 {
		n := bytes.Count(src[:i], []byte("\n")) + 1
		p.add(n, "holds a NUL byte; a lesson is text")
		return nil, p.err()
	}
	p.lines(splitLines(src))
	if p.markLine > 0 {
		p.add(p.markLine, "this mark applies to no command: no command follows it")
	}
	if len(p.problems) > 0 {
		return nil, p.err()
	}
	return p.lessn, nil
}

func (p *parser) err() error {
	return &ParseError{Problems: p.problems}
}

func (p *parser) add(line int, msg string) {
	p.problems = append(p.problems, Problem{File: p.path, Line: line, Message: msg})
}

func splitLines(src []byte) []line {
	var ls []line
	start := 0
	for n := 1; start < len(src); n++ {
		end := bytes.IndexByte(src[start:], '\n')
		if end < 0 {
			end = len(src)
		} else {
			end += start
		}
		ls = append(ls, line{num: n, start: start, end: end, text: strings.TrimSuffix(string(src[start:end]), "\r")})
		start = end + 1
	}
	return ls
}

func firstBadLine(src []byte) int {
	n := 1
	for len(src) > 0 {
		r, size := utf8.DecodeRune(src)
		if r == utf8.RuneError && size <= 1 {
			return n
		}
		if r == '\n' {
			n++
		}
		src = src[size:]
	}
	return n
}

// after is the offset just past l's newline.
func (p *parser) after(l line) int {
	return min(l.end+1, len(p.src))
}

func (p *parser) lines(ls []line) {
	for i := 0; i < len(ls); i++ {
		l := ls[i]
		switch {
		case fenceRe.MatchString(l.text):
			i = p.fence(ls, i)
		case outputOpenRe.MatchString(l.text):
			i = p.output(ls, i)
		case outputCloseRe.MatchString(l.text):
			p.add(l.num, "{{< /output >}} closes no output block; remove it or add the {{< output >}} that opens it")
		case outputAnyRe.MatchString(l.text):
			p.add(l.num, "an output shortcode must stand alone on its line ({{< output >}} and {{< /output >}})")
		case markOpenRe.MatchString(l.text):
			p.mark(l)
		case strings.HasPrefix(strings.TrimSpace(l.text), "<!--") && !strings.Contains(l.text, "-->"):
			i = p.skipComment(ls, i)
		case promptRe.MatchString(l.text):
			j := i
			for j < len(ls) && strings.TrimSpace(ls[j].text) != "" {
				j++
			}
			p.transcript(ls[i:j])
			i = j - 1
		default:
			p.prose.WriteString(l.text)
			p.prose.WriteByte('\n')
		}
	}
}

// skipComment passes over a multi-line HTML comment (commented-out
// prose is not part of the lesson).
func (p *parser) skipComment(ls []line, i int) int {
	for j := i + 1; j < len(ls); j++ {
		if strings.Contains(ls[j].text, "-->") {
			return j
		}
	}
	p.add(ls[i].num, "this HTML comment is never closed with -->")
	return len(ls)
}

func (p *parser) fence(ls []line, i int) int {
	m := fenceRe.FindStringSubmatch(ls[i].text)
	indent, marker, info := m[1], m[2], strings.TrimSpace(m[3])
	if marker[0] == '`' && strings.Contains(info, "`") {
		p.prose.WriteString(ls[i].text + "\n") // inline code, not a fence
		return i
	}
	end := -1
	for j := i + 1; j < len(ls); j++ {
		t := strings.TrimSpace(ls[j].text)
		if len(t) >= len(marker) && strings.Trim(t, marker[:1]) == "" {
			end = j
			break
		}
	}
	if end < 0 {
		p.add(ls[i].num, "this code fence ("+marker+") is never closed; close it with "+marker+" on a line of its own")
		return len(ls)
	}
	lang := strings.ToLower(strings.Fields(info + " x")[0])
	if lang == "x" {
		lang = ""
	}
	body := ls[i+1 : end]
	if transcriptInfo[lang] {
		for _, b := range body {
			if strings.TrimSpace(b.text) == "" {
				continue
			}
			if promptRe.MatchString(b.text) {
				p.transcript(body)
				return end
			}
			break
		}
	}
	if !shellInfo[lang] {
		return end
	}
	var cmd strings.Builder
	for _, b := range body {
		cmd.WriteString(strings.TrimPrefix(b.text, indent))
		cmd.WriteByte('\n')
	}
	if strings.TrimSpace(cmd.String()) == "" {
		return end
	}
	p.open = p.step(ls[i].num, Fenced, strings.TrimRight(cmd.String(), "\n"))
	return end
}

// step starts a step and hands it the pending marks.
func (p *parser) step(line int, form Form, cmd string) *Step {
	s := &Step{Line: line, Form: form, Command: cmd, Marks: p.pending}
	p.pending, p.markLine = Marks{}, 0
	p.open = nil
	p.prose.Reset()
	p.lessn.Steps = append(p.lessn.Steps, s)
	return s
}

func (p *parser) output(ls []line, i int) int {
	end := -1
	for j := i + 1; j < len(ls); j++ {
		if outputCloseRe.MatchString(ls[j].text) {
			end = j
			break
		}
		if outputOpenRe.MatchString(ls[j].text) {
			break
		}
	}
	if end < 0 {
		p.add(ls[i].num, "this {{< output >}} is never closed; end the block with {{< /output >}} on a line of its own")
		// Go on after the next open, if any, to report more at once.
		for j := i + 1; j < len(ls); j++ {
			if outputOpenRe.MatchString(ls[j].text) {
				return j - 1
			}
		}
		return len(ls)
	}
	start := p.after(ls[i])
	stop := ls[end].start
	out := &Output{Line: ls[i].num + 1, Start: start, End: stop, Text: string(p.src[start:stop])}
	switch {
	case p.open == nil && p.pending.Ignore:
		p.pending, p.markLine = Marks{}, 0
	case p.open == nil:
		p.add(ls[i].num, "this output block follows no command (a ```bash block or a `$ ` prompt line before it); add the command, or mark the block <!-- lab: ignore -->")
	default:
		s := p.open
		out.Elided = elidedRe.MatchString(p.prose.String()) || hasElision(out.Text)
		s.Expected = out
		s.Marks = merge(s.Marks, p.pending)
		p.pending, p.markLine = Marks{}, 0
		p.open = nil
	}
	p.prose.Reset()
	return end
}

// transcript reads prompt lines and the output lines after each.
func (p *parser) transcript(ls []line) {
	var cur *Step
	finish := func() {}
	for i := 0; i < len(ls); i++ {
		l := ls[i]
		if markOpenRe.MatchString(l.text) {
			finish()
			finish = func() {}
			p.mark(l)
			continue
		}
		m := promptRe.FindStringSubmatch(l.text)
		if m == nil {
			if cur == nil {
				continue // blank lines before the first prompt of a fence
			}
			cur.Expected.End = p.after(l)
			continue
		}
		finish()
		cmd := strings.TrimRight(m[1], " \t")
		for strings.HasSuffix(cmd, "\\") && i+1 < len(ls) {
			i++
			cmd += "\n" + ls[i].text
		}
		cur = p.step(l.num, Transcript, cmd)
		at := p.after(ls[i])
		cur.Expected = &Output{Line: ls[i].num + 1, Start: at, End: at}
		s := cur
		finish = func() {
			s.Expected.Text = string(p.src[s.Expected.Start:s.Expected.End])
			s.Expected.Elided = hasElision(s.Expected.Text)
		}
	}
	finish()
	p.prose.Reset()
}

// hasElision reports a line of "..." (or "- ...") in an output block.
func hasElision(text string) bool {
	for _, l := range strings.Split(text, "\n") {
		t := strings.TrimSpace(l)
		if t == "..." || t == "- ..." || t == "…" {
			return true
		}
	}
	return false
}

func (p *parser) mark(l line) {
	m := markRe.FindStringSubmatch(l.text)
	if m == nil {
		p.add(l.num, "a lab mark must be one line: <!-- lab: ... -->")
		return
	}
	fields := strings.Fields(m[1])
	if len(fields) == 0 {
		p.add(l.num, "empty lab mark; marks are "+markList)
		return
	}
	for _, f := range fields {
		key, val, hasVal := strings.Cut(f, "=")
		switch {
		case key == "ignore" && !hasVal:
			p.pending.Ignore = true
		case key == "skip" && !hasVal:
			p.pending.Skip = true
		case key == "contains" && !hasVal:
			p.pending.Contains = true
		case key == "timeout" && hasVal:
			d, err := time.ParseDuration(val)
			if err != nil || d <= 0 || d > MaxTimeout {
				p.add(l.num, fmt.Sprintf("timeout=%s: give a duration between 1ms and %s, such as 60s or 2m", val, MaxTimeout))
				continue
			}
			p.pending.Timeout = d
		case key == "verify" && hasVal:
			if !labName.MatchString(val) {
				p.add(l.num, fmt.Sprintf("verify=%s: name a lab block of the lab file, such as verify=deploy-fleet", val))
				continue
			}
			if p.lessn.Lab != "" {
				p.add(l.num, fmt.Sprintf("the lesson already ends with lab %s (line %d); a lesson ends with one lab", p.lessn.Lab, p.lessn.LabLine))
				continue
			}
			p.lessn.Lab, p.lessn.LabLine = val, l.num
			continue
		default:
			p.add(l.num, fmt.Sprintf("unknown lab mark %q; marks are %s", f, markList))
			continue
		}
		if p.markLine == 0 {
			p.markLine = l.num
		}
	}
}

const markList = "ignore, skip, contains, timeout=DURATION and verify=LAB"

func merge(a, b Marks) Marks {
	a.Ignore = a.Ignore || b.Ignore
	a.Skip = a.Skip || b.Skip
	a.Contains = a.Contains || b.Contains
	if b.Timeout > 0 {
		a.Timeout = b.Timeout
	}
	return a
}
