package lesson

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const seedPath = "../../lessons/deploy-a-fleet-of-pods.md"

func parseSeed(t *testing.T) *Lesson {
	t.Helper()
	src, err := os.ReadFile(seedPath)
	if err != nil {
		t.Fatal(err)
	}
	l, err := Parse("lesson.md", src)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestParseSeedLesson(t *testing.T) {
	l := parseSeed(t)
	var fenced, transcript []*Step
	for _, s := range l.Steps {
		if s.Form == Fenced {
			fenced = append(fenced, s)
		} else {
			transcript = append(transcript, s)
		}
	}
	if len(fenced) != 7 || len(transcript) != 7 {
		t.Fatalf("%d fenced and %d transcript commands, want 7 and 7", len(fenced), len(transcript))
	}
	for _, s := range l.Steps {
		if s.Expected == nil {
			t.Errorf("line %d %q: no output block", s.Line, s.Command)
		}
	}
	if got := fenced[4].Command; got != "kppod=$(kubectl get pods -n kube-system | grep kube-proxy | sed 's/ .*//')\necho $kppod" {
		t.Errorf("the two-line block: %q", got)
	}
	if got := strings.TrimSpace(fenced[4].Expected.Text); got != "kube-proxy-sc7qw" {
		t.Errorf("its output (after prose between them): %q", got)
	}
	if yaml := fenced[6]; !yaml.Expected.Elided {
		t.Errorf("the -o yaml block at line %d is not seen as elided", yaml.Line)
	}
	if fenced[1].Expected.Elided {
		t.Error("kubectl get ns is seen as elided")
	}
	// Transcripts: the prompt is not part of the command, trailing
	// spaces are not either, and each output stops at the next prompt.
	if got := transcript[0].Command; got != "kubectl get daemonset kube-proxy -n kube-system" {
		t.Errorf("first transcript command %q", got)
	}
	if got := transcript[0].Expected.Text; !strings.HasPrefix(got, "NAME ") || strings.Count(got, "\n") != 2 {
		t.Errorf("first transcript output %q", got)
	}
	if got := transcript[2]; got.Command != "kubectl get deployments" || strings.TrimSpace(got.Expected.Text) != "No resources found in default namespace." {
		t.Errorf("third transcript step %+v", got)
	}
	describe := transcript[4]
	if !strings.HasPrefix(describe.Command, "kubectl describe deployment/coredns") || !describe.Marks.Contains {
		t.Errorf("the describe step %q has marks %+v, want contains", describe.Command, describe.Marks)
	}
	if transcript[3].Marks.Contains || strings.Contains(transcript[3].Expected.Text, "lab:") {
		t.Error("the mark leaked into the step before it")
	}
	if last := transcript[6]; last.Command != "kubectl get pods -n kube-system | grep coredns" || strings.Count(last.Expected.Text, "coredns-") != 2 {
		t.Errorf("last step %+v", last)
	}
	if l.Lab != "deploy-fleet" || l.LabLine == 0 {
		t.Errorf("lab %q at line %d, want deploy-fleet", l.Lab, l.LabLine)
	}
	// Every output's offsets hold its text.
	for _, s := range l.Steps {
		if got := string(l.Src[s.Expected.Start:s.Expected.End]); got != s.Expected.Text {
			t.Errorf("line %d: offsets hold %q, text is %q", s.Line, got, s.Expected.Text)
		}
	}
}

func TestParseForms(t *testing.T) {
	src := "intro\n\n" +
		"<!-- lab: timeout=5s -->\n" +
		"```bash\nkubectl get ns\n```\n\n" +
		"<!-- lab: ignore -->\n" +
		"{{< output >}}\nNAME\n{{< /output >}}\n\n" +
		"```bash\ntouch x\n```\n\n" +
		"```yaml\nkind: Pod\n```\n\n" +
		"```console\n$ echo a\na\n\n$ echo b\nb\n```\n\n" +
		"  ```bash\n  echo indented\n  ```\n" +
		"[ec2-user@ip-10-0-0-1 ~]$ echo c\nc\nuser@host:~$ true\n"
	l, err := Parse("l.md", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	type want struct {
		line    int
		form    Form
		command string
		out     *string
		marks   Marks
	}
	s := func(v string) *string { return &v }
	wants := []want{
		{4, Fenced, "kubectl get ns", s("NAME\n"), Marks{Timeout: 5 * time.Second, Ignore: true}},
		{13, Fenced, "touch x", nil, Marks{}},
		{22, Transcript, "echo a", s("a\n\n"), Marks{}},
		{25, Transcript, "echo b", s("b\n"), Marks{}},
		{29, Fenced, "echo indented", nil, Marks{}},
		{32, Transcript, "echo c", s("c\n"), Marks{}},
		{34, Transcript, "true", s(""), Marks{}},
	}
	if len(l.Steps) != len(wants) {
		for _, st := range l.Steps {
			t.Logf("%d %s %q", st.Line, st.Form, st.Command)
		}
		t.Fatalf("%d steps, want %d", len(l.Steps), len(wants))
	}
	for i, w := range wants {
		st := l.Steps[i]
		if st.Line != w.line || st.Form != w.form || st.Command != w.command || st.Marks != w.marks {
			t.Errorf("step %d: %d %s %q %+v, want %d %s %q %+v", i, st.Line, st.Form, st.Command, st.Marks, w.line, w.form, w.command, w.marks)
		}
		switch {
		case w.out == nil && st.Expected != nil:
			t.Errorf("step %d: output %q, want none", i, st.Expected.Text)
		case w.out != nil && (st.Expected == nil || st.Expected.Text != *w.out):
			t.Errorf("step %d: output %+v, want %q", i, st.Expected, *w.out)
		}
	}
}

func TestParseProblemsAreLocated(t *testing.T) {
	cases := []struct {
		name, src string
		want      []string
	}{
		{"unclosed output", "```bash\nls\n```\n{{< output >}}\na\n", []string{"l.md:4: this {{< output >}} is never closed"}},
		{"stray close", "text\n{{< /output >}}\n", []string{"l.md:2: {{< /output >}} closes no output block"}},
		{"two opens", "```bash\nls\n```\n{{< output >}}\na\n{{< output >}}\nb\n{{< /output >}}\n", []string{"l.md:4: this {{< output >}} is never closed"}},
		{"inline shortcode", "```bash\nls\n```\n{{< output >}}a{{< /output >}}\n", []string{"l.md:4: an output shortcode must stand alone"}},
		{"orphan output", "{{< output >}}\na\n{{< /output >}}\n", []string{"l.md:1: this output block follows no command"}},
		{"unclosed fence", "```bash\nls\n", []string{"l.md:1: this code fence (```) is never closed"}},
		{"unknown mark", "<!-- lab: ignroe -->\n```bash\nls\n```\n", []string{`l.md:1: unknown lab mark "ignroe"`}},
		{"bad timeout", "<!-- lab: timeout=soon -->\n```bash\nls\n```\n", []string{"l.md:1: timeout=soon: give a duration"}},
		{"mark for nothing", "```bash\nls\n```\n<!-- lab: skip -->\n", []string{"l.md:4: this mark applies to no command"}},
		{"two-line mark", "<!-- lab: skip\n-->\n```bash\nls\n```\n", []string{"l.md:1: a lab mark must be one line"}},
		{"two labs", "<!-- lab: verify=a -->\n<!-- lab: verify=b -->\n", []string{"l.md:2: the lesson already ends with lab a (line 1)"}},
		{"binary", "ok\n\xff\xfe\n", []string{"l.md:2: not UTF-8 text"}},
		{"nul", "ok\nfine\x00\n", []string{"l.md:2: holds a NUL byte"}},
		{"several at once", "{{< /output >}}\n<!-- lab: nope -->\n```bash\nls\n```\n{{< output >}}\n", []string{"l.md:1:", "l.md:2:", "l.md:6:"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse("l.md", []byte(c.src))
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("err = %v, want a ParseError", err)
			}
			msg := err.Error()
			for _, w := range c.want {
				if !strings.Contains(msg, w) {
					t.Errorf("%q lacks %q", msg, w)
				}
			}
		})
	}
}

func TestParseTooBig(t *testing.T) {
	_, err := Parse("l.md", make([]byte, MaxSize+1))
	if err == nil || !strings.Contains(err.Error(), "lab reads lessons up to 8 MiB") {
		t.Fatalf("err = %v", err)
	}
}

// FuzzParse: any bytes give a lesson or located problems, never a
// panic, and a lesson's offsets always hold its outputs.
func FuzzParse(f *testing.F) {
	if src, err := os.ReadFile(seedPath); err == nil {
		f.Add(src)
	}
	f.Add([]byte("```bash\nls\n```\n{{< output >}}\na\n{{< /output >}}\n$ ls\nb\n"))
	f.Add([]byte("<!-- lab: contains timeout=1s -->\nu@h:~ $ a \\\nb\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		l, err := Parse("f.md", src)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) || len(pe.Problems) == 0 {
				t.Fatalf("err %v is not a ParseError with problems", err)
			}
			return
		}
		for _, s := range l.Steps {
			if s.Expected == nil {
				continue
			}
			if s.Expected.Start > s.Expected.End || s.Expected.End > len(src) || string(src[s.Expected.Start:s.Expected.End]) != s.Expected.Text {
				t.Fatalf("line %d: bad offsets %d..%d", s.Line, s.Expected.Start, s.Expected.End)
			}
		}
		if got, _, _ := Update(l, &Result{}); string(got) != string(src) {
			t.Fatal("an update with nothing to change changed the lesson")
		}
	})
}

func TestRead(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ path, want string }{
		{filepath.Join(dir, "nope.md"), "cannot read the lesson: no such file or directory"},
		{dir, "is a directory; name the lesson's .md file"},
	} {
		l, problems := Read(tc.path)
		if l != nil || len(problems) != 1 || problems[0].Message != tc.want || problems[0].File != tc.path {
			t.Errorf("Read(%s) = %v, %+v; want the problem %q", tc.path, l, problems, tc.want)
		}
	}
	ok := filepath.Join(dir, "ok.md")
	if err := os.WriteFile(ok, []byte("```bash\necho hi\n```\n\n```\nhi\n```\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if l, problems := Read(ok); l == nil || len(problems) != 0 || len(l.Steps) != 1 {
		t.Errorf("Read(ok.md) = %+v, %v; want one step", l, problems)
	}
}
