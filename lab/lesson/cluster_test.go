package lesson_test

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"

	"labs.dev/lab/lab/lesson"
	"labs.dev/lab/providers/simulated"
	"labs.dev/lab/providers/simulated/simtest"
)

// One simulated cluster for the package; the shipped lab file is
// applied on it once, and the shipped lesson is proven against it.
func TestMain(m *testing.M) {
	code := simtest.Main(m)
	if labDir != "" {
		os.RemoveAll(labDir)
	}
	os.Exit(code)
}

var (
	labOnce sync.Once
	labDir  string
	labErr  error
)

// shippedLab is a copy of the repository's lab (labs.hcl, charts,
// manifests, lessons) brought up on the package's cluster. The cluster
// is the one simtest made, named kind like the shipped one, so the
// copy's kind_cluster block gives way to the cluster's kubeconfig and
// context on each resource; everything else is the shipped file, applied
// with lab up.
// Its output "context" is marked for the shell, for lab env.
func shippedLab(t *testing.T) string {
	t.Helper()
	c := simtest.Get(t)
	bin := simtest.LabBinaries(t)
	labOnce.Do(func() {
		root, _ := filepath.Abs("../..")
		labDir, labErr = os.MkdirTemp("", "lab-lesson-")
		if labErr != nil {
			return
		}
		for _, d := range []string{"charts", "manifests", "lessons"} {
			if labErr = os.CopyFS(filepath.Join(labDir, d), os.DirFS(filepath.Join(root, d))); labErr != nil {
				return
			}
		}
		src, err := os.ReadFile(filepath.Join(root, "labs.hcl"))
		if err != nil {
			labErr = err
			return
		}
		f, diags := hclwrite.ParseConfig(src, "labs.hcl", hcl.InitialPos)
		if diags.HasErrors() {
			labErr = diags
			return
		}
		body := f.Body()
		for _, b := range body.Blocks() {
			switch {
			case b.Type() == "resource" && b.Labels()[0] == "kind_cluster":
				body.RemoveBlock(b)
			case b.Type() == "resource":
				b.Body().SetAttributeValue("kubeconfig", cty.StringVal(c.Kubeconfig))
				b.Body().SetAttributeValue("context", cty.StringVal(c.Context))
			case b.Type() == "output" && b.Labels()[0] == "context":
				b.Body().SetAttributeValue("value", cty.StringVal(c.Context))
				b.Body().SetAttributeValue("env", cty.StringVal("LAB_CONTEXT"))
			}
		}
		if labErr = os.WriteFile(filepath.Join(labDir, "labs.hcl"), f.Bytes(), 0o644); labErr != nil {
			return
		}
		out, code := runLab(t, bin, labDir, "up")
		if code != 0 {
			labErr = errors.New("lab up: " + out)
		}
	})
	if labErr != nil {
		t.Fatal(labErr)
	}
	return labDir
}

// runLab runs the lab command in dir, stdout and stderr together.
func runLab(t *testing.T, bin, dir string, args ...string) (string, int) {
	t.Helper()
	var out bytes.Buffer
	code := runLabTo(t, &out, &out, bin, dir, args...)
	return out.String(), code
}

func runLabTo(t *testing.T, stdout, stderr *bytes.Buffer, bin, dir string, args ...string) int {
	t.Helper()
	cmd := exec.Command(filepath.Join(bin, "lab"), args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "NO_COLOR=1")
	cmd.Stdout, cmd.Stderr = stdout, stderr
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		return ee.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	return 0
}

type jsonReport struct {
	Lessons []struct {
		File  string
		Steps []struct {
			Line     int
			Form     string
			Command  string
			Status   string
			Problems []string
			Diff     string
		}
		Lab *struct {
			Name, Status, Summary, Error string
		}
		Passed, Failed int
	}
	Passed, Failed int
	ExitCode       int `json:"exit_code"`
}

func docTestJSON(t *testing.T, dir string, args ...string) (jsonReport, int, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := runLabTo(t, &stdout, &stderr, simtest.LabBinaries(t), dir, append([]string{"doc", "test", "-o", "json"}, args...)...)
	var r jsonReport
	if err := json.Unmarshal(stdout.Bytes(), &r); err != nil {
		t.Fatalf("lab doc test -o json (exit %d): stdout is not one JSON document: %v\n%s\nstderr:\n%s", code, err, stdout.String(), stderr.String())
	}
	return r, code, stderr.String()
}

// TestShippedLesson is `lab doc test` of the shipped lesson on the
// cluster the shipped lab file makes: every command, fenced and
// transcript, prints what the lesson shows, and the lab the lesson
// ends with is proven.
func TestShippedLesson(t *testing.T) {
	dir := shippedLab(t)
	r, code, stderr := docTestJSON(t, dir, "lessons/deploy-a-fleet-of-pods.md")
	if code != 0 || r.ExitCode != 0 || len(r.Lessons) != 1 {
		t.Fatalf("exit %d, report %+v\n%s", code, r, stderr)
	}
	l := r.Lessons[0]
	forms := map[string]int{}
	for _, s := range l.Steps {
		forms[s.Form]++
		if s.Status != "passed" {
			t.Errorf("line %d %s: %s %q\n%s", s.Line, s.Command, s.Status, s.Problems, s.Diff)
		}
	}
	if forms["fenced"] != 7 || forms["transcript"] != 7 {
		t.Errorf("forms %v, want 7 fenced and 7 transcript commands", forms)
	}
	if l.Lab == nil || l.Lab.Name != "deploy-fleet" || l.Lab.Status != "passed" {
		t.Errorf("lab: %+v", l.Lab)
	}
	if r.Passed != 15 || r.Failed != 0 {
		t.Errorf("%d passed, %d failed; want 15 and 0", r.Passed, r.Failed)
	}

	// The same as text, every command listed, and as JUnit.
	out, code := runLab(t, simtest.LabBinaries(t), dir, "doc", "test", "-v", "lessons/deploy-a-fleet-of-pods.md")
	if code != 0 || !strings.HasSuffix(out, "\n15 passed, 0 failed\n") ||
		!strings.Contains(out, "✓ lessons/deploy-a-fleet-of-pods.md:375  kubectl describe deployment/coredns -n kube-system") ||
		!strings.Contains(out, "lab deploy-fleet: fails on a fresh environment, passes with its solution") {
		t.Errorf("text: exit %d\n%s", code, out)
	}
	var stdout, stderrB bytes.Buffer
	code = runLabTo(t, &stdout, &stderrB, simtest.LabBinaries(t), dir, "doc", "test", "-o", "junit", "lessons/deploy-a-fleet-of-pods.md")
	var suites struct {
		Tests    int `xml:"tests,attr"`
		Failures int `xml:"failures,attr"`
		Suites   []struct {
			Name  string `xml:"name,attr"`
			Cases []struct {
				Name string `xml:"name,attr"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(stdout.Bytes(), &suites); err != nil || code != 0 || suites.Tests != 15 || suites.Failures != 0 || len(suites.Suites) != 1 {
		t.Errorf("junit: exit %d, %v, %+v\n%s", code, err, suites, stdout.String())
	}
}

// TestDriftedLesson: a lesson whose outputs no longer match fails with
// located, readable differences, and --update writes the cluster's
// outputs into the blocks that drifted, after which it passes.
func TestDriftedLesson(t *testing.T) {
	dir := shippedLab(t)
	orig, err := os.ReadFile(filepath.Join(dir, "lessons", "deploy-a-fleet-of-pods.md"))
	if err != nil {
		t.Fatal(err)
	}
	drift := strings.Replace(string(orig), "kube-proxy   1         1         1       1            1           kubernetes.io/os=linux   9d\n{{< /output >}}",
		"kube-proxy   2         2         2       2            2           kubernetes.io/os=linux   9d\n{{< /output >}}", 1)
	drift = strings.Replace(drift, "coredns   2/2     2            2           9d", "coredns   3/3     3            3           9d", 1)
	drift = strings.Replace(drift, "<!-- lab: verify=deploy-fleet -->\n", "", 1)
	if drift == string(orig) {
		t.Fatal("the drift did not apply")
	}
	path := filepath.Join(dir, "lessons", "drift.md")
	if err := os.WriteFile(path, []byte(drift), 0o644); err != nil {
		t.Fatal(err)
	}
	r, code, _ := docTestJSON(t, dir, "lessons/drift.md")
	if code != 1 || r.Failed != 2 || r.Passed != 12 {
		t.Fatalf("exit %d, %d passed, %d failed; want 1, 12, 2", code, r.Passed, r.Failed)
	}
	var problems []string
	for _, s := range r.Lessons[0].Steps {
		if s.Status == "failed" {
			problems = append(problems, s.Problems...)
		}
	}
	for _, want := range []string{
		"row kube-proxy, column DESIRED: expected 2, actual 1",
		"row coredns, column READY: expected 3/3, actual 2/2",
	} {
		if !strings.Contains(strings.Join(problems, "\n"), want) {
			t.Errorf("problems %q lack %q", problems, want)
		}
	}
	out, code := runLab(t, simtest.LabBinaries(t), dir, "doc", "test", "lessons/drift.md")
	if code != 1 || !strings.Contains(out, "✗ lessons/drift.md:148  kubectl get daemonsets -n kube-system") ||
		!strings.Contains(out, "-kube-proxy 2 2 2 2 2 kubernetes.io/os=linux <age>") ||
		!strings.Contains(out, "✗ lessons/drift.md:371  kubectl get deployments -n kube-system") ||
		!strings.HasSuffix(out, "\n12 passed, 2 failed\n") {
		t.Errorf("text: exit %d\n%s", code, out)
	}

	out, code = runLab(t, simtest.LabBinaries(t), dir, "doc", "test", "--update", "lessons/drift.md")
	if code != 0 || !strings.Contains(out, "lessons/drift.md:155: output block updated") || !strings.Contains(out, "lessons/drift.md:372: output block updated") {
		t.Fatalf("--update: exit %d\n%s", code, out)
	}
	if out, code = runLab(t, simtest.LabBinaries(t), dir, "doc", "test", "lessons/drift.md"); code != 0 {
		t.Fatalf("after --update: exit %d\n%s", code, out)
	}
	updated, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// Only the two blocks changed: same lines before, between and after.
	ol, ul := strings.Split(drift, "\n"), strings.Split(string(updated), "\n")
	if len(ol) != len(ul) {
		t.Fatalf("the update changed the line count: %d to %d", len(ol), len(ul))
	}
	var changed []int
	for i := range ol {
		if ol[i] != ul[i] {
			changed = append(changed, i+1)
			if !(i+1 >= 155 && i+1 <= 157) && !(i+1 >= 372 && i+1 <= 373) {
				t.Errorf("line %d changed: %q to %q; only the blocks at 155-157 and 372-373 may", i+1, ol[i], ul[i])
			}
		}
	}
	if len(changed) == 0 {
		t.Error("nothing changed")
	}
}

// TestEnvPointsAShellAtTheLab: eval "$(lab env)" in bash reaches the
// lab's cluster and has the outputs marked for the shell.
func TestEnvPointsAShellAtTheLab(t *testing.T) {
	dir := shippedLab(t)
	c := simtest.Get(t)
	kubectl, err := simulated.KubectlPath()
	if err != nil {
		t.Fatal(err)
	}
	script := `eval "$("$LAB" env --shell bash)" && echo "context=$LAB_CONTEXT kubeconfig=$KUBECONFIG" && kubectl get ns staging -o name`
	cmd := exec.Command("bash", "-c", script)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "LAB="+filepath.Join(simtest.LabBinaries(t), "lab"), "KUBECONFIG=/nonexistent",
		"PATH="+filepath.Dir(kubectl)+string(os.PathListSeparator)+os.Getenv("PATH"))
	out, err := cmd.CombinedOutput()
	want := "context=kind-kind kubeconfig=" + c.Kubeconfig + "\nnamespace/staging\n"
	if err != nil || string(out) != want {
		t.Errorf("eval \"$(lab env)\": %v\n%s\nwant:\n%s", err, out, want)
	}
}

// The engine's own view of the shipped lesson agrees with the command.
func TestShippedLessonParses(t *testing.T) {
	src, err := os.ReadFile("../../lessons/deploy-a-fleet-of-pods.md")
	if err != nil {
		t.Fatal(err)
	}
	seed, err := os.ReadFile("../../../shared/seed/deploy-a-fleet-of-pods.md")
	if err == nil {
		// The shipped lesson is the seed plus author marks, nothing else.
		var kept []string
		for _, l := range strings.Split(string(src), "\n") {
			if !strings.HasPrefix(l, "<!-- lab:") {
				kept = append(kept, l)
			}
		}
		stripped := strings.Replace(strings.Join(kept, "\n"), "## Deploy Your Own Deployment\n\n\n", "## Deploy Your Own Deployment\n\n", 1)
		if stripped != string(seed) {
			t.Error("lessons/deploy-a-fleet-of-pods.md differs from the seed by more than its lab marks")
		}
	}
	if _, err := lesson.Parse("lesson.md", src); err != nil {
		t.Fatal(err)
	}
}
