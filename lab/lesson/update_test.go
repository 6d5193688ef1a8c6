package lesson

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// judge builds the result Run would give for l, had the cluster printed
// printed[i] for step i (steps not in printed print what the lesson shows).
func judge(l *Lesson, printed map[int]string) *Result {
	r := &Result{File: l.Path}
	for i, st := range l.Steps {
		sr := StepResult{File: l.Path, Line: st.Line, Form: st.Form, Command: st.Command, Status: Passed}
		actual, ok := printed[i]
		if !ok {
			r.add(sr)
			continue
		}
		sr.Actual = actual
		c := compare(st, actual)
		sr.Mode, sr.Problems = c.mode, c.problems
		if !c.ok() {
			sr.Status = Failed
		}
		r.add(sr)
	}
	return r
}

func TestUpdateTouchesOnlyOutputBlocks(t *testing.T) {
	l := parseSeed(t)
	if got, edits, _ := Update(l, judge(l, nil)); !bytes.Equal(got, l.Src) || len(edits) != 0 {
		t.Fatal("nothing differs, yet the lesson changed")
	}

	ns, deployments := 1, 10 // kubectl get ns; the transcript's get deployments -n kube-system
	if !strings.HasPrefix(l.Steps[ns].Command, "kubectl get ns") || l.Steps[deployments].Command != "kubectl get deployments -n kube-system" {
		t.Fatalf("steps moved: %q, %q", l.Steps[ns].Command, l.Steps[deployments].Command)
	}
	nsPrinted := "NAME                 STATUS   AGE\ndefault              Active   10s\ndev                  Active   3s\nkube-node-lease      Active   10s\nkube-public          Active   10s\nkube-system          Active   10s\nlocal-path-storage   Active   9s\nprod                 Active   1s\nstaging              Active   3s\ntest                 Active   3s\n"
	depPrinted := "NAME      READY   UP-TO-DATE   AVAILABLE   AGE\ncoredns   1/2     2            1           16s\n"
	yamlPrinted := "apiVersion: v1\nkind: Pod\nmetadata:\n  name: other\n"
	res := judge(l, map[int]string{ns: nsPrinted, deployments: depPrinted, 6: yamlPrinted})
	if res.Failed != 3 {
		t.Fatalf("%d failed, want 3", res.Failed)
	}
	got, edits, notes := Update(l, res)
	if len(edits) != 2 {
		t.Fatalf("%d edits, want 2: %+v", len(edits), edits)
	}
	if len(notes) != 1 || !strings.Contains(notes[0], "lesson.md:") || !strings.Contains(notes[0], "elides details") {
		t.Errorf("notes %q", notes)
	}
	// Outside the two blocks, every byte is the lesson's.
	a, b := l.Steps[ns].Expected, l.Steps[deployments].Expected
	if !bytes.Equal(got[:a.Start], l.Src[:a.Start]) {
		t.Error("bytes before the first block changed")
	}
	tail := len(l.Src) - b.End
	if !bytes.Equal(got[len(got)-tail:], l.Src[b.End:]) {
		t.Error("bytes after the last block changed")
	}
	between := l.Src[a.End:b.Start]
	if !bytes.Contains(got, between) {
		t.Error("bytes between the blocks changed")
	}
	// The new lesson reads back with the cluster's outputs, and passes.
	l2, err := Parse("lesson.md", got)
	if err != nil {
		t.Fatal(err)
	}
	if len(l2.Steps) != len(l.Steps) {
		t.Fatalf("%d steps after the update, want %d", len(l2.Steps), len(l.Steps))
	}
	if txt := l2.Steps[deployments].Expected.Text; txt != depPrinted {
		t.Errorf("transcript output now %q", txt)
	}
	if txt := l2.Steps[ns].Expected.Text; !strings.Contains(txt, "prod") {
		t.Errorf("fenced output now %q", txt)
	}
	again := judge(l2, map[int]string{ns: nsPrinted, deployments: depPrinted})
	if again.Failed != 0 {
		t.Errorf("after the update %d still fail", again.Failed)
	}
	if got2, edits, _ := Update(l2, again); len(edits) != 0 || !bytes.Equal(got2, got) {
		t.Error("a second update changed the lesson again")
	}
}

func TestUpdateKeepsMatchingLines(t *testing.T) {
	src := fence("cat notes", "kube-proxy-sc7qw started 9d\nold line\nsame\n")
	l, err := Parse("l.md", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	res := judge(l, map[int]string{0: "kube-proxy-bzk7c started 3s\nnew line\nsame\n"})
	got, edits, _ := Update(l, res)
	if len(edits) != 1 {
		t.Fatalf("edits %+v", edits)
	}
	want := strings.Replace(src, "old line", "new line", 1)
	if string(got) != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}

func TestUpdateRefusesWhatWouldBreakTheLesson(t *testing.T) {
	src := "$ printf 'a\\n\\nb'\na\n\n" + fence("printf x", "y\n") + fence("head -c 10 /dev/urandom", "z\n")
	l, err := Parse("l.md", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	res := judge(l, map[int]string{0: "a\n\nb\n", 1: "{{< /output >}}\n", 2: "\xff\x00"})
	got, edits, notes := Update(l, res)
	if len(edits) != 0 || !bytes.Equal(got, l.Src) {
		t.Errorf("edits %+v", edits)
	}
	for i, want := range []string{"blank lines, which would end the transcript", "holds an output shortcode", "binary bytes"} {
		if i >= len(notes) || !strings.Contains(notes[i], want) {
			t.Errorf("notes %q lack %q", notes, want)
		}
	}
}

func TestWriteFileKeepsMode(t *testing.T) {
	p := filepath.Join(t.TempDir(), "l.md")
	if err := os.WriteFile(p, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(p, []byte("new")); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(p)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, %v", fi.Mode(), err)
	}
	entries, _ := os.ReadDir(filepath.Dir(p))
	if len(entries) != 1 {
		t.Errorf("left %d files", len(entries))
	}
}
