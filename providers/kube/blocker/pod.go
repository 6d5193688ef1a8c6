package blocker

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// podReason is why one pod is not ready, or ok false when it is ready,
// done, going away, or on its way with nothing wrong yet.
func podReason(p *corev1.Pod, f Facts, o Options) (r Reason, ok bool) {
	if p.DeletionTimestamp != nil || p.Status.Phase == corev1.PodSucceeded {
		return Reason{}, false
	}
	r = Reason{Object: ID("Pod", p.Namespace, p.Name), Pods: []string{p.Name}}
	events := f.eventsFor("Pod", p.Name, p.UID)

	if c := podCondition(p, corev1.PodScheduled); c != nil && c.Status == corev1.ConditionFalse && c.Reason != "" {
		r.Code, r.Message = FailedScheduling, cleanScheduling(c.Message)
		if c.Reason == corev1.PodReasonSchedulingGated {
			r.Code = Code(c.Reason)
		}
		r.Hint = hint(r, p, o)
		return r, true
	}
	if p.Spec.NodeName == "" {
		if e := latest(events, "FailedScheduling"); e != nil {
			r.Code, r.Message = FailedScheduling, cleanScheduling(e.Message)
			r.Hint = hint(r, p, o)
			return r, true
		}
		return Reason{}, false // not looked at by the scheduler yet
	}
	best, found := r, false
	consider := func(c Reason) {
		if !found || rank(c.Code) < rank(best.Code) {
			best, found = c, true
		}
	}
	if p.Status.Phase == corev1.PodFailed && p.Status.Reason != "" {
		// Evicted, DeadlineExceeded, ...: the pod's own verdict says more
		// than its killed containers.
		c := r
		c.Code, c.Message = Code(p.Status.Reason), p.Status.Message
		consider(c)
	}
	specs := map[string]corev1.Container{}
	for _, c := range p.Spec.InitContainers {
		specs[c.Name] = c
	}
	for _, c := range p.Spec.Containers {
		specs[c.Name] = c
	}
	statuses := append(append([]corev1.ContainerStatus{}, p.Status.InitContainerStatuses...), p.Status.ContainerStatuses...)
	creating := false
	for i, cs := range statuses {
		init := i < len(p.Status.InitContainerStatuses)
		c := r
		c.Container = cs.Name
		c.Image = specs[cs.Name].Image
		if c.Image == "" {
			c.Image = cs.Image
		}
		switch {
		case cs.State.Waiting != nil:
			w := cs.State.Waiting
			switch w.Reason {
			case "", "ContainerCreating", "PodInitializing":
				creating = true
				continue
			case string(ImagePullBackOff), string(ErrImagePull), "InvalidImageName", "ErrImageNeverPull":
				c.Code, c.Message = Code(w.Reason), w.Message
				if e := latestMatching(events, "Failed", "Failed to pull image"); e != nil {
					c.Message = e.Message // the registry's answer, not just "Back-off pulling image"
				}
			case string(CrashLoopBackOff):
				c.Code = CrashLoopBackOff
				c.LastExit, c.Message = lastExit(cs, cs.LastTerminationState.Terminated)
			default:
				c.Code, c.Message = Code(w.Reason), w.Message
			}
		case cs.State.Terminated != nil && cs.State.Terminated.ExitCode != 0 && (p.Spec.RestartPolicy == corev1.RestartPolicyNever || init && p.Status.Phase == corev1.PodFailed):
			c.Code = ContainerFailed
			c.LastExit = exitText(cs.State.Terminated)
			c.Message = "container " + cs.Name + " exited with " + c.LastExit + terminationMessage(cs.State.Terminated)
		case cs.State.Terminated != nil && !init && restarts(p.Spec.RestartPolicy, cs.State.Terminated.ExitCode):
			// Between restarts a kubelet may show the exit itself rather
			// than CrashLoopBackOff: the container keeps exiting all the same.
			c.Code = CrashLoopBackOff
			c.LastExit, c.Message = lastExit(cs, cs.State.Terminated)
		case cs.State.Running != nil && !cs.Ready && !init:
			probe := latestMatching(events, "Unhealthy", "Readiness probe", "Startup probe")
			if last := cs.LastTerminationState.Terminated; cs.RestartCount > 0 && last != nil && restarts(p.Spec.RestartPolicy, last.ExitCode) &&
				(probe == nil || eventTime(probe).Before(last.FinishedAt.Time)) {
				// Up again for a moment after exiting, and not ready since:
				// it keeps exiting, whatever its probe would say.
				c.Code = CrashLoopBackOff
				c.LastExit, c.Message = lastExit(cs, last)
				break
			}
			c.Code = Unready
			c.Message = "container " + cs.Name + " is running but not ready"
			if specs[cs.Name].ReadinessProbe != nil {
				c.Message = "container " + cs.Name + " is running but its readiness probe does not pass"
			}
			if probe != nil {
				c.Message = probe.Message
			}
		default:
			continue
		}
		consider(c)
	}
	if !found && p.Status.Phase == corev1.PodFailed {
		c := r
		c.Code, c.Message = ContainerFailed, p.Status.Message
		consider(c)
	}
	if !found && creating {
		if e := latest(events, "FailedMount", "FailedAttachVolume"); e != nil {
			c := r
			c.Code, c.Message = FailedMount, e.Message
			consider(c)
		}
	}
	if !found && p.Status.Phase == corev1.PodRunning {
		if c := podCondition(p, corev1.PodReady); c != nil && c.Status == corev1.ConditionFalse && allReady(p) {
			// every container is ready: a readiness gate holds the pod
			u := r
			u.Code, u.Message = Unready, strings.TrimSpace(c.Reason+" "+c.Message)
			consider(u)
		}
	}
	if !found {
		return Reason{}, false
	}
	best.Hint = hint(best, p, o)
	return best, true
}

func podCondition(p *corev1.Pod, t corev1.PodConditionType) *corev1.PodCondition {
	for i := range p.Status.Conditions {
		if p.Status.Conditions[i].Type == t {
			return &p.Status.Conditions[i]
		}
	}
	return nil
}

func podReady(p *corev1.Pod) bool {
	c := podCondition(p, corev1.PodReady)
	return c != nil && c.Status == corev1.ConditionTrue
}

func podScheduled(p *corev1.Pod) bool {
	if p.Spec.NodeName != "" {
		return true
	}
	c := podCondition(p, corev1.PodScheduled)
	return c != nil && c.Status == corev1.ConditionTrue
}

func allReady(p *corev1.Pod) bool {
	for _, cs := range p.Status.ContainerStatuses {
		if !cs.Ready {
			return false
		}
	}
	return len(p.Status.ContainerStatuses) > 0
}

// restarts reports whether the kubelet starts a container again after
// it exited with code.
func restarts(policy corev1.RestartPolicy, code int32) bool {
	return policy == corev1.RestartPolicyAlways || policy == "" || policy == corev1.RestartPolicyOnFailure && code != 0
}

// lastExit describes a restarting container's last run, t.
func lastExit(cs corev1.ContainerStatus, t *corev1.ContainerStateTerminated) (exit, msg string) {
	restarts := ""
	if cs.RestartCount > 0 {
		restarts = fmt.Sprintf("; restarted %s", count(int(cs.RestartCount), "time"))
	}
	if t == nil {
		return "", "container " + cs.Name + " keeps exiting" + restarts
	}
	exit = exitText(t)
	return exit, "container " + cs.Name + " exited with " + exit + terminationMessage(t) + restarts
}

func exitText(t *corev1.ContainerStateTerminated) string {
	s := fmt.Sprintf("exit code %d", t.ExitCode)
	if t.Signal != 0 {
		s = fmt.Sprintf("signal %d", t.Signal)
	}
	if t.Reason != "" {
		s += " (" + t.Reason + ")"
	}
	return s
}

// terminationMessage is the last line of what the container wrote to its
// termination log, which is often the error.
func terminationMessage(t *corev1.ContainerStateTerminated) string {
	m := strings.TrimSpace(t.Message)
	if m == "" {
		return ""
	}
	if i := strings.LastIndexByte(m, '\n'); i >= 0 {
		m = strings.TrimSpace(m[i+1:])
	}
	const max = 200
	if len(m) > max {
		m = m[:max] + "…"
	}
	return ": " + m
}

// cleanScheduling keeps the scheduler's verdict and drops what it adds
// about preemption: "0/1 nodes are available: 1 Insufficient cpu.
// preemption: 0/1 nodes are available: ..." becomes "0/1 nodes are
// available: 1 Insufficient cpu".
func cleanScheduling(msg string) string {
	msg = strings.TrimSpace(msg)
	if i := strings.Index(msg, ". "); i >= 0 {
		msg = msg[:i]
	}
	return strings.TrimSuffix(msg, ".")
}

var leadingCount = regexp.MustCompile(`^\d+ `)

// schedulingDetails lists the scheduler's reasons without their node
// counts: "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) had
// untolerated taint {x: }" gives "Insufficient cpu" and "node(s) had
// untolerated taint {x: }".
func schedulingDetails(msg string) []string {
	msg = cleanScheduling(msg)
	const head = "nodes are available: "
	i := strings.Index(msg, head)
	if i < 0 {
		if msg == "" {
			return nil
		}
		return []string{msg}
	}
	var out []string
	seen := map[string]bool{}
	for _, part := range strings.Split(msg[i+len(head):], ", ") {
		part = strings.TrimSpace(leadingCount.ReplaceAllString(strings.TrimSpace(part), ""))
		if part != "" && !seen[part] {
			seen[part] = true
			out = append(out, part)
		}
	}
	return out
}

// eventsFor returns the events about one object, latest last.
func (f Facts) eventsFor(kind, name string, uid types.UID) []corev1.Event {
	var out []corev1.Event
	for _, e := range f.Events {
		io := e.InvolvedObject
		if io.Kind != kind || io.Name != name || (io.UID != "" && uid != "" && io.UID != uid) {
			continue
		}
		out = append(out, e)
	}
	return out
}

// latest returns the latest event with one of the reasons, or nil.
func latest(events []corev1.Event, reasons ...string) *corev1.Event {
	var best *corev1.Event
	for i := range events {
		e := &events[i]
		for _, r := range reasons {
			if e.Reason == r && (best == nil || !eventTime(e).Before(eventTime(best))) {
				best = e
			}
		}
	}
	return best
}

// latestMatching returns the latest event with the reason whose message
// begins with one of the prefixes, or nil.
func latestMatching(events []corev1.Event, reason string, prefixes ...string) *corev1.Event {
	var best *corev1.Event
	for i := range events {
		e := &events[i]
		if e.Reason != reason {
			continue
		}
		for _, p := range prefixes {
			if strings.HasPrefix(e.Message, p) && (best == nil || !eventTime(e).Before(eventTime(best))) {
				best = e
			}
		}
	}
	return best
}

// eventTime is when an event last happened, whichever API wrote it.
func eventTime(e *corev1.Event) time.Time {
	switch {
	case e.Series != nil && !e.Series.LastObservedTime.IsZero():
		return e.Series.LastObservedTime.Time
	case !e.LastTimestamp.IsZero():
		return e.LastTimestamp.Time
	case !e.EventTime.IsZero():
		return e.EventTime.Time
	}
	return e.CreationTimestamp.Time
}
