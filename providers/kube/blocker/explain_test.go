package blocker

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// recorded is one testdata file: an object and what a Lister read of
// its namespace (testdata/README.md says which were recorded on the
// simulated cluster and which were composed from kubelet's output).
type recorded struct {
	Object      map[string]any      `json:"object"`
	Pods        []corev1.Pod        `json:"pods"`
	ReplicaSets []appsv1.ReplicaSet `json:"replicaSets"`
	Events      []corev1.Event      `json:"events"`
}

func load(t *testing.T, name string) (*unstructured.Unstructured, Facts) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var r recorded
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	return &unstructured.Unstructured{Object: r.Object}, Facts{Pods: r.Pods, ReplicaSets: r.ReplicaSets, Events: r.Events}
}

func lines(rs []Reason) string {
	var b strings.Builder
	for _, r := range rs {
		b.WriteString(r.String())
		b.WriteString("\n")
	}
	return b.String()
}

func TestExplainRecorded(t *testing.T) {
	for _, tc := range []struct {
		file  string
		want  string // every reason, one a line
		group string // the first reason's
		code  Code
		pods  int // pods sharing the first reason
	}{
		{
			file:  "insufficientcpu",
			want:  "Deployment t-why-cpu/fleet: 0 of 2 pods scheduled: 0/1 nodes are available: 1 Insufficient cpu — lower the pods' CPU requests or add nodes\n",
			group: "pods could not be scheduled (Insufficient cpu)", code: FailedScheduling, pods: 2,
		},
		{
			file: "nodeselector",
			want: "Deployment t-why-selector/fleet: 0 of 1 pods scheduled: 0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector" +
				" — no node has the labels the pods' nodeSelector or affinity asks for: fix them, or label a node (kubectl label node NODE KEY=VALUE)\n",
			group: "pods could not be scheduled (node(s) didn't match Pod's node affinity/selector)", code: FailedScheduling, pods: 1,
		},
		{
			file: "quota",
			want: "Deployment t-why-quota/fleet: ReplicaSet fleet-5c4b657c7f has 1 of 3 pods and cannot create more: " +
				`pods "fleet-5c4b657c7f-24k7b" is forbidden: exceeded quota: pods, requested: pods=1, used: pods=1, limited: pods=1` +
				" — `kubectl describe resourcequota -n t-why-quota` shows the quota: lower the replicas or requests, or raise the quota\n",
			group: "resource quota exceeded", code: QuotaExceeded,
		},
		{
			file:  "paused",
			want:  "Deployment t-why-paused/fleet: rollout paused (spec.paused is true) — resume it: kubectl rollout resume deployment/fleet -n t-why-paused\n",
			group: "rollout paused", code: Paused,
		},
		{
			file: "statefulsetquota",
			want: `StatefulSet t-why-sts/db: 1 of 2 pods created: pods "db-1" is forbidden: exceeded quota: pods, requested: pods=1, used: pods=1, limited: pods=1` +
				" — `kubectl describe resourcequota -n t-why-sts` shows the quota: lower the replicas or requests, or raise the quota\n",
			group: "resource quota exceeded", code: QuotaExceeded,
		},
		{
			file: "imagepullbackoff",
			want: `Deployment t-why-kubelet/fleet: 2 pods cannot pull image registry.example/fleet:1.0: Failed to pull image "registry.example/fleet:1.0": failed to pull and unpack image "registry.example/fleet:1.0": failed to resolve reference "registry.example/fleet:1.0": failed to do request: Head "https://registry.example/v2/fleet/manifests/1.0": dial tcp: lookup registry.example on 172.18.0.1:53: no such host` +
				" — check the image name and tag in the pods' spec and that the node can reach its registry (on kind, `kind load docker-image registry.example/fleet:1.0` puts a local image on the node)\n",
			group: "images could not be pulled (registry.example/fleet:1.0)", code: ImagePullBackOff, pods: 2,
		},
		{
			file: "errimagepull",
			want: `Deployment t-why-kubelet/fleet: 2 pods cannot pull image registry.example/fleet:1.0: failed to pull and unpack image "registry.example/fleet:1.0": failed to resolve reference "registry.example/fleet:1.0": failed to do request: Head "https://registry.example/v2/fleet/manifests/1.0": dial tcp: lookup registry.example on 172.18.0.1:53: no such host` +
				" — check the image name and tag in the pods' spec and that the node can reach its registry (on kind, `kind load docker-image registry.example/fleet:1.0` puts a local image on the node)\n",
			group: "images could not be pulled (registry.example/fleet:1.0)", code: ErrImagePull, pods: 2,
		},
		{
			file: "crashloopbackoff",
			want: "Deployment t-why-kubelet/fleet: 2 pods crash-looping: container app exited with exit code 1 (Error): panic: open /etc/fleet/config.yaml: no such file or directory; restarted 4 times" +
				" — `kubectl logs -n t-why-kubelet fleet-9b6d986b9-2jt59 -c app --previous` shows why it exits\n" +
				`Deployment t-why-kubelet/fleet: no progress for 600s (spec.progressDeadlineSeconds): ReplicaSet "fleet-9b6d986b9" has timed out progressing.` +
				" — fix what keeps its pods from being ready; the rollout carries on by itself when they are\n",
			group: "containers kept crashing", code: CrashLoopBackOff, pods: 2,
		},
		{
			file: "oomkilled",
			want: "Deployment t-why-kubelet/fleet: 2 pods crash-looping: container app exited with exit code 137 (OOMKilled); restarted 4 times" +
				" — the container ran out of memory: raise its memory limit in the pods' spec\n",
			group: "containers kept crashing", code: CrashLoopBackOff, pods: 2,
		},
		{
			file: "unready",
			want: "Deployment t-why-kubelet/fleet: 1 of 2 pods ready: Readiness probe failed: HTTP probe failed with statuscode: 503" +
				" — check the readiness probe's path and port against what the container serves; `kubectl logs -n t-why-kubelet fleet-9b6d986b9-2jt59 -c app` shows what it does\n",
			group: "pods not ready (readiness probe failed)", code: Unready, pods: 1,
		},
		{
			file: "createcontainerconfigerror",
			want: `Deployment t-why-kubelet/fleet: 2 pods in CreateContainerConfigError: configmap "fleet-config" not found` +
				" — create the ConfigMap or Secret the container refers to, or fix the reference in the pods' spec\n",
			group: "CreateContainerConfigError", code: "CreateContainerConfigError", pods: 2,
		},
		{
			file: "terminatingnamespace",
			want: "Namespace t-why-terminating: being deleted: Some resources are remaining: configmaps. has 1 resource instances; " +
				"Some content in the namespace has finalizers remaining: example.com/hold in 1 resource instances" +
				" — a finalizer holds it or what is in it: `kubectl get namespace t-why-terminating -o yaml` shows which; the controller that owns the finalizer must finish, or remove the finalizer\n",
			group: "namespaces stuck terminating", code: Terminating,
		},
		{
			file: "kind-pull",
			want: `Deployment why/pull: 1 pod cannot pull image registry.invalid/lab/fleet:1.0: Failed to pull image "registry.invalid/lab/fleet:1.0": failed to pull and unpack image "registry.invalid/lab/fleet:1.0": failed to resolve reference "registry.invalid/lab/fleet:1.0": failed to do request: Head "https://registry.invalid/v2/lab/fleet/manifests/1.0": dial tcp: lookup registry.invalid on [fc00:b483:338:4b9b::1]:53: no such host` +
				" — check the image name and tag in the pods' spec and that the node can reach its registry (on kind, `kind load docker-image registry.invalid/lab/fleet:1.0` puts a local image on the node)\n",
			group: "images could not be pulled (registry.invalid/lab/fleet:1.0)", code: ErrImagePull, pods: 1,
		},
		{
			// Between restarts the kubelet shows the exit, not CrashLoopBackOff.
			file: "kind-crash",
			want: "Deployment why/crash: 1 pod crash-looping: container app exited with exit code 3 (Error): cannot read /etc/fleet/config.yaml; restarted 3 times" +
				" — `kubectl logs -n why crash-77c7444c8-gb79f -c app --previous` shows why it exits\n",
			group: "containers kept crashing", code: CrashLoopBackOff, pods: 1,
		},
		{
			file: "kind-crashloopbackoff",
			want: "Deployment why/crash: 1 pod crash-looping: container app exited with exit code 3 (Error): cannot read /etc/fleet/config.yaml; restarted 3 times" +
				" — `kubectl logs -n why crash-74456478f4-nsq98 -c app --previous` shows why it exits\n",
			group: "containers kept crashing", code: CrashLoopBackOff, pods: 1,
		},
		{
			file: "kind-probe",
			want: `Deployment why/probe: 0 of 1 pods ready: Readiness probe failed: Get "http://10.244.0.7:8080/healthz": dial tcp 10.244.0.7:8080: connect: connection refused` +
				" — check the readiness probe's path and port against what the container serves; `kubectl logs -n why probe-5fc8f7f4cd-84hk6 -c app` shows what it does\n",
			group: "pods not ready (readiness probe failed)", code: Unready, pods: 1,
		},
		{
			file: "failedmount",
			want: `Deployment t-why-kubelet/fleet: 2 pods cannot mount a volume: MountVolume.SetUp failed for volume "config" : secret "fleet-tls" not found` +
				" — create the ConfigMap, Secret or PersistentVolumeClaim the volume names, or fix the name in the pods' spec\n",
			group: "volumes could not be mounted", code: FailedMount, pods: 2,
		},
	} {
		t.Run(tc.file, func(t *testing.T) {
			obj, f := load(t, tc.file)
			rs := Explain(obj, f, Options{})
			if got := lines(rs); got != tc.want {
				t.Fatalf("got:\n%s\nwant:\n%s", got, tc.want)
			}
			if rs[0].Code != tc.code || rs[0].Group() != tc.group || len(rs[0].Pods) != tc.pods {
				t.Errorf("first reason: code %s, group %q, pods %v", rs[0].Code, rs[0].Group(), rs[0].Pods)
			}
		})
	}
}

// Without events, reasons that need one say less, never something else.
func TestExplainWithoutEvents(t *testing.T) {
	obj, f := load(t, "unready")
	f.Events = nil
	rs := Explain(obj, f, Options{})
	if len(rs) != 1 || rs[0].Code != Unready || rs[0].Message != "container app is running but its readiness probe does not pass" {
		t.Fatalf("%+v", rs)
	}
	obj, f = load(t, "failedmount")
	f.Events = nil
	if rs := Explain(obj, f, Options{}); len(rs) != 0 {
		t.Fatalf("a pod still creating its containers has no reason without events: %+v", rs)
	}
}

func TestExplainCrashDetail(t *testing.T) {
	obj, f := load(t, "crashloopbackoff")
	r := Explain(obj, f, Options{})[0]
	if r.Container != "app" || r.Image != "registry.example/fleet:1.0" || r.LastExit != "exit code 1 (Error)" {
		t.Fatalf("%+v", r)
	}
}

func TestPodReasons(t *testing.T) {
	obj, f := load(t, "podreasons")
	rs := PodReasons(obj, f, Options{})
	if len(rs) != 2 {
		t.Fatalf("want one reason for each of 2 pods: %+v", rs)
	}
	for _, r := range rs {
		if !strings.HasPrefix(r.Object, "Pod t-why-pods/fleet-") || r.Code != FailedScheduling || r.Pods != nil ||
			r.Message != "0/1 nodes are available: 1 Insufficient memory" {
			t.Errorf("%+v", r)
		}
	}
	// the ready one of two has no reason
	obj, f = load(t, "unready")
	if rs := PodReasons(obj, f, Options{}); len(rs) != 1 || rs[0].Object != "Pod t-why-kubelet/fleet-9b6d986b9-2jt59" || rs[0].Summary != "not ready" {
		t.Fatalf("%+v", rs)
	}
}

func TestItemize(t *testing.T) {
	obj, f := load(t, "crashloopbackoff")
	want := "Pod t-why-kubelet/fleet-9b6d986b9-2jt59: crash-looping: container app exited with exit code 1 (Error): panic: open /etc/fleet/config.yaml: no such file or directory; restarted 4 times" +
		" — `kubectl logs -n t-why-kubelet fleet-9b6d986b9-2jt59 -c app --previous` shows why it exits\n" +
		"Pod t-why-kubelet/fleet-9b6d986b9-k9xkk: crash-looping: container app exited with exit code 1 (Error): panic: open /etc/fleet/config.yaml: no such file or directory; restarted 4 times" +
		" — `kubectl logs -n t-why-kubelet fleet-9b6d986b9-k9xkk -c app --previous` shows why it exits\n"
	rs := Itemize(obj, f, Options{})
	if got := lines(rs); !strings.HasPrefix(got, "Deployment t-why-kubelet/fleet: no progress for 600s") || !strings.HasSuffix(got, want) {
		t.Fatalf("got:\n%s", got)
	}
	// the object's own reasons come first: a paused Deployment says so
	obj, f = load(t, "paused")
	if rs := Itemize(obj, f, Options{}); len(rs) != 1 || rs[0].Code != Paused {
		t.Fatalf("%+v", rs)
	}
	obj, f = load(t, "quota")
	rs = Itemize(obj, f, Options{})
	if len(rs) != 1 || rs[0].Code != QuotaExceeded {
		t.Fatalf("the one pod that runs is ready; only the quota is a reason: %+v", rs)
	}
}

func TestExplainPod(t *testing.T) {
	_, f := load(t, "imagepullbackoff")
	b, _ := json.Marshal(f.Pods[0])
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	pod := &unstructured.Unstructured{Object: m}
	pod.SetAPIVersion("v1")
	pod.SetKind("Pod")
	rs := Explain(pod, f, Options{Whose: "the chart's"})
	if len(rs) != 1 || rs[0].Object != "Pod t-why-kubelet/"+f.Pods[0].Name || rs[0].Summary != "cannot pull image registry.example/fleet:1.0" ||
		!strings.Contains(rs[0].Hint, "in the chart's spec") {
		t.Fatalf("%+v", rs)
	}
}

func TestWhose(t *testing.T) {
	obj, f := load(t, "insufficientcpu")
	r := Explain(obj, f, Options{Whose: "the chart's"})[0]
	if r.Hint != "lower the chart's CPU requests or add nodes" {
		t.Fatalf("hint: %q", r.Hint)
	}
}

func TestSchedulingMessages(t *testing.T) {
	for _, tc := range []struct{ msg, clean, details, hint string }{
		{
			msg:     "0/1 nodes are available: 1 Insufficient cpu. no new claims to deallocate, preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.",
			clean:   "0/1 nodes are available: 1 Insufficient cpu",
			details: "Insufficient cpu", hint: "lower the pods' CPU requests or add nodes",
		},
		{
			msg:     "0/3 nodes are available: 1 Insufficient memory, 2 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.",
			clean:   "0/3 nodes are available: 1 Insufficient memory, 2 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }",
			details: "Insufficient memory|node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }",
			hint:    "lower the pods' memory requests or add nodes; add a toleration for the node's taint to the pods' spec, or remove the taint (kubectl taint node NODE KEY-)",
		},
		{
			msg:     "0/1 nodes are available: pod has unbound immediate PersistentVolumeClaims. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.",
			clean:   "0/1 nodes are available: pod has unbound immediate PersistentVolumeClaims",
			details: "pod has unbound immediate PersistentVolumeClaims",
			hint:    "a PersistentVolumeClaim is not bound: `kubectl get pvc -n dev` shows which; give it a StorageClass or a PersistentVolume that fits",
		},
		{
			msg: "0/2 nodes are available: 2 Insufficient nvidia.com/gpu.", clean: "0/2 nodes are available: 2 Insufficient nvidia.com/gpu",
			details: "Insufficient nvidia.com/gpu", hint: "lower the pods' nvidia.com/gpu requests or add nodes that offer it",
		},
		{
			msg: "something new the scheduler says", clean: "something new the scheduler says",
			details: "something new the scheduler says", hint: "`kubectl describe pod -n dev fleet-1` shows the scheduler's full account",
		},
	} {
		if got := cleanScheduling(tc.msg); got != tc.clean {
			t.Errorf("clean %q:\n got %q\nwant %q", tc.msg, got, tc.clean)
		}
		if got := strings.Join(schedulingDetails(tc.msg), "|"); got != tc.details {
			t.Errorf("details %q:\n got %q\nwant %q", tc.msg, got, tc.details)
		}
		p := &corev1.Pod{}
		p.Namespace, p.Name = "dev", "fleet-1"
		if got := schedulingHint(tc.msg, p, Options{}); got != tc.hint {
			t.Errorf("hint %q:\n got %q\nwant %q", tc.msg, got, tc.hint)
		}
	}
}

// Objects Explain does not know, and objects that are fine, have no reasons.
func TestExplainNothing(t *testing.T) {
	cm := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "x"}}}
	if rs := Explain(cm, Facts{}, Options{}); rs != nil {
		t.Fatalf("%+v", rs)
	}
	if rs := Explain(nil, Facts{}, Options{}); rs != nil {
		t.Fatalf("%+v", rs)
	}
	obj, f := load(t, "insufficientcpu")
	f.Pods = nil
	if rs := Explain(obj, f, Options{}); len(rs) != 0 {
		t.Fatalf("no pods yet is no reason: %+v", rs)
	}
	// a Deployment whose kind says Deployment but whose spec is not one
	bad := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": map[string]any{"name": "x"}, "spec": "nonsense"}}
	if rs := Explain(bad, f, Options{}); rs != nil {
		t.Fatalf("%+v", rs)
	}
}

func TestStall(t *testing.T) {
	var s Stall
	t0 := time.Unix(1000, 0)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	steps := []struct {
		at       time.Duration
		key      string
		progress int
		want     bool
	}{
		{0, "a", 0, false},
		{29 * time.Second, "a", 0, false},
		{30 * time.Second, "a", 0, true},  // held 30 s with no progress: say so
		{45 * time.Second, "a", 0, false}, // once
		{46 * time.Second, "b", 0, false}, // a new reason starts its own clock
		{70 * time.Second, "b", 1, false}, // progress restarts it
		{99 * time.Second, "b", 1, false},
		{100 * time.Second, "b", 1, true},
		{200 * time.Second, "", 1, false}, // no reason: nothing to say
		{300 * time.Second, "", 1, false},
		{301 * time.Second, "a", 1, false}, // said before: never again
		{400 * time.Second, "a", 1, false},
	}
	for i, st := range steps {
		if got := s.Observe(at(st.at), st.key, st.progress); got != st.want {
			t.Errorf("step %d (%v %q %d): %v, want %v", i, st.at, st.key, st.progress, got, st.want)
		}
	}
}

func TestExplainJob(t *testing.T) {
	job := func(spec, status map[string]any) *unstructured.Unstructured {
		return &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "batch/v1", "kind": "Job",
			"metadata": map[string]any{"name": "migrate", "namespace": "dev", "uid": "job-1"},
			"spec":     spec, "status": status,
		}}
	}
	rs := Explain(job(map[string]any{"suspend": true}, nil), Facts{}, Options{})
	if len(rs) != 1 || rs[0].Code != Suspended || rs[0].Summary != "suspended (spec.suspend is true)" {
		t.Fatalf("%+v", rs)
	}
	failed := job(map[string]any{"backoffLimit": int64(1)}, map[string]any{"failed": int64(2), "conditions": []any{
		map[string]any{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit"},
	}})
	pod := corev1.Pod{}
	pod.Name, pod.Namespace = "migrate-x1", "dev"
	pod.OwnerReferences = []metav1.OwnerReference{{UID: "job-1", Kind: "Job", Name: "migrate"}}
	pod.Spec.NodeName, pod.Spec.RestartPolicy = "kind-control-plane", corev1.RestartPolicyNever
	pod.Spec.Containers = []corev1.Container{{Name: "migrate", Image: "migrate:1"}}
	pod.Status.Phase = corev1.PodFailed
	pod.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "migrate", State: corev1.ContainerState{
		Terminated: &corev1.ContainerStateTerminated{ExitCode: 2, Reason: "Error", Message: "psql: connection refused\n"}}}}
	rs = Explain(failed, Facts{Pods: []corev1.Pod{pod}}, Options{})
	want := "Job dev/migrate: 1 pod failed: container migrate exited with exit code 2 (Error): psql: connection refused — `kubectl logs -n dev migrate-x1 -c migrate --previous` shows why it exits\n" +
		"Job dev/migrate: failed (BackoffLimitExceeded): Job has reached the specified backoff limit — `kubectl logs -n dev job/migrate` shows why its pods failed\n"
	if got := lines(rs); got != want {
		t.Fatalf("got:\n%s\nwant:\n%s", got, want)
	}
}

// Explain takes any object a cluster or a lab file may hold without
// panicking.
func FuzzExplain(f *testing.F) {
	for _, name := range []string{"insufficientcpu", "quota", "crashloopbackoff", "terminatingnamespace", "statefulsetquota"} {
		b, err := os.ReadFile(filepath.Join("testdata", name+".json"))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"object":{"apiVersion":"apps/v1","kind":"Deployment","spec":{"paused":"yes"}}}`))
	f.Add([]byte(`{"object":{"apiVersion":"v1","kind":"Pod","status":{"containerStatuses":[{"state":{"waiting":{"reason":"CrashLoopBackOff"}}}]}}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var r recorded
		if json.Unmarshal(b, &r) != nil || r.Object == nil {
			return
		}
		obj := &unstructured.Unstructured{Object: r.Object}
		facts := Facts{Pods: r.Pods, ReplicaSets: r.ReplicaSets, Events: r.Events}
		for _, reason := range Explain(obj, facts, Options{}) {
			_ = reason.String() + reason.Group()
		}
		PodReasons(obj, facts, Options{})
	})
}

// A container up again for a moment after exiting is crash-looping, not
// merely unready; one whose readiness probe failed since it last exited
// is unready.
func TestRunningAgainAfterExit(t *testing.T) {
	obj, f := load(t, "kind-crash")
	for i := range f.Pods {
		p := &f.Pods[i]
		if !strings.HasPrefix(p.Name, "crash-") {
			continue
		}
		cs := &p.Status.ContainerStatuses[0]
		cs.LastTerminationState.Terminated = cs.State.Terminated
		cs.State = corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: cs.State.Terminated.FinishedAt}}
	}
	rs := Explain(obj, f, Options{})
	if len(rs) != 1 || rs[0].Code != CrashLoopBackOff || rs[0].LastExit != "exit code 3 (Error)" {
		t.Fatalf("%+v", rs)
	}
	probe := corev1.Event{Reason: "Unhealthy", Message: "Readiness probe failed: HTTP probe failed with statuscode: 503"}
	probe.InvolvedObject.Kind, probe.InvolvedObject.Name = "Pod", rs[0].Pods[0]
	probe.LastTimestamp = metav1.NewTime(time.Date(2026, 12, 1, 23, 39, 0, 0, time.UTC))
	f.Events = append(f.Events, probe)
	rs = Explain(obj, f, Options{})
	if len(rs) != 1 || rs[0].Code != Unready || rs[0].Message != probe.Message {
		t.Fatalf("%+v", rs)
	}
}
