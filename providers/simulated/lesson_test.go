package simulated_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"labs.dev/lab/internal/lessoncheck"
	"labs.dev/lab/internal/testcluster"
	"labs.dev/lab/providers/simulated"
)

func TestMain(m *testing.M) { os.Exit(testcluster.Main(m)) }

// TestLesson runs every command of the lesson with kubectl against a
// cluster named kind, as a learner would after `lab up`, and compares
// with the lesson's output blocks.
func TestLesson(t *testing.T) {
	c := testcluster.Get(t)
	kubectl, err := simulated.KubectlPath()
	if err != nil {
		t.Skip(err)
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

	steps, err := lessoncheck.Steps(filepath.Join("testdata", "deploy-a-fleet-of-pods.md"))
	if err != nil {
		t.Fatal(err)
	}
	if len(steps) < 7 {
		t.Fatalf("found %d command/output pairs in the lesson, want at least 7", len(steps))
	}
	// The lesson's unfinished sections show kube-system's Deployments too.
	env := []string{"KUBECONFIG=" + c.Kubeconfig, "PATH=" + filepath.Dir(kubectl) + string(os.PathListSeparator) + os.Getenv("PATH")}
	for _, r := range lessoncheck.Run(ctx, append(steps, lessoncheck.CoreDNS), env) {
		if r.Diff != "" {
			t.Errorf("%s: %s", strings.TrimSpace(r.Script), r.Diff)
		}
	}
	desc := regexp.MustCompile(`[ \t]+`).ReplaceAllString(run(t, c, kubectl, "describe", "deployment/coredns", "-n", "kube-system"), " ")
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
