// Package blocker says why a Kubernetes object is not ready: from the
// object's status and conditions, its pods' status and their latest
// events, it names what blocks (FailedScheduling, ImagePullBackOff,
// CrashLoopBackOff, a failing readiness probe, an exceeded quota, a
// paused rollout, ...), in the scheduler's or kubelet's words, with one
// line on what to do. Explain is pure logic over objects and events;
// Lister reads them from a cluster, only listing.
package blocker

import (
	"fmt"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"labs.dev/lab/lab/resource"
)

// Code names a reason, as Kubernetes names it where it has a name.
// Container waiting reasons lab has no special words for (such as
// CreateContainerConfigError) pass through as their own Code.
type Code string

const (
	// FailedScheduling: no node fits a pod (its PodScheduled condition
	// or the scheduler's event).
	FailedScheduling Code = "FailedScheduling"
	// ImagePullBackOff and ErrImagePull: the kubelet cannot pull an image.
	ImagePullBackOff Code = "ImagePullBackOff"
	ErrImagePull     Code = "ErrImagePull"
	// CrashLoopBackOff: a container keeps exiting and is restarted.
	CrashLoopBackOff Code = "CrashLoopBackOff"
	// Unready: a container runs but its readiness probe fails.
	Unready Code = "Unready"
	// QuotaExceeded: a ReplicaSet (or another controller) cannot create
	// pods because a ResourceQuota refuses them.
	QuotaExceeded Code = "QuotaExceeded"
	// FailedCreate: a controller cannot create pods for another reason.
	FailedCreate Code = "FailedCreate"
	// FailedMount: a volume of a scheduled pod cannot be mounted.
	FailedMount Code = "FailedMount"
	// ContainerFailed: a container that is not restarted exited with an
	// error.
	ContainerFailed Code = "ContainerFailed"
	// Paused: a Deployment whose rollout is paused (spec.paused).
	Paused Code = "Paused"
	// ProgressDeadlineExceeded: a Deployment made no progress for
	// spec.progressDeadlineSeconds.
	ProgressDeadlineExceeded Code = "ProgressDeadlineExceeded"
	// JobFailed: a Job gave up (its Failed condition).
	JobFailed Code = "JobFailed"
	// Suspended: a Job with spec.suspend.
	Suspended Code = "Suspended"
	// Terminating: a namespace being deleted whose content or finalizers
	// remain.
	Terminating Code = "Terminating"
)

// Reason is one thing that keeps an object from being ready.
type Reason struct {
	// Object is what was waited for or checked, like "Deployment dev/fleet".
	Object string `json:"object"`
	Code   Code   `json:"reason"`
	// Summary says how far the object got, like "0 of 2 pods scheduled".
	Summary string `json:"summary,omitempty"`
	// Message is the scheduler's, kubelet's or controller's own words.
	Message   string `json:"message,omitempty"`
	Container string `json:"container,omitempty"`
	Image     string `json:"image,omitempty"`
	// LastExit is a crashed container's last exit, like "exit code 1 (Error)".
	LastExit string `json:"last_exit,omitempty"`
	// Hint is one line on what to do.
	Hint string `json:"hint,omitempty"`
	// Pods names the pods that share the reason, for a workload.
	Pods []string `json:"pods,omitempty"`
}

// String is the reason as one line: object, summary, message, hint.
func (r Reason) String() string { return r.Blocked().String() }

// Key is what a reason stays the same as while it holds, for telling a
// new reason from one that goes on: its object and cause, not the
// details that change as it goes on (an image pull alternating between
// ErrImagePull and ImagePullBackOff, a probe's address).
func (r Reason) Key() string {
	return r.Object + "\x00" + r.Group()
}

// Group is a short phrase that failures with the same cause share, like
// "pods could not be scheduled (Insufficient cpu)".
func (r Reason) Group() string {
	switch r.Code {
	case FailedScheduling:
		if d := schedulingDetails(r.Message); len(d) > 0 {
			return "pods could not be scheduled (" + strings.Join(d, ", ") + ")"
		}
		return "pods could not be scheduled"
	case ImagePullBackOff, ErrImagePull:
		if r.Image != "" {
			return "images could not be pulled (" + r.Image + ")"
		}
		return "images could not be pulled"
	case CrashLoopBackOff:
		return "containers kept crashing"
	case ContainerFailed:
		return "containers failed"
	case Unready:
		return "pods not ready (readiness probe failed)"
	case QuotaExceeded:
		return "resource quota exceeded"
	case FailedCreate:
		return "pods could not be created"
	case FailedMount:
		return "volumes could not be mounted"
	case Paused:
		return "rollout paused"
	case ProgressDeadlineExceeded:
		return "rollout past its progress deadline"
	case JobFailed:
		return "jobs failed"
	case Suspended:
		return "jobs suspended"
	case Terminating:
		return "namespaces stuck terminating"
	}
	return string(r.Code)
}

// Options shape the words of hints.
type Options struct {
	// Whose names what declares the pods in hints, like "the chart's";
	// "" means "the pods'".
	Whose string
}

func (o Options) whose() string {
	if o.Whose == "" {
		return "the pods'"
	}
	return o.Whose
}

// Explain says why obj is not ready, most likely cause first, from obj
// and the facts of its namespace. It returns nil when it knows no
// reason (the object may just be on its way). Kinds it does not know
// have no reasons.
func Explain(obj *unstructured.Unstructured, f Facts, o Options) []Reason {
	if obj == nil {
		return nil
	}
	var rs []Reason
	switch obj.GroupVersionKind().GroupKind().String() {
	case "Deployment.apps":
		rs = explainDeployment(obj, f, o)
	case "ReplicaSet.apps":
		rs = explainReplicaSet(obj, f, o)
	case "StatefulSet.apps", "DaemonSet.apps":
		rs = explainController(obj, f, o)
	case "Job.batch":
		rs = explainJob(obj, f, o)
	case "Pod":
		rs = explainPod(obj, f, o)
	case "Namespace":
		rs = explainNamespace(obj)
	}
	sort.SliceStable(rs, func(i, j int) bool { return rank(rs[i].Code) < rank(rs[j].Code) })
	return rs
}

// rank orders reasons cause first: what stops pods from existing, then
// from running, then from being ready, then the verdicts that follow.
func rank(c Code) int {
	switch c {
	case Paused, Suspended, Terminating:
		return 0
	case QuotaExceeded, FailedCreate:
		return 1
	case FailedScheduling:
		return 2
	case ImagePullBackOff, ErrImagePull:
		return 3
	case CrashLoopBackOff, ContainerFailed:
		return 4
	case FailedMount:
		return 6
	case Unready:
		return 7
	case ProgressDeadlineExceeded, JobFailed:
		return 9
	}
	return 5 // other container errors
}

// ID names an object like kubectl describe's header: "Deployment dev/fleet".
func ID(kind, namespace, name string) string {
	if namespace == "" {
		return kind + " " + name
	}
	return kind + " " + namespace + "/" + name
}

func idOf(u *unstructured.Unstructured) string {
	return ID(u.GetKind(), u.GetNamespace(), u.GetName())
}

func count(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// Blocked is r as the engine reports it.
func (r Reason) Blocked() resource.Blocked {
	return resource.Blocked{Object: r.Object, Reason: string(r.Code), Summary: r.Summary, Message: r.Message, Hint: r.Hint, Group: r.Group()}
}
