package simulated_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/yaml"

	"labs.dev/lab/internal/testcluster"
	"labs.dev/lab/providers/simulated"
)

func TestMain(m *testing.M) { os.Exit(testcluster.Main(m)) }

// skipUnlessCI skips the test for a missing tool, or fails it under
// CI=true, where an integration test never skips.
func skipUnlessCI(t *testing.T, err error) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true: this test must run, but %v", err)
	}
	t.Skip(err)
}

// step is a bash block of the lesson and the output block after it.
type step struct {
	script, want string
}

var (
	bashBlock   = regexp.MustCompile("(?s)```bash\n(.*?)```")
	outputBlock = regexp.MustCompile(`(?s)\{\{< output >\}\}\n(.*?)\{\{< /output >\}\}`)
)

// lessonSteps pairs each bash block with the output block that follows
// it before the next bash block.
func lessonSteps(t *testing.T, path string) []step {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	var steps []step
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
		steps = append(steps, step{script: text[bl[2]:bl[3]], want: out[1]})
	}
	return steps
}

var normalisers = []struct {
	re   *regexp.Regexp
	with string
}{
	// Generated names: ReplicaSet pod-template hashes and pod suffixes.
	{regexp.MustCompile(`\bcoredns-[a-z0-9]{8,10}-[a-z0-9]{5}\b`), "coredns-<hash>-<id>"},
	{regexp.MustCompile(`\b(kube-proxy|kindnet)-[a-z0-9]{5}\b`), "$1-<id>"},
	// Restart counts and ages (the last two columns of pod tables).
	{regexp.MustCompile(`(?m)\b(Running|Pending)\s+\d+\s+(\S+)$`), "$1 <restarts> <age>"},
	{regexp.MustCompile(`(?m)\s\d+(s|m|h|d)(\d+(s|m|h))?$`), " <age>"},
	// Column widths follow the longest value, which the hash length moves.
	{regexp.MustCompile(`[ \t]+`), " "},
}

var spaces = regexp.MustCompile(`[ \t]+`)

func normalise(s string) string {
	s = strings.TrimSpace(s)
	for _, n := range normalisers {
		s = n.re.ReplaceAllString(s, n.with)
	}
	return s
}

// TestLesson runs every command of the lesson with kubectl against a
// cluster named kind, as a learner would after `lab up`, and compares
// with the lesson's output blocks.
func TestLesson(t *testing.T) {
	c := testcluster.Get(t)
	kubectl, err := simulated.KubectlPath()
	if err != nil {
		skipUnlessCI(t, err)
	}
	cs := clientset(t, c)
	ctx := context.Background()
	// helm's kubeVersion checks read /version: it must be the real one.
	if v, err := cs.Discovery().ServerVersion(); err != nil || v.GitVersion != "v1.35.4" {
		t.Errorf("server version = %+v, %v; want v1.35.4 (build.sh sets it through ldflags)", v, err)
	}
	// The shipped labs.hcl creates these; the lesson's `kubectl get ns` shows them.
	for _, ns := range []string{"dev", "staging", "test"} {
		if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cs.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{}) })
	}

	steps := lessonSteps(t, filepath.Join("testdata", "deploy-a-fleet-of-pods.md"))
	if len(steps) < 7 {
		t.Fatalf("found %d command/output pairs in the lesson, want at least 7", len(steps))
	}
	var vars []string // assignments carry over, as in the learner's shell
	for _, st := range steps {
		script := strings.Join(append(vars, st.script), "\n")
		cmd := exec.Command("bash", "-c", script)
		cmd.Env = append(os.Environ(), "KUBECONFIG="+c.Kubeconfig, "PATH="+filepath.Dir(kubectl)+string(os.PathListSeparator)+os.Getenv("PATH"))
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Errorf("%s: %v\n%s", st.script, err, out)
			continue
		}
		for _, line := range strings.Split(st.script, "\n") {
			if regexp.MustCompile(`^\w+=`).MatchString(line) {
				vars = append(vars, line)
			}
		}
		if strings.HasPrefix(strings.TrimSpace(st.want), "apiVersion:") {
			if msg := yamlContains(string(out), st.want); msg != "" {
				t.Errorf("%s: %s", strings.TrimSpace(st.script), msg)
			}
			continue
		}
		if got, want := normalise(string(out)), normalise(st.want); got != want {
			t.Errorf("%s:\ngot:\n%s\nwant (as the lesson prints it):\n%s", strings.TrimSpace(st.script), out, st.want)
		}
	}

	// The lesson's unfinished sections show these too.
	out := run(t, c, kubectl, "get", "deployments", "-n", "kube-system")
	if got, want := normalise(out), normalise("NAME      READY   UP-TO-DATE   AVAILABLE   AGE\ncoredns   2/2     2            2           9d"); got != want {
		t.Errorf("kubectl get deployments -n kube-system:\n%s", out)
	}
	desc := spaces.ReplaceAllString(run(t, c, kubectl, "describe", "deployment/coredns", "-n", "kube-system"), " ")
	for _, want := range []string{
		"Labels: k8s-app=kube-dns",
		"Selector: k8s-app=kube-dns",
		"Replicas: 2 desired | 2 updated | 2 total | 2 available | 0 unavailable",
		"StrategyType: RollingUpdate",
		"RollingUpdateStrategy: 1 max unavailable, 25% max surge",
		"Service Account: coredns",
		"Image: k8s.gcr.io/coredns/coredns:v1.8.0",
		"Limits:\n memory: 170Mi",
		"Requests:\n cpu: 100m\n memory: 70Mi",
		"Liveness: http-get http://:8080/health delay=60s timeout=5s period=10s #success=1 #failure=5",
		"Readiness: http-get http://:8181/ready delay=0s timeout=1s period=10s #success=1 #failure=3",
		"/etc/coredns from config-volume (ro)",
		"Name: coredns",
		"Priority Class Name: system-cluster-critical",
		"Available True MinimumReplicasAvailable",
		"Progressing True NewReplicaSetAvailable",
	} {
		if !strings.Contains(desc, want) {
			t.Errorf("kubectl describe deployment/coredns lacks %q", want)
		}
	}
	// kubectl 1.35 prints port names beside the lesson's "53/UDP, 53/TCP, 9153/TCP".
	if !regexp.MustCompile(`Ports: 53/UDP( \(dns\))?, 53/TCP( \(dns-tcp\))?, 9153/TCP( \(metrics\))?`).MatchString(desc) {
		t.Errorf("kubectl describe deployment/coredns: ports differ:\n%s", desc)
	}
}

func run(t *testing.T, c *simulated.Cluster, kubectl string, args ...string) string {
	t.Helper()
	cmd := exec.Command(kubectl, append([]string{"--kubeconfig", c.Kubeconfig}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// yamlContains checks the lesson's elided YAML ("..." marks cuts) is a
// part of got: every map key it shows has the value shown, and a list's
// items match the first items of got's list in order.
func yamlContains(got, want string) string {
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
			want, got = normalise(fmt.Sprint(want)), normalise(fmt.Sprint(got))
		}
		if !reflect.DeepEqual(want, got) {
			return fmt.Sprintf("%s: got %v, want %v", path, got, want)
		}
		return ""
	}
}

func clientset(t *testing.T, c *simulated.Cluster) kubernetes.Interface {
	t.Helper()
	cs, err := kubernetes.NewForConfig(c.Config)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// TestDeploymentRollout is the lesson's last section on the simulated
// runtime: a Deployment really gets a ReplicaSet and Pods, and a rolling
// update really moves to a new ReplicaSet.
func TestDeploymentRollout(t *testing.T) {
	c := testcluster.Get(t)
	cs := clientset(t, c)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ns := "fleet"
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cs.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{}) })

	replicas := int32(3)
	labels := map[string]string{"app": "fleet"}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "fleet"},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "nginx:1.25"}}},
			},
		},
	}
	began := time.Now()
	if _, err := cs.AppsV1().Deployments(ns).Create(ctx, d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	first := waitRollout(t, ctx, cs, ns, "fleet", "nginx:1.25")
	t.Logf("3 replicas available after %v", time.Since(began))

	pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=fleet"})
	if err != nil {
		t.Fatal(err)
	}
	owned := 0
	for _, p := range pods.Items {
		if ref := metav1.GetControllerOf(&p); ref != nil && ref.Kind == "ReplicaSet" && ref.UID == first.UID && p.Status.Phase == corev1.PodRunning {
			owned++
		}
	}
	if owned != 3 {
		t.Fatalf("%d Running pods owned by ReplicaSet %s, want 3", owned, first.Name)
	}

	began = time.Now()
	live, err := cs.AppsV1().Deployments(ns).Get(ctx, "fleet", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	live.Spec.Template.Spec.Containers[0].Image = "nginx:1.27"
	if _, err := cs.AppsV1().Deployments(ns).Update(ctx, live, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	second := waitRollout(t, ctx, cs, ns, "fleet", "nginx:1.27")
	t.Logf("rolling update done after %v", time.Since(began))
	if second.UID == first.UID {
		t.Fatal("the rolling update kept the old ReplicaSet")
	}
	old, err := cs.AppsV1().ReplicaSets(ns).Get(ctx, first.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if *old.Spec.Replicas != 0 {
		t.Errorf("old ReplicaSet %s still wants %d replicas", old.Name, *old.Spec.Replicas)
	}
}

// waitRollout waits until the Deployment is 3/3 available on image and
// returns the ReplicaSet that runs it.
func waitRollout(t *testing.T, ctx context.Context, cs kubernetes.Interface, ns, name, image string) *appsv1.ReplicaSet {
	t.Helper()
	for {
		d, err := cs.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
		if err == nil && d.Status.ObservedGeneration == d.Generation && d.Status.UpdatedReplicas == 3 &&
			d.Status.AvailableReplicas == 3 && d.Status.Replicas == 3 {
			rss, err := cs.AppsV1().ReplicaSets(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=fleet"})
			if err != nil {
				t.Fatal(err)
			}
			for i, rs := range rss.Items {
				if rs.Spec.Template.Spec.Containers[0].Image == image && rs.Status.AvailableReplicas == 3 {
					if ref := metav1.GetControllerOf(&rs); ref == nil || ref.UID != d.UID {
						t.Fatalf("ReplicaSet %s is not owned by Deployment %s", rs.Name, name)
					}
					return &rss.Items[i]
				}
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("Deployment %s/%s did not become 3/3 available on %s: %+v", ns, name, image, d.Status)
		case <-time.After(50 * time.Millisecond):
		}
	}
}
