package simulated_test

import (
	"context"
	"os"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"labs.dev/lab/providers/simulated"
	"labs.dev/lab/providers/simulated/simtest"
)

func TestMain(m *testing.M) { os.Exit(simtest.Main(m)) }

// skipUnlessCI skips the test for a missing tool, or fails it under
// CI=true, where an integration test never skips.
func skipUnlessCI(t *testing.T, err error) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true: this test must run, but %v", err)
	}
	t.Skip(err)
}

// TestServerVersion: helm's kubeVersion checks and the lesson read
// /version, so it must be the pinned release, not the module's "v0.0.0".
// The lesson's own outputs are proven by lab/lesson's TestShippedLesson,
// which runs lessons/deploy-a-fleet-of-pods.md through lab doc test.
func TestServerVersion(t *testing.T) {
	c := simtest.Get(t)
	v, err := clientset(t, c).Discovery().ServerVersion()
	if err != nil || v.GitVersion != "v1.35.4" {
		t.Errorf("server version = %+v, %v; want v1.35.4 (build.sh sets it through ldflags)", v, err)
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
	c := simtest.Get(t)
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
