package e2e

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/txtar"

	"labs.dev/lab/providers/simulated/simtest"
)

var update = flag.Bool("update", false, "rewrite testdata/hostile/golden from this run")

const corpus = "../testdata/hostile"

// hostileCase is one input of the corpus: a txtar archive whose files make
// a lab directory (names starting with ../ land beside it) and whose
// comment says how to run it:
//
//	cmd: validate | plan | up | doc   (default validate; the others run against this package's cluster)
//	args: extra arguments, split on spaces
//	want: text the output must contain, naming the place (repeatable)
//	symlink: LINK TARGET       (made inside the lab directory)
//	gen: PATH KIND             (a generated file: huge-hcl, garbage, nul, huge-yaml, lesson-10000)
type hostileCase struct {
	name    string
	cmd     string
	args    []string
	want    []string
	symlink [][2]string
	gen     [][2]string
	files   []txtar.File
}

func readCases(t *testing.T) []hostileCase {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(corpus, "*.txtar"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no corpus in %s: %v", corpus, err)
	}
	var cases []hostileCase
	for _, p := range paths {
		ar, err := txtar.ParseFile(p)
		if err != nil {
			t.Fatal(err)
		}
		c := hostileCase{name: strings.TrimSuffix(filepath.Base(p), ".txtar"), cmd: "validate", files: ar.Files}
		for _, line := range strings.Split(string(ar.Comment), "\n") {
			key, val, ok := strings.Cut(line, ": ")
			if !ok {
				continue
			}
			switch key {
			case "cmd":
				c.cmd = val
			case "args":
				c.args = strings.Fields(val)
			case "want":
				c.want = append(c.want, val)
			case "symlink", "gen":
				a, b, _ := strings.Cut(val, " ")
				if key == "symlink" {
					c.symlink = append(c.symlink, [2]string{a, b})
				} else {
					c.gen = append(c.gen, [2]string{a, b})
				}
			}
		}
		if len(c.want) == 0 {
			t.Fatalf("%s: no want: line naming where the problem is", p)
		}
		cases = append(cases, c)
	}
	return cases
}

// TestHostileInput runs lab on every input of the corpus.
func TestHostileInput(t *testing.T) {
	bin := simtest.LabBinaries(t)
	cases := readCases(t)
	located, ran := 0, 0
	for _, c := range cases {
		ok := t.Run(c.name, func(t *testing.T) {
			ran++
			if hostileRun(t, bin, c) {
				located++
			}
		})
		_ = ok
	}
	t.Logf("corpus: %d inputs, %d ran, %d refused with a located diagnostic", len(cases), ran, located)
	if len(cases) < 40 {
		t.Errorf("the corpus has %d inputs; it promises at least 40", len(cases))
	}
}

func hostileRun(t *testing.T, bin string, c hostileCase) bool {
	work := t.TempDir()
	dir := filepath.Join(work, "lab")
	must(t, os.MkdirAll(dir, 0o755))
	for _, f := range c.files {
		p := filepath.Join(dir, f.Name)
		must(t, os.MkdirAll(filepath.Dir(p), 0o755))
		must(t, os.WriteFile(p, f.Data, 0o644))
	}
	for _, s := range c.symlink {
		p := filepath.Join(dir, s[0])
		must(t, os.MkdirAll(filepath.Dir(p), 0o755))
		must(t, os.Symlink(s[1], p))
	}
	for _, g := range c.gen {
		must(t, os.WriteFile(filepath.Join(dir, g[0]), generate(t, g[1]), 0o644))
	}
	statePath := filepath.Join(dir, ".lab", "state.json")
	stateBefore, stateErr := os.ReadFile(statePath)

	args := append([]string{c.cmd}, c.args...)
	env := append(os.Environ(), "HOME="+work, "NO_COLOR=1", "LAB_BIN_DIR="+bin, "KUBECONFIG="+filepath.Join(work, "kubeconfig"))
	replacer := []string{work, "$WORK"}
	if real, err := filepath.EvalSymlinks(work); err == nil && real != work {
		replacer = append(replacer, real, "$WORK")
	}
	if c.cmd != "validate" {
		cl := simtest.Get(t)
		args = append(args, "-var", "kubeconfig="+cl.Kubeconfig, "-var", "context="+cl.Context)
		env = append(env, "KUBECONFIG="+cl.Kubeconfig)
		replacer = append(replacer, cl.Kubeconfig, "$KUBECONFIG", cl.Endpoint, "$ENDPOINT")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(bin, "lab"), args...)
	cmd.Dir = dir
	cmd.Env = env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	took := time.Since(start)
	text := strings.NewReplacer(replacer...).Replace(out.String())

	var ee *exec.ExitError
	switch {
	case ctx.Err() != nil:
		t.Fatalf("lab %s did not end within 2 minutes (hang)\n%s", c.cmd, text)
	case errors.As(err, &ee) && ee.ExitCode() > 0:
	case err == nil:
		t.Errorf("lab %s exited 0 on hostile input\n%s", c.cmd, text)
	default:
		t.Errorf("lab %s: %v (killed by a signal?)\n%s", c.cmd, err, text)
	}
	if strings.Contains(text, "panic:") || strings.Contains(text, "goroutine ") || strings.Contains(text, "fatal error:") {
		t.Errorf("lab %s panicked\n%s", c.cmd, text)
	}
	if took > 30*time.Second {
		t.Errorf("lab %s took %s to refuse the input", c.cmd, took.Round(time.Millisecond))
	}
	located := true
	for _, w := range c.want {
		if !strings.Contains(text, w) {
			located = false
			t.Errorf("output does not contain %q\n%s", w, text)
		}
	}
	stateAfter, stateErrAfter := os.ReadFile(statePath)
	switch {
	case stateErr != nil && stateErrAfter == nil:
		t.Errorf("lab %s wrote a state file on hostile input", c.cmd)
	case stateErr == nil && !bytes.Equal(stateBefore, stateAfter):
		t.Errorf("lab %s changed the state file on hostile input", c.cmd)
	}
	golden(t, c.name, normalize(text))
	return located && !t.Failed()
}

var (
	durations = regexp.MustCompile(`\b\d+(\.\d+)?(ms|s)\b`)
	clock     = regexp.MustCompile(`(?m)^\d\d:\d\d:\d\d `)
	tempNames = regexp.MustCompile(`\$WORK[^\s"':]*?/(\.lab/)?[^/\s"':]*\.tmp[0-9]+`)
)

// normalize keeps golden files stable across runs and machines.
func normalize(s string) string {
	s = durations.ReplaceAllString(s, "$$DURATION")
	s = clock.ReplaceAllString(s, "$$TIME ")
	return tempNames.ReplaceAllString(s, "$$TEMPFILE")
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join(corpus, "golden", name+".txt")
	if *update {
		must(t, os.MkdirAll(filepath.Dir(path), 0o755))
		must(t, os.WriteFile(path, []byte(got), 0o644))
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./e2e -run TestHostileInput -update to write it)", err)
	}
	if string(want) != got {
		t.Errorf("output differs from %s (rerun with -update if the change is right)\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// generate makes inputs too big or too binary to keep in the repository.
func generate(t *testing.T, kind string) []byte {
	switch kind {
	case "huge-hcl": // over config.MaxFileSize
		var b bytes.Buffer
		for i := 0; b.Len() <= 5<<20; i++ {
			fmt.Fprintf(&b, "resource \"namespace\" \"n%d\" {\n  name = \"n%d\"\n}\n", i, i)
		}
		return b.Bytes()
	case "garbage":
		b := make([]byte, 64<<10)
		rand.New(rand.NewSource(1)).Read(b)
		return b
	case "nul": // valid UTF-8, not text
		return []byte("resource \"namespace\" \"dev\" {\n  name = \"dev\"\x00\x00\x00\n}\n")
	case "lesson-10000": // 10 000 command blocks that pass, then one that does not
		var b bytes.Buffer
		for i := 1; i <= 10000; i++ {
			fmt.Fprintf(&b, "```bash\necho %d\n```\n{{< output >}}\n%d\n{{< /output >}}\n\n", i, i)
		}
		b.WriteString("```bash\necho last\n```\n{{< output >}}\nnot last\n{{< /output >}}\n")
		return b.Bytes()
	case "huge-yaml": // one document over the API server's 3 MiB
		return []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: big\ndata:\n  blob: " + strings.Repeat("x", 4<<20) + "\n")
	}
	t.Fatalf("unknown gen kind %q", kind)
	return nil
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
