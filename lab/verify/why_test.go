package verify_test

import (
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	authv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	. "labs.dev/lab/lab/verify"
	vt "labs.dev/lab/lab/verify/verifytest"
	"labs.dev/lab/providers/kube/blocker"
)

// whySource is a FakeSource that counts the questions of why.
type whySource struct {
	vt.FakeSource
	mu   sync.Mutex
	asks []ObjectRef
}

func (s *whySource) Why(_ context.Context, ref ObjectRef, _ time.Time) ([]blocker.Reason, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.asks = append(s.asks, ref)
	return []blocker.Reason{{Object: "Pod dev/fleet-abc-a", Code: blocker.FailedScheduling, Summary: "not scheduled",
		Message: "0/1 nodes are available: 1 Insufficient cpu", Hint: "lower the pods' CPU requests or add nodes"}}, nil
}

// Why is asked only for a failed check on a workload's status, once for
// each object: checks that pass, and failures about its spec, read
// nothing more.
func TestWhyOnlyForFailedStatus(t *testing.T) {
	_, labs := vt.ShippedLabs(t)
	src := &whySource{FakeSource: vt.FakeSource{Objs: vt.FleetObjects(3, int64(1))}}
	r := Run(context.Background(), labs, Options{Source: src, Once: true})
	if r.ExitCode() != 0 || len(src.asks) != 0 {
		t.Fatalf("a passing run asked why %d times:\n%s", len(src.asks), text(r))
	}

	objs := vt.FleetObjects(2, int64(1))
	objs[0]["status"].(map[string]any)["availableReplicas"] = int64(0)
	objs[0]["status"].(map[string]any)["updatedReplicas"] = int64(0)
	src = &whySource{FakeSource: vt.FakeSource{Objs: objs}}
	r = Run(context.Background(), labs, Options{Source: src, Once: true})
	if len(src.asks) != 1 {
		t.Fatalf("asked why %d times (%v), want once, for the available check:\n%s", len(src.asks), src.asks, text(r))
	}
	// Two of its asserts fail on the Deployment: the reasons follow both.
	c := vt.Check(t, r, "available")
	if len(c.Failures) != 2 || len(c.Failures[0].Why) != 0 || len(c.Failures[1].Why) != 1 {
		t.Fatalf("available: %+v", c.Failures)
	}
	if c := vt.Check(t, r, "replicas"); c.Status != Failed || len(c.Failures[0].Why) != 0 {
		t.Fatalf("a failure about spec.replicas carries reasons: %+v", c)
	}
	out := text(r)
	want := "      hint: kubectl get pods -n dev shows which pods are not ready; kubectl describe pod <name> -n dev says why (a Pending pod cannot be placed on a node: check nodeSelector, tolerations and resource requests).\n" +
		"      why: Pod dev/fleet-abc-a: not scheduled: 0/1 nodes are available: 1 Insufficient cpu — lower the pods' CPU requests or add nodes\n"
	if !strings.Contains(out, want) {
		t.Fatalf("the reason does not follow the author's message and hint:\n%s", out)
	}
}

func TestWhyTextShowsAFewOfMany(t *testing.T) {
	f := Failure{Message: "0 of 50 replicas are available."}
	for range 50 {
		f.Why = append(f.Why, blocker.Reason{Object: "Pod dev/x", Code: blocker.FailedScheduling})
	}
	r := &Result{Labs: []LabResult{{Name: "l", Checks: []CheckResult{{Name: "available", Status: Failed, Failures: []Failure{f}}}}}, Failed: 1}
	out := text(r)
	if n := strings.Count(out, "why: Pod dev/x"); n != 10 || !strings.Contains(out, "why: and 40 more (lab verify -o json lists them all)") {
		t.Fatalf("%d reasons shown:\n%s", n, out)
	}
}

// fleetWith is the shipped lab's fleet with a change a learner might make.
func fleetWith(change func(string) string) string { return change(vt.FleetSpec{}.YAML()) }

// Each way pods cannot become available on the simulated cluster: the
// failed check lists each pod (or the Deployment) with its reason.
func TestClusterWhyNotAvailable(t *testing.T) {
	e := vt.NewEnv(t)
	_, labs := vt.ShippedLabs(t)
	quotas := schema.GroupVersionResource{Version: "v1", Resource: "resourcequotas"}
	for _, tc := range []struct {
		name  string
		setup func(e *vt.Env)
		check string
		until string // in the reasons, once the cluster has said why
		want  []string
	}{
		{"node selector", func(e *vt.Env) { e.Apply(vt.FleetSpec{NodeSelector: "yes"}.YAML()) }, "available", "affinity/selector", []string{
			"      hint: kubectl get pods -n dev",
			"      why: Pod dev/fleet-",
			": not scheduled: 0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector — no node has the labels the pods' nodeSelector or affinity asks for",
		}},
		{"too much CPU", func(e *vt.Env) {
			e.Apply(fleetWith(func(s string) string {
				return strings.Replace(s, "          image: nginx:1.27\n", "          image: nginx:1.27\n          resources: {requests: {cpu: \"64\"}}\n", 1)
			}))
		}, "available", "Insufficient cpu", []string{"      why: Pod dev/fleet-", ": not scheduled: 0/1 nodes are available: 1 Insufficient cpu — lower the pods' CPU requests or add nodes"}},
		{"paused", func(e *vt.Env) {
			e.Apply(fleetWith(func(s string) string {
				return strings.Replace(s, "spec:\n  replicas:", "spec:\n  paused: true\n  replicas:", 1)
			}))
		}, "available", "rollout paused", []string{"      why: Deployment dev/fleet: rollout paused (spec.paused is true) — resume it: kubectl rollout resume deployment/fleet -n dev"}},
		{"quota", func(e *vt.Env) {
			e.Apply("apiVersion: v1\nkind: ResourceQuota\nmetadata: {name: two-pods, namespace: dev}\nspec: {hard: {pods: \"2\"}}\n")
			e.T.Cleanup(func() {
				_ = e.Client.Dynamic.Resource(quotas).Namespace("dev").Delete(context.Background(), "two-pods", metav1.DeleteOptions{})
			})
			waitQuota(e, quotas)
			e.Apply(vt.FleetSpec{}.YAML())
		}, "available", "exceeded quota", []string{"      why: Deployment dev/fleet: ReplicaSet fleet-", " has 2 of 3 pods and cannot create more: ", "exceeded quota: two-pods",
			"`kubectl describe resourcequota -n dev` shows the quota"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := e.Within(t)
			e.Clean()
			tc.setup(e)
			var r *Result
			// The reason shows once the scheduler or the controller has
			// said it; the test waits for that, it does not time it.
			for deadline := time.Now().Add(60 * time.Second); ; {
				r = verifyOn(e, labs, 2*time.Second)
				if c := vt.Check(t, r, tc.check); c.Status == Failed && len(c.Failures) > 0 && whyHas(c, tc.until) || time.Now().After(deadline) {
					break
				}
			}
			out := text(r)
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
}

func whyHas(c CheckResult, text string) bool {
	for _, f := range c.Failures {
		for _, r := range f.Why {
			if strings.Contains(r.String(), text) {
				return true
			}
		}
	}
	return false
}

// waitQuota waits until the quota controller has counted what the
// namespace holds: until then the quota refuses every pod.
func waitQuota(e *vt.Env, quotas schema.GroupVersionResource) {
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		q, err := e.Client.Dynamic.Resource(quotas).Namespace("dev").Get(context.Background(), "two-pods", metav1.GetOptions{})
		if err == nil {
			if used, ok := q.Object["status"].(map[string]any)["used"]; ok && used != nil {
				return
			}
		}
	}
	e.T.Fatal("the quota controller never counted namespace dev")
}

// A learner bound to the view ClusterRole gets the reasons too: they are
// read with GET and LIST only.
func TestClusterWhyAsView(t *testing.T) {
	e := vt.NewEnv(t)
	_, labs := vt.ShippedLabs(t)
	ctx := context.Background()
	viewDyn, host := viewIdentity(t, e, "why-learner")
	e.Clean()
	e.Apply(vt.FleetSpec{NodeSelector: "yes"}.YAML())
	ro := NewClusterFrom(viewDyn, nil, host, "view")
	var r *Result
	for deadline := time.Now().Add(60 * time.Second); ; {
		r = Run(ctx, labs, Options{Source: ro, Timeout: 2 * time.Second})
		if c := vt.Check(t, r, "available"); whyHas(c, "didn't match Pod's node affinity/selector") || time.Now().After(deadline) {
			break
		}
	}
	if out := text(r); !strings.Contains(out, "why: Pod dev/fleet-") || !strings.Contains(out, "not scheduled: 0/1 nodes are available") {
		t.Fatalf("as view, no reasons:\n%s", out)
	}
}

// viewIdentity is a service account bound only to the view ClusterRole,
// as a dynamic client, once the API server's RBAC cache knows it.
func viewIdentity(t *testing.T, e *vt.Env, name string) (dynamic.Interface, string) {
	t.Helper()
	ctx := context.Background()
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"}}
	if _, err := e.Clientset.CoreV1().ServiceAccounts("default").Create(ctx, sa, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	crb := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: name + "-view"},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "view"},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: name, Namespace: "default"}},
	}
	if _, err := e.Clientset.RbacV1().ClusterRoleBindings().Create(ctx, crb, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	tok, err := e.Clientset.CoreV1().ServiceAccounts("default").CreateToken(ctx, name, &authv1.TokenRequest{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	view := rest.AnonymousClientConfig(e.Client.Config)
	view.BearerToken = tok.Status.Token
	dyn := dynamic.NewForConfigOrDie(view)
	events := schema.GroupVersionResource{Version: "v1", Resource: "events"}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		_, err := dyn.Resource(events).Namespace("dev").List(ctx, metav1.ListOptions{})
		if err == nil {
			return dyn, view.Host
		}
		if !apierrors.IsForbidden(err) || time.Now().After(deadline) {
			t.Fatalf("the view binding never took effect: %v", err)
		}
	}
}

// learnerLabs is a lab with one learner per name, each checked on the
// availability of a Deployment fleet in namespace <name>-dev.
func learnerLabs(t *testing.T, learners []string) []*Lab {
	t.Helper()
	q, _ := json.Marshal(learners)
	path := filepath.Join(t.TempDir(), "labs.hcl")
	vt.Write(t, path, `lab "fleet" {
  for_each = toset(`+string(q)+`)
  check "available" {
    select "fleet" {
      api_version = "apps/v1"
      kind        = "Deployment"
      namespace   = "${each.key}-dev"
      name        = "fleet"
    }
    assert {
      condition     = try(fleet.status.availableReplicas, 0) >= fleet.spec.replicas
      error_message = "${actual} of ${fleet.spec.replicas} replicas are available."
    }
  }
}
`)
	_, labs := vt.LoadLabs(t, path)
	if len(labs) != len(learners) {
		t.Fatalf("%d labs for %d learners", len(labs), len(learners))
	}
	return labs
}

// requestLog records the path of each request a client sends.
type requestLog struct {
	mu    sync.Mutex
	paths []string
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func (l *requestLog) wrap(rt http.RoundTripper) http.RoundTripper {
	return roundTripFunc(func(r *http.Request) (*http.Response, error) {
		l.mu.Lock()
		l.paths = append(l.paths, r.Method+" "+r.URL.Path)
		l.mu.Unlock()
		return rt.RoundTrip(r)
	})
}

// countedRun runs labs once, as lab verify --all-learners does (or per
// namespace, when all is false), and returns the requests it sent.
func countedRun(t *testing.T, e *vt.Env, labs []*Lab, all bool) (*Result, []string) {
	t.Helper()
	log := &requestLog{}
	cfg := rest.CopyConfig(e.Client.Config)
	cfg.Wrap(log.wrap)
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	src := NewClusterFrom(dyn, nil, cfg.Host, e.Context)
	src.AllNamespaces = all
	r := Run(context.Background(), labs, Options{Source: src, Once: true})
	sort.Strings(log.paths)
	return r, log.paths
}

// With --all-learners, why learners' workloads are not available costs
// one cluster-wide LIST each of pods, ReplicaSets and warning events per
// round, and the workload itself comes from its check's listing: the
// same requests for one failing learner as for three, each failure
// still with its own reasons.
func TestClusterAllNamespacesWhyReadsOncePerRound(t *testing.T) {
	e := vt.NewEnv(t)
	ctx := context.Background()
	learners := []string{"w1", "w2", "w3"}
	for _, l := range learners {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: l + "-dev"}}
		if _, err := e.Clientset.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_ = e.Clientset.CoreV1().Namespaces().Delete(context.Background(), ns.Name, metav1.DeleteOptions{})
		})
		e.Apply(vt.FleetSpec{Namespace: ns.Name, NodeSelector: "yes"}.YAML())
	}
	const mismatch = "didn't match Pod's node affinity/selector"
	sent := map[int][]string{}
	for _, n := range []int{1, 3} {
		labs := learnerLabs(t, learners[:n])
		var r *Result
		// The reason shows once the scheduler has tried each pod; the
		// test waits for that, it does not time it.
		for deadline := time.Now().Add(60 * time.Second); ; {
			r, sent[n] = countedRun(t, e, labs, true)
			explained := 0
			for _, l := range r.Labs {
				if whyHas(l.Checks[0], mismatch) {
					explained++
				}
			}
			if explained == n || time.Now().After(deadline) {
				break
			}
		}
		for i, l := range r.Labs {
			c := l.Checks[0]
			pod := "Pod " + learners[i] + "-dev/fleet-"
			if c.Status != Failed || !whyHas(c, mismatch) || !whyHas(c, pod) {
				t.Errorf("%s: %s, want failed with %q of %s…:\n%s", l.Name, c.Status, mismatch, pod, text(r))
			}
		}
	}
	want := []string{"GET /api/v1/events", "GET /api/v1/pods", "GET /apis/apps/v1/deployments", "GET /apis/apps/v1/replicasets"}
	for _, n := range []int{1, 3} {
		if !slices.Equal(sent[n], want) {
			t.Errorf("%d failing learner(s): %d requests %v, want %d: %v", n, len(sent[n]), sent[n], len(want), want)
		}
	}
	// For the record: one namespace at a time, the same round reads per
	// learner.
	_, each := countedRun(t, e, learnerLabs(t, learners), false)
	t.Logf("requests for 1 and 3 failing learners across all namespaces: %d and %d; namespace by namespace, for 3: %d", len(sent[1]), len(sent[3]), len(each))
}
