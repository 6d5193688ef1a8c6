package kind

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

// Right after a start the API server serves the status from before the
// stop, which says Ready: only a heartbeat and containers newer than
// the start count.
func TestNotReadyUntilStatusIsNewerThanTheStart(t *testing.T) {
	since := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	before, after := metav1.NewTime(since.Add(-time.Hour)), metav1.NewTime(since.Add(5*time.Second))
	n := func(heartbeat metav1.Time) *corev1.Node {
		return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "kind-control-plane"}, Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{
			{Type: corev1.NodeReady, Status: corev1.ConditionTrue, LastHeartbeatTime: heartbeat}}}}
	}
	pod := func(name, node string, started metav1.Time) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "kube-system"}, Spec: corev1.PodSpec{NodeName: node},
			Status: corev1.PodStatus{Phase: corev1.PodRunning,
				Conditions:        []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}},
				ContainerStatuses: []corev1.ContainerStatus{{Name: "c", State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: started}}}}}}
	}
	ctx := context.Background()
	started := []string{"kind-control-plane"}

	stale := fake.NewClientset(n(before), pod("etcd-kind-control-plane", "kind-control-plane", before), pod("coredns-1", "kind-worker", before))
	got := strings.Join(notReady(ctx, stale, started, since), "; ")
	if got != "node kind-control-plane is not Ready again yet; kube-system pods not ready again: etcd-kind-control-plane" {
		t.Errorf("stale status: %q", got)
	}
	back := fake.NewClientset(n(after), pod("etcd-kind-control-plane", "kind-control-plane", after), pod("coredns-1", "kind-worker", before))
	if got := notReady(ctx, back, started, since); len(got) != 0 {
		t.Errorf("back: %q (pods on nodes that were not stopped do not count)", got)
	}
	gone := fake.NewClientset()
	if got := notReady(ctx, gone, started, since); len(got) != 1 || got[0] != "node kind-control-plane is not registered" {
		t.Errorf("no nodes: %q", got)
	}
}
