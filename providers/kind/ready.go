package kind

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// readyPoll is how often waitReady looks again.
const readyPoll = time.Second

// waitReady waits until a cluster whose node containers were started at
// since is back: the API server answers through the context, each
// started node's kubelet has posted Ready since, and every kube-system
// pod on those nodes is Ready with containers started since. The last
// two matter because the API server first serves the status it had
// before the stop, which still says Ready.
func waitReady(ctx context.Context, kubeconfig, kctx string, started []string, since time.Time, timeout time.Duration) error {
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(
		&clientcmd.ClientConfigLoadingRules{ExplicitPath: kubeconfig},
		&clientcmd.ConfigOverrides{CurrentContext: kctx}).ClientConfig()
	if err != nil {
		return fmt.Errorf("read context %s from %s: %w", kctx, kubeconfig, err)
	}
	cfg.Timeout = 10 * time.Second
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	// Containers' start times have whole seconds.
	since = since.Truncate(time.Second)
	for {
		missing := notReady(ctx, cs, started, since)
		if len(missing) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("not ready within %s: %s", timeout, strings.Join(missing, "; "))
		case <-time.After(readyPoll):
		}
	}
}

// notReady says what is not back yet; nothing when all is.
func notReady(ctx context.Context, cs kubernetes.Interface, started []string, since time.Time) []string {
	nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return []string{"the API server does not answer: " + err.Error()}
	}
	on := map[string]bool{}
	for _, n := range started {
		on[n] = true
	}
	var missing []string
	seen := map[string]bool{}
	for _, n := range nodes.Items {
		if !on[n.Name] {
			continue
		}
		seen[n.Name] = true
		if !nodeReadySince(n, since) {
			missing = append(missing, "node "+n.Name+" is not Ready again yet")
		}
	}
	for _, n := range started {
		if !seen[n] {
			missing = append(missing, "node "+n+" is not registered")
		}
	}
	pods, err := cs.CoreV1().Pods("kube-system").List(ctx, metav1.ListOptions{})
	if err != nil {
		return append(missing, "kube-system pods cannot be listed: "+err.Error())
	}
	var pending []string
	for _, p := range pods.Items {
		if !on[p.Spec.NodeName] || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed || p.DeletionTimestamp != nil {
			continue
		}
		if !podReadySince(p, since) {
			pending = append(pending, p.Name)
		}
	}
	if len(pending) > 0 {
		sort.Strings(pending)
		missing = append(missing, "kube-system pods not ready again: "+strings.Join(pending, ", "))
	}
	return missing
}

func nodeReadySince(n corev1.Node, since time.Time) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue && !c.LastHeartbeatTime.Time.Before(since)
		}
	}
	return false
}

func podReadySince(p corev1.Pod, since time.Time) bool {
	ready := false
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			ready = c.Status == corev1.ConditionTrue
		}
	}
	if !ready || len(p.Status.ContainerStatuses) == 0 {
		return false
	}
	for _, s := range p.Status.ContainerStatuses {
		if s.State.Running == nil || s.State.Running.StartedAt.Time.Before(since) {
			return false
		}
	}
	return true
}
