// Package e2e runs lab end to end on real container engines: the shipped
// lab on rootful podman and on a private dockerd, with lab's offline node
// image, as a learner would (lab up, the lesson's commands, lab verify,
// a stopped node, a killed lab, lab down). The engines are set up for
// this machine by the test harness only (enginetest); nothing of that is
// in the product.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"labs.dev/lab/lab/lesson"
	"labs.dev/lab/providers/kind/enginetest"
	"labs.dev/lab/providers/kind/host"
	"labs.dev/lab/providers/simulated"
)

// session is one lab directory with its own kubeconfig, and the engine's
// environment.
type session struct {
	t           testing.TB
	dir         string
	engine      *enginetest.Engine
	cli         string   // podman or docker
	env         []string // KUBECONFIG, PATH with lab and kubectl, the engine's
	kubectlPath string
}

// newSession starts the engine (the harness sets it up for this
// machine) and copies the shipped lab into a directory of its own.
func newSession(t testing.TB, cli string) *session {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: no real container engine")
	}
	e := enginetest.Start(t, cli)
	if e.NodeImage != host.OfflineImage {
		t.Fatalf("the harness loaded node image %s; lab looks for %s", e.NodeImage, host.OfflineImage)
	}
	dir := t.TempDir()
	root, err := filepath.Abs("../../..")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"labs.hcl", "charts", "manifests"} {
		src := filepath.Join(root, name)
		if err := exec.Command("cp", "-r", src, filepath.Join(dir, name)).Run(); err != nil {
			t.Fatalf("copy %s: %v", name, err)
		}
	}
	kubectl, err := simulated.KubectlPath()
	if err != nil {
		t.Fatalf("kubectl: %v (make control-plane builds it)", err)
	}
	s := &session{t: t, dir: dir, engine: e, cli: cli, kubectlPath: kubectl}
	s.env = append(append([]string{}, e.Env...),
		"KUBECONFIG="+filepath.Join(dir, "kubeconfig"),
		"HOME="+dir,
		"NO_COLOR=1",
		"PATH="+binDir+string(os.PathListSeparator)+filepath.Dir(kubectl)+string(os.PathListSeparator)+os.Getenv("PATH"),
	)
	// Whatever happens, the cluster goes: lab down, and the engine's own
	// rm for what a killed lab left.
	t.Cleanup(func() {
		s.run("lab", "down")
		out, _ := s.output(cli, "ps", "-aq", "--filter", "label=io.x-k8s.kind.cluster="+clusterName)
		if ids := strings.Fields(out); len(ids) > 0 {
			s.output(cli, append([]string{"rm", "-f"}, ids...)...)
		}
	})
	return s
}

// result is one command run.
type result struct {
	stdout, stderr string
	code           int
	took           time.Duration
	maxRSS         int64 // peak resident set of the process (and what it waited for), bytes
}

func (s *session) command(name string, args ...string) *exec.Cmd {
	switch name { // exec looks names up in this process's PATH, not the command's
	case "lab":
		name = filepath.Join(binDir, "lab")
	case "kubectl":
		name = s.kubectlPath
	}
	cmd := exec.Command(name, args...)
	cmd.Dir = s.dir
	cmd.Env = append(os.Environ(), s.env...)
	return cmd
}

// run runs a command to its end (10 minutes at most).
func (s *session) run(name string, args ...string) result {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := s.command(name, args...)
	cmd = exec.CommandContext(ctx, cmd.Path, args...)
	cmd.Dir, cmd.Env = s.dir, append(os.Environ(), s.env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	began := time.Now()
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String(), took: time.Since(began)}
	if cmd.ProcessState != nil {
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			r.maxRSS = ru.Maxrss << 10 // kilobytes on Linux
		}
	}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		s.t.Fatalf("%s %s: %v", name, strings.Join(args, " "), err)
	}
	return r
}

// must runs a command that must exit want, and logs its wall time.
func (s *session) must(want int, name string, args ...string) result {
	s.t.Helper()
	r := s.run(name, args...)
	s.t.Logf("wall %6.1fs  %s %s (exit %d)", r.took.Seconds(), name, strings.Join(args, " "), r.code)
	if r.code != want {
		s.t.Fatalf("%s %s exited %d, want %d\nstdout:\n%s\nstderr:\n%s", name, strings.Join(args, " "), r.code, want, r.stdout, r.stderr)
	}
	return r
}

func (s *session) output(name string, args ...string) (string, error) {
	out, err := s.command(name, args...).CombinedOutput()
	return string(out), err
}

// lesson runs the shipped lesson through lab doc test, as make test does
// on the simulated runtime. A real node runs the Kubernetes and CoreDNS of
// today (v1.35, CoreDNS 1.13), while the lesson's outputs were captured on
// v1.21 and the simulated runtime mirrors them. So on a real node a step
// may differ only in what the component versions decide — images, CoreDNS's
// extra ports and named probes, the node selectors and tolerations kubeadm
// now sets — and every other line of every step must match.
func (s *session) lesson() {
	s.t.Helper()
	lessonFile, err := filepath.Abs("../../../lessons/deploy-a-fleet-of-pods.md")
	if err != nil {
		s.t.Fatal(err)
	}
	r := s.run("lab", "doc", "test", "-o", "json", lessonFile)
	var doc struct {
		Lessons []struct {
			Steps []struct {
				Line     int      `json:"line"`
				Command  string   `json:"command"`
				Status   string   `json:"status"`
				Diff     string   `json:"diff"`
				Reason   string   `json:"reason"`
				Problems []string `json:"problems"`
			} `json:"steps"`
			Lab *struct {
				Status string `json:"status"`
				Error  string `json:"error"`
			} `json:"lab"`
		} `json:"lessons"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil || len(doc.Lessons) != 1 {
		s.t.Fatalf("lab doc test -o json (exit %d): %v\n%s\n%s", r.code, err, r.stdout, r.stderr)
	}
	if r.code != 0 && r.code != 1 {
		s.t.Fatalf("lab doc test could not run the lesson (exit %d):\n%s", r.code, r.stderr)
	}
	// Every command of the lesson ran and was compared: none stopped,
	// skipped or left out.
	src, err := os.ReadFile(lessonFile)
	if err != nil {
		s.t.Fatal(err)
	}
	parsed, err := lesson.Parse(lessonFile, src)
	if err != nil {
		s.t.Fatal(err)
	}
	if got, want := len(doc.Lessons[0].Steps), len(parsed.Steps); got != want || want == 0 {
		s.t.Errorf("lab doc test reported %d steps; the lesson has %d", got, want)
	}
	versioned := regexp.MustCompile(`(?i)\bimage\b|image:|ports:|liveness:|readiness:|node-selectors:|tolerations|:NoSchedule\s*$`)
	for _, st := range doc.Lessons[0].Steps {
		if st.Status == "passed" {
			continue
		}
		if st.Status != "failed" {
			s.t.Errorf("lesson line %d, %s: %s (%s)", st.Line, st.Command, st.Status, st.Reason)
			continue
		}
		var differ []string // the lines or fields that differ
		for _, line := range strings.Split(st.Diff, "\n") {
			if (strings.HasPrefix(line, "-") || strings.HasPrefix(line, "+")) && !strings.HasPrefix(line, "---") && !strings.HasPrefix(line, "+++") {
				differ = append(differ, line)
			}
		}
		for _, p := range st.Problems {
			differ = append(differ, strings.Split(p, "; ")...)
		}
		if len(differ) == 0 {
			s.t.Errorf("lesson line %d, %s failed: %s", st.Line, st.Command, st.Reason)
		}
		for _, d := range differ {
			if !versioned.MatchString(d) {
				s.t.Errorf("lesson line %d, %s differs beyond component versions at %q:\n%s", st.Line, st.Command, d, st.Diff)
				break
			}
		}
	}
	if l := doc.Lessons[0].Lab; l == nil || l.Status != "passed" {
		s.t.Errorf("the lab the lesson ends with: %+v", l)
	}
}

// nodes lists the kind node containers on the engine.
func (s *session) nodes() []string {
	s.t.Helper()
	out, err := s.output(s.cli, "ps", "-a", "--filter", "label=io.x-k8s.kind.cluster="+clusterName, "--format", "{{.Names}}")
	if err != nil {
		s.t.Fatalf("%s ps: %v\n%s", s.cli, err, out)
	}
	return strings.Fields(out)
}

// left says what lab down left behind: node containers, kind's network,
// node volumes, kubeconfig contexts.
func (s *session) left() []string {
	s.t.Helper()
	var left []string
	for _, n := range s.nodes() {
		left = append(left, "container "+n)
	}
	if out, _ := s.output(s.cli, "network", "ls", "--format", "{{.Name}}"); regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(s.engine.Network) + `$`).MatchString(out) {
		left = append(left, "network "+s.engine.Network)
	}
	if out, _ := s.output(s.cli, "volume", "ls", "--format", "{{.Name}}"); regexp.MustCompile(`(?m)^kind-`).MatchString(out) {
		left = append(left, "volumes "+strings.Join(strings.Fields(out), ", "))
	}
	if out, _ := s.output("kubectl", "config", "get-contexts", "-o", "name"); strings.TrimSpace(out) != "" {
		left = append(left, "contexts "+strings.Join(strings.Fields(out), ", "))
	}
	return left
}

// upKilled starts lab up, SIGKILLs it once kind's node container exists
// and kubeadm is at work, and waits for it to be gone.
func (s *session) upKilled(args ...string) {
	s.t.Helper()
	cmd := s.command("lab", append([]string{"up"}, args...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	deadline := time.Now().Add(3 * time.Minute)
	for len(s.nodes()) == 0 {
		if time.Now().After(deadline) {
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			s.t.Fatal("no node container within 3 minutes of lab up")
		}
		time.Sleep(200 * time.Millisecond)
	}
	// Inside kind's create now: let it get into kubeadm, then kill lab
	// and everything it started, as a closed laptop or an OOM kill would.
	time.Sleep(5 * time.Second)
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	_ = cmd.Wait()
	s.t.Logf("killed lab up (pid %d) during create; left: %v", cmd.Process.Pid, s.nodes())
}

func (s *session) kubectl(args ...string) string {
	s.t.Helper()
	return s.must(0, "kubectl", args...).stdout
}

// waitFor polls kubectl until out matches re.
func (s *session) waitFor(re string, timeout time.Duration, args ...string) {
	s.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		out, _ := s.output("kubectl", args...)
		if regexp.MustCompile(re).MatchString(out) {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("kubectl %s: no %q within %s; last:\n%s", strings.Join(args, " "), re, timeout, out)
		}
		time.Sleep(time.Second)
	}
}

func must(t *testing.T, ok bool, format string, args ...any) {
	t.Helper()
	if !ok {
		t.Errorf(format, args...)
	}
}

// clusterName is the kind cluster of the shipped labs.hcl: cleanup and
// the leftover checks look at its containers only, never at other kind
// clusters on the same engine.
const clusterName = "kind"
