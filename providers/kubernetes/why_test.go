package kubernetes

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zclconf/go-cty/cty"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"labs.dev/lab/lab/resource"
	"labs.dev/lab/providers/kube"
)

var resourcequotas = schema.GroupVersionResource{Version: "v1", Resource: "resourcequotas"}

// watchApply applies cfg in the background, recording its progress, until
// stop says so (then it cancels the apply) or the apply ends. It returns
// the reports and the apply's error. Tests wait on the reports
// themselves, with a generous deadline; they do not time them.
func watchApply(t *testing.T, f *fixture, cfg cty.Value, stop func(resource.Progress) bool) ([]resource.Progress, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var mu sync.Mutex
	var seen []resource.Progress
	env := f.env
	began := time.Now()
	env.Progress = func(p resource.Progress) {
		mu.Lock()
		seen = append(seen, p)
		mu.Unlock()
		if p.Blocked != nil {
			t.Logf("%.1fs: %s (stalled %v)", time.Since(began).Seconds(), p.Msg, p.Stalled)
		}
		if stop != nil && stop(p) {
			cancel()
		}
	}
	ch := f.plan(cfg)
	_, err := f.kind.Apply(ctx, resource.ApplyRequest{Env: env, Addr: f.addr, Config: cfg, Change: ch})
	mu.Lock()
	defer mu.Unlock()
	return seen, err
}

func blockedBy(reason, text string) func(resource.Progress) bool {
	return func(p resource.Progress) bool {
		return p.Blocked != nil && p.Blocked.Reason == reason && strings.Contains(p.Blocked.String(), text)
	}
}

// prepare makes namespace ns (and what else the test needs first) the
// way a learner or another resource would, and removes it afterwards.
func prepare(f *fixture, ns string, docs ...string) {
	f.create(namespaces, nsDoc(ns))
	f.t.Cleanup(func() {
		f.remove(namespaces, "", ns)
	})
	for _, d := range docs {
		f.create(resourcequotas, d)
	}
}

const why = `apiVersion: apps/v1
kind: Deployment
metadata: {name: fleet}
spec:
  replicas: REPLICAS
  selector: {matchLabels: {app: fleet}}
  template:
    metadata: {labels: {app: fleet}}
    spec:
      containers:
      - name: app
        image: registry.example/fleet:1.0
`

func whyDeployment(replicas, extra string) string {
	return strings.Replace(why, "REPLICAS", replicas, 1) + extra
}

// A Deployment asking for more CPU than the node has: the progress names
// it, says once that it stalled, and the timeout error names it too.
func TestManifestWaitSaysWhyInsufficientCPU(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Manifest(kube.NewConnections()), "cpu")
	ns := "t-why-mf-cpu"
	prepare(f, ns)
	content := whyDeployment("2", `        resources: {requests: {cpu: "64"}}
`)
	cfg := mfConfig(f, content, "namespace", cty.StringVal(ns), "timeout", cty.StringVal("5m"))
	stalled := func(p resource.Progress) bool { return p.Stalled }
	seen, err := watchApply(t, f, cfg, stalled)
	if err == nil || !strings.Contains(err.Error(), "stopped waiting") {
		t.Fatalf("the apply ended %v, not by being stopped after the stall", err)
	}
	var first, stalls int
	for i, p := range seen {
		if first == 0 && blockedBy("FailedScheduling", "Insufficient cpu")(p) {
			first = i + 1
		}
		if p.Stalled {
			stalls++
			if p.Blocked == nil || !strings.Contains(p.Msg, "no progress for 30s: Deployment t-why-mf-cpu/fleet: 0 of 2 pods scheduled: 0/1 nodes are available: 1 Insufficient cpu") {
				t.Errorf("stall report: %+v", p)
			}
		}
	}
	if first == 0 || first > len(seen)-1 {
		t.Fatalf("no progress report named Insufficient cpu before the stall: %+v", seen)
	}
	if stalls != 1 {
		t.Errorf("%d stall reports, want 1", stalls)
	}

	// The pods stay unschedulable: a wait that times out names why.
	cfg = mfConfig(f, content, "namespace", cty.StringVal(ns), "timeout", cty.StringVal("2s"))
	_, err = watchApply(t, f, cfg, nil)
	var be *resource.BlockedError
	if !errors.As(err, &be) || be.Blocked.Group != "pods could not be scheduled (Insufficient cpu)" {
		t.Fatalf("timeout error %v does not carry the reason", err)
	}
	want := "manifest.cpu: Deployment t-why-mf-cpu/fleet (document 1 (line 1)): 0 of 2 pods scheduled: 0/1 nodes are available: 1 Insufficient cpu — lower the pods' CPU requests or add nodes\n" +
		"(not ready after the timeout of 2s; raise timeout, or set wait = false to not wait)"
	if err.Error() != want {
		t.Errorf("timeout error:\n%s\nwant:\n%s", err, want)
	}
}

func TestManifestWaitSaysWhy(t *testing.T) {
	for _, tc := range []struct {
		name, ns, reason, text string
		quota, content         string
		timeoutErr             string
	}{
		{
			name: "selector", ns: "t-why-mf-selector", reason: "FailedScheduling", text: "didn't match Pod's node affinity/selector",
			content:    whyDeployment("1", "      nodeSelector: {disktype: ssd}\n"),
			timeoutErr: "manifest.selector: Deployment t-why-mf-selector/fleet (document 1 (line 1)): 0 of 1 pods scheduled: 0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector — no node has the labels",
		},
		{
			name: "quota", ns: "t-why-mf-quota", reason: "QuotaExceeded", text: "exceeded quota: pods",
			quota:      "apiVersion: v1\nkind: ResourceQuota\nmetadata: {name: pods, namespace: t-why-mf-quota}\nspec: {hard: {pods: \"1\"}}\n",
			content:    whyDeployment("3", ""),
			timeoutErr: "manifest.quota: Deployment t-why-mf-quota/fleet (document 1 (line 1)): ReplicaSet fleet-",
		},
		{
			name: "paused", ns: "t-why-mf-paused", reason: "Paused", text: "rollout paused",
			content:    strings.Replace(whyDeployment("2", ""), "spec:\n  replicas", "spec:\n  paused: true\n  replicas", 1),
			timeoutErr: "manifest.paused: Deployment t-why-mf-paused/fleet (document 1 (line 1)): rollout paused (spec.paused is true) — resume it: kubectl rollout resume deployment/fleet -n t-why-mf-paused\n",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, Manifest(kube.NewConnections()), tc.name)
			if tc.quota != "" {
				prepare(f, tc.ns, tc.quota)
			} else {
				prepare(f, tc.ns)
			}
			cfg := mfConfig(f, tc.content, "namespace", cty.StringVal(tc.ns), "timeout", cty.StringVal("5m"))
			seen, err := watchApply(t, f, cfg, blockedBy(tc.reason, tc.text))
			if err == nil || !strings.Contains(err.Error(), "stopped waiting") {
				t.Fatalf("the apply ended %v, not by being stopped once the reason showed (reports: %+v)", err, seen)
			}
			cfg = mfConfig(f, tc.content, "namespace", cty.StringVal(tc.ns), "timeout", cty.StringVal("2s"))
			_, err = watchApply(t, f, cfg, nil)
			var be *resource.BlockedError
			if !errors.As(err, &be) || be.Blocked.Reason != tc.reason || !strings.HasPrefix(err.Error(), tc.timeoutErr) {
				t.Fatalf("timeout error:\n%v\nwant it to begin:\n%s", err, tc.timeoutErr)
			}
		})
	}
}

// A namespace held by a finalizer says what holds it while lab waits for
// it to go.
func TestNamespaceWaitSaysWhy(t *testing.T) {
	f := newFixture(t, Namespace(kube.NewConnections()), "held")
	name := "t-why-ns-held"
	cfg := f.config(map[string]cty.Value{"name": cty.StringVal(name)})
	f.up(cfg)
	f.create(configmaps, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: held, namespace: "+name+", finalizers: [example.com/hold]}\n")
	t.Cleanup(func() {
		_, _ = f.dyn.Resource(configmaps).Namespace(name).Patch(context.Background(), "held", "application/merge-patch+json", []byte(`{"metadata":{"finalizers":null}}`), metav1.PatchOptions{})
		f.waitAbsent(namespaces, "", name)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	env := f.env
	var seen []resource.Progress
	env.Progress = func(p resource.Progress) {
		seen = append(seen, p)
		if p.Blocked != nil && strings.Contains(p.Blocked.Message, "example.com/hold") {
			cancel()
		}
	}
	err := f.kind.Delete(ctx, resource.DeleteRequest{Env: env, Addr: f.addr, Prior: f.state})
	var be *resource.BlockedError
	if !errors.As(err, &be) || be.Blocked.Reason != "Terminating" || !strings.Contains(err.Error(), "finalizers remaining: example.com/hold") {
		t.Fatalf("delete ended with %v; reports: %+v", err, seen)
	}
}
