package blocker

import (
	"fmt"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
)

// Facts are what Explain reads besides the object: the pods and
// ReplicaSets of its namespace, and the namespace's warning events. Only
// some reasons need events (a readiness probe's failure, an image pull's
// cause, a volume that cannot be mounted, a StatefulSet that cannot
// create pods); without them Explain says less, never something wrong.
type Facts struct {
	Pods        []corev1.Pod
	ReplicaSets []appsv1.ReplicaSet
	Events      []corev1.Event
}

// typed converts obj to its Go type; ok is false when it does not fit.
func typed[T any](obj *unstructured.Unstructured) (*T, bool) {
	out := new(T)
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(obj.Object, out); err != nil {
		return nil, false
	}
	return out, true
}

func ownedBy(refs []metav1.OwnerReference, owners map[types.UID]bool) bool {
	for _, r := range refs {
		if owners[r.UID] {
			return true
		}
	}
	return false
}

// podsOf returns the pods that owners own and that are not going away.
func podsOf(f Facts, owners map[types.UID]bool) []*corev1.Pod {
	var out []*corev1.Pod
	for i := range f.Pods {
		p := &f.Pods[i]
		if p.DeletionTimestamp == nil && ownedBy(p.OwnerReferences, owners) {
			out = append(out, p)
		}
	}
	return out
}

func replicas(n *int32) int {
	if n == nil {
		return 1
	}
	return int(*n)
}

// PodReasons says why each of obj's pods is not ready, one reason a pod
// (its Object names the pod). obj is a workload or a pod.
func PodReasons(obj *unstructured.Unstructured, f Facts, o Options) []Reason {
	var out []Reason
	for _, p := range workloadPods(obj, f) {
		if r, ok := podReason(p, f, o); ok {
			r.Pods, r.Summary = nil, podSummary(r)
			out = append(out, r)
		}
	}
	return out
}

// Itemize says why obj is not ready item by item, for a person reading
// a failed check: first what holds the object itself (a paused rollout,
// pods a quota refuses, a deadline passed), then each pod that is not
// ready, one reason a pod.
func Itemize(obj *unstructured.Unstructured, f Facts, o Options) []Reason {
	var out []Reason
	for _, r := range Explain(obj, f, o) {
		if len(r.Pods) == 0 {
			out = append(out, r)
		}
	}
	if obj != nil && obj.GetKind() == "Pod" {
		return out // Explain said it already
	}
	return append(out, PodReasons(obj, f, o)...)
}

// podSummary is how far one pod got, said of the pod.
func podSummary(r Reason) string {
	switch r.Code {
	case FailedScheduling:
		return "not scheduled"
	case Unready:
		return "not ready"
	case ImagePullBackOff, ErrImagePull:
		return "cannot pull image " + r.Image
	case CrashLoopBackOff:
		return "crash-looping"
	case ContainerFailed:
		return "failed"
	case FailedMount:
		return "cannot mount a volume"
	}
	return ""
}

// workloadPods returns the pods obj runs (obj itself for a pod).
func workloadPods(obj *unstructured.Unstructured, f Facts) []*corev1.Pod {
	if obj == nil {
		return nil
	}
	owners := map[types.UID]bool{obj.GetUID(): true}
	switch obj.GroupVersionKind().GroupKind().String() {
	case "Deployment.apps":
		for _, rs := range f.ReplicaSets {
			if ownedBy(rs.OwnerReferences, owners) {
				owners[rs.UID] = true
			}
		}
	case "ReplicaSet.apps", "StatefulSet.apps", "DaemonSet.apps", "Job.batch":
	case "Pod":
		if p, ok := typed[corev1.Pod](obj); ok {
			return []*corev1.Pod{p}
		}
		return nil
	default:
		return nil
	}
	return podsOf(f, owners)
}

func explainDeployment(obj *unstructured.Unstructured, f Facts, o Options) []Reason {
	d, ok := typed[appsv1.Deployment](obj)
	if !ok {
		return nil
	}
	id := idOf(obj)
	var out []Reason
	if d.Spec.Paused {
		out = append(out, Reason{Object: id, Code: Paused, Summary: "rollout paused (spec.paused is true)",
			Hint: fmt.Sprintf("resume it: kubectl rollout resume deployment/%s -n %s", d.Name, d.Namespace)})
	}
	failed := false
	for i := range f.ReplicaSets {
		rs := &f.ReplicaSets[i]
		if !ownedBy(rs.OwnerReferences, map[types.UID]bool{d.UID: true}) {
			continue
		}
		if r, ok := replicaSetFailure(rs, f); ok {
			r.Object = id
			out = append(out, r)
			failed = true
		}
	}
	if !failed {
		// The controller copies its ReplicaSet's failure here too; the
		// ReplicaSet may be gone or not listed.
		for _, c := range d.Status.Conditions {
			if c.Type == appsv1.DeploymentReplicaFailure && c.Status == corev1.ConditionTrue {
				code := createCode(c.Message)
				out = append(out, Reason{Object: id, Code: code, Summary: "cannot create pods", Message: c.Message,
					Hint: createHint(code, c.Message, "Deployment", d.Namespace, d.Name)})
			}
		}
	}
	out = append(out, podGroups(id, replicas(d.Spec.Replicas), workloadPods(obj, f), f, o)...)
	for _, c := range d.Status.Conditions {
		if c.Type == appsv1.DeploymentProgressing && c.Reason == "ProgressDeadlineExceeded" {
			summary := "rollout past its progress deadline"
			if d.Spec.ProgressDeadlineSeconds != nil {
				summary = fmt.Sprintf("no progress for %ds (spec.progressDeadlineSeconds)", *d.Spec.ProgressDeadlineSeconds)
			}
			out = append(out, Reason{Object: id, Code: ProgressDeadlineExceeded, Summary: summary, Message: c.Message,
				Hint: "fix what keeps its pods from being ready; the rollout carries on by itself when they are"})
		}
	}
	return out
}

// replicaSetFailure is a ReplicaSet that cannot create its pods: its
// ReplicaFailure condition, or else its latest FailedCreate event.
func replicaSetFailure(rs *appsv1.ReplicaSet, f Facts) (Reason, bool) {
	msg := ""
	for _, c := range rs.Status.Conditions {
		if c.Type == appsv1.ReplicaSetReplicaFailure && c.Status == corev1.ConditionTrue {
			msg = c.Message
		}
	}
	if msg == "" && int(rs.Status.Replicas) < replicas(rs.Spec.Replicas) {
		if e := latest(f.eventsFor("ReplicaSet", rs.Name, rs.UID), "FailedCreate"); e != nil {
			msg = createError(e.Message)
		}
	}
	if msg == "" {
		return Reason{}, false
	}
	code := createCode(msg)
	return Reason{
		Object:  ID("ReplicaSet", rs.Namespace, rs.Name),
		Code:    code,
		Summary: fmt.Sprintf("ReplicaSet %s has %d of %d pods and cannot create more", rs.Name, rs.Status.Replicas, replicas(rs.Spec.Replicas)),
		Message: msg,
		Hint:    createHint(code, msg, "ReplicaSet", rs.Namespace, rs.Name),
	}, true
}

// createError keeps the API server's answer from a FailedCreate event:
// "Error creating: pods ..." (ReplicaSets, DaemonSets, Jobs) and "create
// Pod db-1 in StatefulSet db failed error: pods ..." become "pods ...".
func createError(msg string) string {
	const sts = " failed error: "
	if i := strings.Index(msg, sts); i >= 0 {
		return msg[i+len(sts):]
	}
	return strings.TrimPrefix(msg, "Error creating: ")
}

func explainReplicaSet(obj *unstructured.Unstructured, f Facts, o Options) []Reason {
	rs, ok := typed[appsv1.ReplicaSet](obj)
	if !ok {
		return nil
	}
	var out []Reason
	if r, ok := replicaSetFailure(rs, f); ok {
		r.Summary = fmt.Sprintf("%d of %d pods created", rs.Status.Replicas, replicas(rs.Spec.Replicas))
		out = append(out, r)
	}
	return append(out, podGroups(idOf(obj), replicas(rs.Spec.Replicas), workloadPods(obj, f), f, o)...)
}

// explainController covers StatefulSets and DaemonSets: their pods, and
// the FailedCreate events they leave when they cannot create one.
func explainController(obj *unstructured.Unstructured, f Facts, o Options) []Reason {
	id := idOf(obj)
	var desired int
	if obj.GetKind() == "DaemonSet" {
		ds, ok := typed[appsv1.DaemonSet](obj)
		if !ok {
			return nil
		}
		desired = int(ds.Status.DesiredNumberScheduled)
	} else {
		ss, ok := typed[appsv1.StatefulSet](obj)
		if !ok {
			return nil
		}
		desired = replicas(ss.Spec.Replicas)
	}
	pods := workloadPods(obj, f)
	var out []Reason
	if r, ok := createFailure(obj, len(pods), desired, f); ok {
		out = append(out, r)
	}
	return append(out, podGroups(id, desired, pods, f, o)...)
}

// createFailure is a controller with fewer pods than it wants whose
// latest FailedCreate event says why.
func createFailure(obj *unstructured.Unstructured, have, want int, f Facts) (Reason, bool) {
	if have >= want {
		return Reason{}, false
	}
	e := latest(f.eventsFor(obj.GetKind(), obj.GetName(), obj.GetUID()), "FailedCreate")
	if e == nil {
		return Reason{}, false
	}
	msg := createError(e.Message)
	code := createCode(msg)
	return Reason{Object: idOf(obj), Code: code, Summary: fmt.Sprintf("%d of %d pods created", have, want), Message: msg,
		Hint: createHint(code, msg, obj.GetKind(), obj.GetNamespace(), obj.GetName())}, true
}

func explainJob(obj *unstructured.Unstructured, f Facts, o Options) []Reason {
	j, ok := typed[batchv1.Job](obj)
	if !ok {
		return nil
	}
	id := idOf(obj)
	var out []Reason
	if j.Spec.Suspend != nil && *j.Spec.Suspend {
		out = append(out, Reason{Object: id, Code: Suspended, Summary: "suspended (spec.suspend is true)",
			Hint: fmt.Sprintf("resume it: kubectl patch job %s -n %s -p '{\"spec\":{\"suspend\":false}}'", j.Name, j.Namespace)})
	}
	for _, c := range j.Status.Conditions {
		if c.Type == batchv1.JobFailed && c.Status == corev1.ConditionTrue {
			out = append(out, Reason{Object: id, Code: JobFailed, Summary: "failed (" + c.Reason + ")", Message: c.Message,
				Hint: fmt.Sprintf("`kubectl logs -n %s job/%s` shows why its pods failed", j.Namespace, j.Name)})
		}
	}
	pods := workloadPods(obj, f)
	want := replicas(j.Spec.Parallelism)
	if j.Spec.Completions != nil && int(*j.Spec.Completions)-int(j.Status.Succeeded) < want {
		want = int(*j.Spec.Completions) - int(j.Status.Succeeded)
	}
	if r, ok := createFailure(obj, int(j.Status.Active), want, f); ok {
		out = append(out, r)
	}
	return append(out, podGroups(id, want, pods, f, o)...)
}

func explainPod(obj *unstructured.Unstructured, f Facts, o Options) []Reason {
	p, ok := typed[corev1.Pod](obj)
	if !ok {
		return nil
	}
	r, ok := podReason(p, f, o)
	if !ok {
		return nil
	}
	r.Pods, r.Summary = nil, podSummary(r)
	return []Reason{r}
}

// podGroups explains a workload's pods, one reason for all the pods that
// share it.
func podGroups(id string, desired int, pods []*corev1.Pod, f Facts, o Options) []Reason {
	scheduled, ready := 0, 0
	for _, p := range pods {
		if podScheduled(p) {
			scheduled++
		}
		if podReady(p) {
			ready++
		}
	}
	total := max(desired, len(pods))
	var order []string
	groups := map[string]*Reason{}
	for _, p := range pods {
		r, ok := podReason(p, f, o)
		if !ok {
			continue
		}
		key := string(r.Code) + "\x00" + r.Container + "\x00" + r.Image
		switch r.Code {
		case FailedScheduling:
			key += "\x00" + r.Message
		case CrashLoopBackOff, ContainerFailed:
			key += "\x00" + r.LastExit
		case Unready, ImagePullBackOff, ErrImagePull:
		default:
			key += "\x00" + r.Message
		}
		if g := groups[key]; g != nil {
			g.Pods = append(g.Pods, p.Name)
			continue
		}
		r.Object = id
		groups[key] = &r
		order = append(order, key)
	}
	out := make([]Reason, 0, len(order))
	for _, k := range order {
		r := *groups[k]
		n := len(r.Pods)
		switch r.Code {
		case FailedScheduling:
			r.Summary = fmt.Sprintf("%d of %d pods scheduled", scheduled, total)
		case Unready:
			r.Summary = fmt.Sprintf("%d of %d pods ready", ready, total)
		case ImagePullBackOff, ErrImagePull:
			r.Summary = count(n, "pod") + " cannot pull image " + r.Image
		case CrashLoopBackOff:
			r.Summary = count(n, "pod") + " crash-looping"
		case ContainerFailed:
			r.Summary = count(n, "pod") + " failed"
		case FailedMount:
			r.Summary = count(n, "pod") + " cannot mount a volume"
		default:
			r.Summary = count(n, "pod") + " in " + string(r.Code)
		}
		out = append(out, r)
	}
	return out
}

// namespaceConditions are the conditions the namespace controller sets
// while it cannot finish deleting a namespace.
var namespaceConditions = map[corev1.NamespaceConditionType]bool{
	corev1.NamespaceDeletionDiscoveryFailure: true,
	corev1.NamespaceDeletionGVParsingFailure: true,
	corev1.NamespaceDeletionContentFailure:   true,
	corev1.NamespaceContentRemaining:         true,
	corev1.NamespaceFinalizersRemaining:      true,
}

func explainNamespace(obj *unstructured.Unstructured) []Reason {
	ns, ok := typed[corev1.Namespace](obj)
	if !ok || ns.DeletionTimestamp == nil {
		return nil
	}
	r := Reason{Object: ID("Namespace", "", ns.Name), Code: Terminating, Summary: "being deleted",
		Hint: fmt.Sprintf("a finalizer holds it or what is in it: `kubectl get namespace %s -o yaml` shows which; the controller that owns the finalizer must finish, or remove the finalizer", ns.Name)}
	var msgs []string
	for _, c := range ns.Status.Conditions {
		if namespaceConditions[c.Type] && c.Status == corev1.ConditionTrue && c.Message != "" {
			msgs = append(msgs, c.Message)
		}
	}
	r.Message = strings.Join(msgs, "; ")
	if r.Message == "" {
		r.Message = "waiting for what is in it to be deleted"
	}
	return []Reason{r}
}
