// Package lessoncheck runs the seed lesson's commands against a cluster
// and compares what they print with the lesson's output blocks, after
// normalising what legitimately differs (ages, generated names, restart
// counts, column widths). The simulated runtime's lesson test and the
// real-engine end-to-end tests share it, so both hold a cluster to the
// same checks.
package lessoncheck

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"reflect"
	"regexp"
	"strings"

	"sigs.k8s.io/yaml"
)

// Step is a bash block of the lesson and the output block after it.
type Step struct {
	Script, Want string
}

// YAML reports whether the lesson shows the output as (elided) YAML.
func (s Step) YAML() bool { return strings.HasPrefix(strings.TrimSpace(s.Want), "apiVersion:") }

// CoreDNS is what the lesson's unfinished sections show of kube-system's
// Deployments: coredns, 2/2.
var CoreDNS = Step{
	Script: "kubectl get deployments -n kube-system",
	Want:   "NAME      READY   UP-TO-DATE   AVAILABLE   AGE\ncoredns   2/2     2            2           9d",
}

var (
	bashBlock   = regexp.MustCompile("(?s)```bash\n(.*?)```")
	outputBlock = regexp.MustCompile(`(?s)\{\{< output >\}\}\n(.*?)\{\{< /output >\}\}`)
	assignment  = regexp.MustCompile(`^\w+=`)
)

// Steps pairs each bash block of the lesson at path with the output
// block that follows it before the next bash block.
func Steps(path string) ([]Step, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	text := string(b)
	var steps []Step
	blocks := bashBlock.FindAllStringSubmatchIndex(text, -1)
	for i, bl := range blocks {
		end := len(text)
		if i+1 < len(blocks) {
			end = blocks[i+1][0]
		}
		out := outputBlock.FindStringSubmatch(text[bl[1]:end])
		if out == nil {
			continue
		}
		steps = append(steps, Step{Script: text[bl[2]:bl[3]], Want: out[1]})
	}
	return steps, nil
}

// Result is one step run: what it printed, and how that differs from the
// lesson ("" when it matches).
type Result struct {
	Step
	Out  string
	Err  error
	Diff string
}

// Run runs the steps in order, as a learner in one shell would (a
// variable set in one step is there in the next), with env added to this
// process's environment (KUBECONFIG, a PATH with kubectl).
func Run(ctx context.Context, steps []Step, env []string) []Result {
	var vars []string
	var results []Result
	for _, st := range steps {
		script := strings.Join(append(vars, st.Script), "\n")
		cmd := exec.CommandContext(ctx, "bash", "-c", script)
		cmd.Env = append(os.Environ(), env...)
		out, err := cmd.CombinedOutput()
		r := Result{Step: st, Out: string(out), Err: err}
		for _, line := range strings.Split(st.Script, "\n") {
			if assignment.MatchString(line) {
				vars = append(vars, line)
			}
		}
		switch {
		case err != nil:
			r.Diff = fmt.Sprintf("failed: %v\n%s", err, out)
		case st.YAML():
			r.Diff = YAMLContains(string(out), st.Want)
		case Normalise(string(out)) != Normalise(st.Want):
			r.Diff = fmt.Sprintf("got:\n%s\nwant (as the lesson prints it):\n%s", out, st.Want)
		}
		results = append(results, r)
	}
	return results
}

var normalisers = []struct {
	re   *regexp.Regexp
	with string
}{
	// Generated names: ReplicaSet pod-template hashes and pod suffixes.
	{regexp.MustCompile(`\bcoredns-[a-z0-9]{8,10}-[a-z0-9]{5}\b`), "coredns-<hash>-<id>"},
	{regexp.MustCompile(`\b(kube-proxy|kindnet)-[a-z0-9]{5}\b`), "$1-<id>"},
	// Restart counts and ages (the last two columns of pod tables); a
	// restarted pod's count says when: "1 (5m ago)".
	{regexp.MustCompile(`(?m)\b(Running|Pending)\s+\d+(\s+\([^)]*\))?\s+(\S+)$`), "$1 <restarts> <age>"},
	{regexp.MustCompile(`(?m)\s\d+(s|m|h|d)(\d+(s|m|h))?$`), " <age>"},
	// Column widths follow the longest value, which the hash length moves.
	{regexp.MustCompile(`[ \t]+`), " "},
}

// Normalise rewrites what legitimately differs between the lesson's
// cluster and this one.
func Normalise(s string) string {
	s = strings.TrimSpace(s)
	for _, n := range normalisers {
		s = n.re.ReplaceAllString(s, n.with)
	}
	return s
}

// YAMLContains checks the lesson's elided YAML ("..." marks cuts) is a
// part of got: every map key it shows has the value shown, and a list's
// items match the first items of got's list in order. "" means it is.
func YAMLContains(got, want string) string {
	var lines []string
	for _, l := range strings.Split(want, "\n") {
		if strings.TrimSpace(strings.TrimLeft(strings.TrimSpace(l), "- ")) != "..." {
			lines = append(lines, l)
		}
	}
	var w, g any
	if err := yaml.Unmarshal([]byte(strings.Join(lines, "\n")), &w); err != nil {
		return "lesson YAML: " + err.Error()
	}
	if err := yaml.Unmarshal([]byte(got), &g); err != nil {
		return "kubectl YAML: " + err.Error()
	}
	return subset("", w, g)
}

func subset(path string, want, got any) string {
	switch w := want.(type) {
	case nil:
		if got == nil {
			return path + ": missing"
		}
		return ""
	case map[string]any:
		gm, ok := got.(map[string]any)
		if !ok {
			return fmt.Sprintf("%s: got %v, want a map", path, got)
		}
		for k, v := range w {
			gv, ok := gm[k]
			if !ok {
				return path + "." + k + ": missing"
			}
			if msg := subset(path+"."+k, v, gv); msg != "" {
				return msg
			}
		}
		return ""
	case []any:
		gl, ok := got.([]any)
		if !ok || len(gl) < len(w) {
			return fmt.Sprintf("%s: got %v, want at least %d items", path, got, len(w))
		}
		for i := range w {
			if msg := subset(fmt.Sprintf("%s[%d]", path, i), w[i], gl[i]); msg != "" {
				return msg
			}
		}
		return ""
	default:
		if path == ".metadata.name" { // a generated name
			want, got = Normalise(fmt.Sprint(want)), Normalise(fmt.Sprint(got))
		}
		if !reflect.DeepEqual(want, got) {
			return fmt.Sprintf("%s: got %v, want %v", path, got, want)
		}
		return ""
	}
}
