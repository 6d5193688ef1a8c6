package blocker_test

import (
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/yaml"

	"labs.dev/lab/providers/kube/blocker"
	"labs.dev/lab/providers/simulated/simtest"
)

func TestMain(m *testing.M) { os.Exit(simtest.Main(m)) }

// -record writes what each cluster test saw to testdata, for the unit
// tests that explain recorded objects.
var record = flag.Bool("record", false, "write the objects, pods and events the cluster tests see to testdata/")

var resources = map[string]schema.GroupVersionResource{
	"Namespace":     {Version: "v1", Resource: "namespaces"},
	"ResourceQuota": {Version: "v1", Resource: "resourcequotas"},
	"Deployment":    {Group: "apps", Version: "v1", Resource: "deployments"},
	"StatefulSet":   {Group: "apps", Version: "v1", Resource: "statefulsets"},
}

// create makes the objects of a YAML stream in namespace ns (made first)
// and returns the last one.
func create(t *testing.T, dyn dynamic.Interface, ns, docs string) *unstructured.Unstructured {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	nsObj := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": ns}}}
	if _, err := dyn.Resource(resources["Namespace"]).Create(ctx, nsObj, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = dyn.Resource(resources["Namespace"]).Delete(ctx, ns, metav1.DeleteOptions{})
	})
	var last *unstructured.Unstructured
	for _, doc := range strings.Split(docs, "\n---\n") {
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal([]byte(doc), &u.Object); err != nil {
			t.Fatal(err)
		}
		got, err := dyn.Resource(resources[u.GetKind()]).Namespace(ns).Create(ctx, u, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		last = got
	}
	return last
}

func deployment(name string, replicas int, podSpec string) string {
	return `apiVersion: apps/v1
kind: Deployment
metadata: {name: ` + name + `}
spec:
  replicas: ` + strconv.Itoa(replicas) + `
  selector: {matchLabels: {app: ` + name + `}}
  template:
    metadata: {labels: {app: ` + name + `}}
    spec:
` + podSpec
}

const container = `      containers:
      - name: app
        image: registry.example/fleet:1.0
`

// waitReason polls until the object's first reason has code (and names
// pods pods, when pods > 0), and returns its reasons. The deadline is generous: the test waits for the reason
// to appear, it does not time how long that takes.
func waitReason(t *testing.T, dyn dynamic.Interface, obj *unstructured.Unstructured, code blocker.Code, pods int) []blocker.Reason {
	t.Helper()
	l := blocker.Lister{Dynamic: dyn}
	gvr := resources[obj.GetKind()]
	deadline := time.Now().Add(90 * time.Second)
	var last []blocker.Reason
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		live, err := dyn.Resource(gvr).Namespace(obj.GetNamespace()).Get(ctx, obj.GetName(), metav1.GetOptions{})
		if err != nil {
			cancel()
			t.Fatal(err)
		}
		out, err := l.Explain(ctx, []*unstructured.Unstructured{live})
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		last = out[0]
		if len(last) > 0 && last[0].Code == code && (pods == 0 || len(last[0].Pods) == pods) {
			if *record {
				save(t, dyn, live)
			}
			return last
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("%s: no %s reason within 90s; last reasons: %+v", obj.GetName(), code, last)
	return nil
}

// save writes live and what Lister reads of its namespace to
// testdata/<test name>.json.
func save(t *testing.T, dyn dynamic.Interface, live *unstructured.Unstructured) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rec := map[string]any{"object": live.Object}
	for key, gvr := range map[string]schema.GroupVersionResource{
		"pods":        {Version: "v1", Resource: "pods"},
		"replicaSets": {Group: "apps", Version: "v1", Resource: "replicasets"},
		"events":      {Version: "v1", Resource: "events"},
	} {
		l, err := dyn.Resource(gvr).Namespace(live.GetNamespace()).List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		items := []any{}
		for _, it := range l.Items {
			unstructured.RemoveNestedField(it.Object, "metadata", "managedFields")
			items = append(items, it.Object)
		}
		rec[key] = items
	}
	unstructured.RemoveNestedField(live.Object, "metadata", "managedFields")
	b, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	name := strings.ToLower(strings.TrimPrefix(t.Name(), "TestCluster"))
	if err := os.WriteFile(filepath.Join("testdata", name+".json"), append(b, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
}

func client(t *testing.T) dynamic.Interface {
	c := simtest.Get(t)
	dyn, err := dynamic.NewForConfig(c.Config)
	if err != nil {
		t.Fatal(err)
	}
	return dyn
}

func TestClusterInsufficientCPU(t *testing.T) {
	dyn := client(t)
	d := create(t, dyn, "t-why-cpu", deployment("fleet", 2, container+`        resources: {requests: {cpu: "64"}}
`))
	r := waitReason(t, dyn, d, blocker.FailedScheduling, 2)[0]
	if r.Object != "Deployment t-why-cpu/fleet" || r.Summary != "0 of 2 pods scheduled" || !strings.Contains(r.Message, "Insufficient cpu") ||
		!strings.Contains(r.Hint, "lower the pods' CPU requests or add nodes") || len(r.Pods) != 2 {
		t.Errorf("reason: %+v", r)
	}
	if g := r.Group(); g != "pods could not be scheduled (Insufficient cpu)" {
		t.Errorf("group: %q", g)
	}
	if strings.Contains(r.Message, "preemption") {
		t.Errorf("message keeps the scheduler's preemption detail: %q", r.Message)
	}
}

func TestClusterNodeSelector(t *testing.T) {
	dyn := client(t)
	d := create(t, dyn, "t-why-selector", deployment("fleet", 1, `      nodeSelector: {disktype: ssd}
`+container))
	r := waitReason(t, dyn, d, blocker.FailedScheduling, 1)[0]
	if !strings.Contains(r.Message, "didn't match Pod's node affinity/selector") || !strings.Contains(r.Hint, "label a node") || r.Summary != "0 of 1 pods scheduled" {
		t.Errorf("reason: %+v", r)
	}
}

func TestClusterQuota(t *testing.T) {
	dyn := client(t)
	d := create(t, dyn, "t-why-quota", `apiVersion: v1
kind: ResourceQuota
metadata: {name: pods}
spec: {hard: {pods: "1"}}
---
`+deployment("fleet", 3, container))
	r := waitReason(t, dyn, d, blocker.QuotaExceeded, 0)[0]
	if r.Object != "Deployment t-why-quota/fleet" || !strings.Contains(r.Message, "exceeded quota: pods") ||
		!strings.Contains(r.Summary, "of 3 pods and cannot create more") || !strings.Contains(r.Hint, "kubectl describe resourcequota -n t-why-quota") {
		t.Errorf("reason: %+v", r)
	}
	if r.Group() != "resource quota exceeded" {
		t.Errorf("group: %q", r.Group())
	}
}

func TestClusterPaused(t *testing.T) {
	dyn := client(t)
	d := create(t, dyn, "t-why-paused", strings.Replace(deployment("fleet", 2, container), "spec:\n  replicas", "spec:\n  paused: true\n  replicas", 1))
	r := waitReason(t, dyn, d, blocker.Paused, 0)[0]
	if r.String() != "Deployment t-why-paused/fleet: rollout paused (spec.paused is true) — resume it: kubectl rollout resume deployment/fleet -n t-why-paused" {
		t.Errorf("reason: %s", r)
	}
}

// A StatefulSet's pods are refused by the quota too, but it says so only
// in events.
func TestClusterStatefulSetQuota(t *testing.T) {
	dyn := client(t)
	s := create(t, dyn, "t-why-sts", `apiVersion: v1
kind: ResourceQuota
metadata: {name: pods}
spec: {hard: {pods: "1"}}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  replicas: 2
  serviceName: db
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
`+container)
	r := waitReason(t, dyn, s, blocker.QuotaExceeded, 0)[0]
	if r.Object != "StatefulSet t-why-sts/db" || r.Summary != "1 of 2 pods created" || !strings.Contains(r.Message, "exceeded quota") {
		t.Errorf("reason: %+v", r)
	}
}

// Each pod that is not ready gets its own reason, for verify.
func TestClusterPodReasons(t *testing.T) {
	dyn := client(t)
	d := create(t, dyn, "t-why-pods", deployment("fleet", 2, container+`        resources: {requests: {memory: "64Ti"}}
`))
	waitReason(t, dyn, d, blocker.FailedScheduling, 2)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	live, err := dyn.Resource(resources["Deployment"]).Namespace(d.GetNamespace()).Get(ctx, d.GetName(), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pods, err := blocker.Lister{Dynamic: dyn}.Itemize(ctx, live)
	if err != nil {
		t.Fatal(err)
	}
	if len(pods) != 2 {
		t.Fatalf("want a reason for each of the 2 pods, got %+v", pods)
	}
	for _, p := range pods {
		if !strings.HasPrefix(p.Object, "Pod t-why-pods/fleet-") || p.Code != blocker.FailedScheduling || p.Summary != "not scheduled" || !strings.Contains(p.Message, "Insufficient memory") ||
			!strings.Contains(p.Hint, "memory requests") {
			t.Errorf("pod reason: %+v", p)
		}
	}
}

// A namespace held by a finalizer on something in it says so while it
// is deleted.
func TestClusterTerminatingNamespace(t *testing.T) {
	dyn := client(t)
	ns := "t-why-terminating"
	cms := schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}
	resources["ConfigMap"] = cms
	create(t, dyn, ns, `apiVersion: v1
kind: ConfigMap
metadata: {name: held, finalizers: [example.com/hold]}
data: {a: b}`)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _ = dyn.Resource(cms).Namespace(ns).Patch(ctx, "held", "application/merge-patch+json", []byte(`{"metadata":{"finalizers":null}}`), metav1.PatchOptions{})
	})
	if err := dyn.Resource(resources["Namespace"]).Delete(ctx, ns, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	l := blocker.Lister{Dynamic: dyn}
	deadline := time.Now().Add(90 * time.Second)
	var last []blocker.Reason
	for time.Now().Before(deadline) {
		live, err := dyn.Resource(resources["Namespace"]).Get(ctx, ns, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		out, err := l.Explain(ctx, []*unstructured.Unstructured{live})
		if err != nil {
			t.Fatal(err)
		}
		if last = out[0]; len(last) == 1 && strings.Contains(last[0].Message, "example.com/hold") {
			if *record {
				save(t, dyn, live)
			}
			r := last[0]
			if r.Code != blocker.Terminating || r.Object != "Namespace "+ns || !strings.Contains(r.Hint, "kubectl get namespace "+ns+" -o yaml") {
				t.Errorf("reason: %+v", r)
			}
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("no reason naming the finalizer within 90s; last: %+v", last)
}
