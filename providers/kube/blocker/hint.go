package blocker

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// hint is one line on what to do about a pod's reason.
func hint(r Reason, p *corev1.Pod, o Options) string {
	switch r.Code {
	case FailedScheduling:
		return schedulingHint(r.Message, p, o)
	case "SchedulingGated":
		return "the pod waits for its schedulingGates to be removed by whatever added them"
	case ImagePullBackOff, ErrImagePull, "ErrImageNeverPull":
		return fmt.Sprintf("check the image name and tag in %s spec and that the node can reach its registry (on kind, `kind load docker-image %s` puts a local image on the node)", o.whose(), r.Image)
	case "InvalidImageName":
		return fmt.Sprintf("fix the image reference %q in %s spec", r.Image, o.whose())
	case CrashLoopBackOff, ContainerFailed:
		if strings.Contains(r.LastExit, "OOMKilled") {
			return fmt.Sprintf("the container ran out of memory: raise its memory limit in %s spec", o.whose())
		}
		return fmt.Sprintf("`kubectl logs -n %s %s -c %s --previous` shows why it exits", p.Namespace, p.Name, r.Container)
	case Unready:
		if r.Container == "" {
			return fmt.Sprintf("`kubectl describe pod -n %s %s` shows which readiness gate is not met", p.Namespace, p.Name)
		}
		return fmt.Sprintf("check the readiness probe's path and port against what the container serves; `kubectl logs -n %s %s -c %s` shows what it does", p.Namespace, p.Name, r.Container)
	case FailedMount:
		return fmt.Sprintf("create the ConfigMap, Secret or PersistentVolumeClaim the volume names, or fix the name in %s spec", o.whose())
	case "CreateContainerConfigError":
		return fmt.Sprintf("create the ConfigMap or Secret the container refers to, or fix the reference in %s spec", o.whose())
	case "Evicted":
		return "the node ran short of a resource (memory or disk) and evicted the pod; lower the requests or free the node"
	}
	return fmt.Sprintf("`kubectl describe pod -n %s %s` shows more", p.Namespace, p.Name)
}

// schedulingHint answers the scheduler's reasons, one clause per kind of
// reason it gave.
func schedulingHint(msg string, p *corev1.Pod, o Options) string {
	var out []string
	seen := map[string]bool{}
	add := func(s string) {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	for _, d := range schedulingDetails(msg) {
		l := strings.ToLower(d)
		switch {
		case strings.HasPrefix(l, "insufficient "):
			res := strings.TrimPrefix(d, "Insufficient ")
			switch res {
			case "cpu":
				res = "CPU"
			case "memory", "ephemeral-storage":
			default:
				add(fmt.Sprintf("lower %s %s requests or add nodes that offer it", o.whose(), res))
				continue
			}
			add(fmt.Sprintf("lower %s %s requests or add nodes", o.whose(), res))
		case strings.Contains(l, "node affinity/selector"), strings.Contains(l, "node affinity"), strings.Contains(l, "nodeselector"):
			add(fmt.Sprintf("no node has the labels %s nodeSelector or affinity asks for: fix them, or label a node (kubectl label node NODE KEY=VALUE)", o.whose()))
		case strings.Contains(l, "untolerated taint"):
			add(fmt.Sprintf("add a toleration for the node's taint to %s spec, or remove the taint (kubectl taint node NODE KEY-)", o.whose()))
		case strings.Contains(l, "persistentvolumeclaim"):
			add(fmt.Sprintf("a PersistentVolumeClaim is not bound: `kubectl get pvc -n %s` shows which; give it a StorageClass or a PersistentVolume that fits", p.Namespace))
		case strings.Contains(l, "too many pods"):
			add("the nodes hold as many pods as they can: add nodes or remove pods")
		case strings.Contains(l, "free ports"):
			add(fmt.Sprintf("another pod holds the same hostPort: change or drop hostPort in %s spec", o.whose()))
		case strings.Contains(l, "affinity rules"), strings.Contains(l, "anti-affinity"):
			add(fmt.Sprintf("relax %s pod affinity or anti-affinity, or add nodes", o.whose()))
		case strings.Contains(l, "unschedulable"):
			add("the nodes are cordoned: kubectl uncordon NODE")
		case strings.Contains(l, "volume node affinity"):
			add("the pod's volume is bound to a node or zone the pod cannot run on")
		}
	}
	if len(out) == 0 {
		return fmt.Sprintf("`kubectl describe pod -n %s %s` shows the scheduler's full account", p.Namespace, p.Name)
	}
	return strings.Join(out, "; ")
}

// createHint answers a controller that cannot create pods.
func createHint(code Code, msg, kind, namespace, name string) string {
	if code == QuotaExceeded {
		if strings.Contains(msg, "must specify") {
			return fmt.Sprintf("the namespace's ResourceQuota needs requests and limits on every container: set them (`kubectl describe resourcequota -n %s` shows which)", namespace)
		}
		return fmt.Sprintf("`kubectl describe resourcequota -n %s` shows the quota: lower the replicas or requests, or raise the quota", namespace)
	}
	return fmt.Sprintf("`kubectl describe %s/%s -n %s` shows the controller's events", strings.ToLower(kind), name, namespace)
}

// createCode tells a quota refusal from other failures to create pods.
func createCode(msg string) Code {
	if strings.Contains(msg, "exceeded quota") || strings.Contains(msg, "failed quota") || strings.Contains(msg, "status unknown for quota") {
		return QuotaExceeded
	}
	return FailedCreate
}
