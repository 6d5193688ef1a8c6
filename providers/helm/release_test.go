package helm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zclconf/go-cty/cty"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"labs.dev/lab/lab/resource"
	"labs.dev/lab/providers/helm/wire"
)

// labDir makes a lab directory holding a copy of charts/fleet.
func labDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	copyTree(t, "../../charts/fleet", filepath.Join(dir, "charts", "fleet"))
	return dir
}

// harness drives one helm_release through the Kind contract, as the engine
// would, recording state between calls.
type harness struct {
	t      *testing.T
	env    resource.Env
	addr   resource.Addr
	prior  cty.Value
	cs     *kubernetes.Clientset
	ns     string
	mu     sync.Mutex
	events []string
	attrs  map[string]cty.Value
}

func newHarness(t *testing.T, ns string) *harness {
	kc, kctx, cfg := cluster(t)
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	dir := labDir(t)
	h := &harness{t: t, cs: cs, ns: ns, prior: cty.NilVal, addr: resource.Addr{Type: "helm_release", Name: ns}}
	h.env = env(dir)
	h.env.StateDir = filepath.Join(dir, ".lab")
	h.env.Progress = func(p resource.Progress) {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.events = append(h.events, p.Msg)
	}
	h.attrs = map[string]cty.Value{
		"name":             cty.StringVal("fleet"),
		"chart":            cty.StringVal("charts/fleet"),
		"namespace":        cty.StringVal(ns),
		"create_namespace": cty.True,
		"values":           cty.ObjectVal(map[string]cty.Value{"replicas": cty.NumberIntVal(2)}),
		"kubeconfig":       cty.StringVal(kc),
		"context":          cty.StringVal(kctx),
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_ = Release().Delete(ctx, resource.DeleteRequest{Env: h.env, Addr: h.addr, Prior: h.config()})
		_ = cs.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{})
	})
	return h
}

func (h *harness) config() cty.Value { return config(h.t, h.attrs) }

func (h *harness) ctx() context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	h.t.Cleanup(cancel)
	return ctx
}

func (h *harness) plan() *resource.Change {
	h.t.Helper()
	c, err := Release().Plan(h.ctx(), resource.PlanRequest{Env: h.env, Addr: h.addr, Config: h.config(), Prior: h.prior})
	if err != nil {
		h.t.Fatalf("plan: %v", err)
	}
	return c
}

func (h *harness) apply(c *resource.Change) (cty.Value, error) {
	h.t.Helper()
	v, err := Release().Apply(h.ctx(), resource.ApplyRequest{Env: h.env, Addr: h.addr, Config: h.config(), Prior: h.prior, Change: c})
	if err == nil {
		h.prior = v
	}
	return v, err
}

func (h *harness) mustApply(c *resource.Change) cty.Value {
	h.t.Helper()
	v, err := h.apply(c)
	if err != nil {
		h.t.Fatalf("apply: %v", err)
	}
	return v
}

func fields(c *resource.Change) string {
	var b strings.Builder
	for _, f := range c.Fields {
		b.WriteString(f.Path + ": " + f.Old + " → " + f.New + "\n")
	}
	return b.String()
}

func TestReleaseLifecycle(t *testing.T) {
	h := newHarness(t, "helm-lifecycle")
	deps := h.cs.AppsV1().Deployments(h.ns)

	c := h.plan()
	if c.Action != resource.Create || c.Drift {
		t.Fatalf("fresh plan: %+v", c)
	}
	start := time.Now()
	v := h.mustApply(c)
	t.Logf("install + wait: %v", time.Since(start))
	if v.GetAttr("status").AsString() != "deployed" || v.GetAttr("chart_version").AsString() != "0.1.0" || !v.GetAttr("revision").RawEquals(cty.NumberIntVal(1)) {
		t.Fatalf("apply result: %#v", v)
	}
	dep, err := deps.Get(h.ctx(), "fleet", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if dep.Status.ReadyReplicas != 2 {
		t.Errorf("ready replicas after a waited install = %d, want 2", dep.Status.ReadyReplicas)
	}
	if !h.env.Owner.Owns(dep.Labels) || dep.Annotations[resource.AnnotationResource] != h.addr.String() || dep.Annotations[resource.AnnotationFile] != h.env.File {
		t.Errorf("deployment lacks lab's ownership: labels %v annotations %v", dep.Labels, dep.Annotations)
	}
	svc, err := h.cs.CoreV1().Services(h.ns).Get(h.ctx(), "fleet", metav1.GetOptions{})
	if err != nil || !h.env.Owner.Owns(svc.Labels) {
		t.Errorf("service: %v %v", err, svc.Labels)
	}
	if !strings.Contains(strings.Join(h.events, "\n"), "waiting for 2 resources to be ready") {
		t.Errorf("no wait progress in %q", h.events)
	}

	if c := h.plan(); c.Action != resource.NoOp {
		t.Fatalf("plan after install: %+v\n%s", c, fields(c))
	}

	// A learner deletes the Deployment.
	if err := deps.Delete(h.ctx(), "fleet", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitGone(t, h, "fleet")
	c = h.plan()
	want := "Deployment " + h.ns + "/fleet: deleted outside lab → recreated\n"
	if c.Action != resource.Update || !c.Drift || fields(c) != want {
		t.Fatalf("plan after kubectl delete: %+v\n%s", c, fields(c))
	}
	v = h.mustApply(c)
	if dep, err := deps.Get(h.ctx(), "fleet", metav1.GetOptions{}); err != nil || dep.Status.ReadyReplicas != 2 {
		t.Fatalf("after repair: %v %+v", err, dep)
	}
	if c := h.plan(); c.Action != resource.NoOp {
		t.Fatalf("plan after repair: %+v\n%s", c, fields(c))
	}

	// The author changes the values.
	h.attrs["values"] = cty.ObjectVal(map[string]cty.Value{"replicas": cty.NumberIntVal(3)})
	c = h.plan()
	if c.Action != resource.Update || c.Drift || fields(c) != "values.replicas: 2 → 3\n" {
		t.Fatalf("plan after values change: %+v\n%s", c, fields(c))
	}
	v = h.mustApply(c)
	if !v.GetAttr("revision").RawEquals(cty.NumberIntVal(3)) {
		t.Errorf("revision = %#v, want 3", v.GetAttr("revision"))
	}
	if dep, err := deps.Get(h.ctx(), "fleet", metav1.GetOptions{}); err != nil || *dep.Spec.Replicas != 3 || dep.Status.ReadyReplicas != 3 {
		t.Fatalf("after upgrade: %v %+v", err, dep.Status)
	}

	// A learner scales it by hand.
	patch := []byte(`{"spec":{"replicas":5}}`)
	if _, err := deps.Patch(h.ctx(), "fleet", types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	c = h.plan()
	want = "Deployment " + h.ns + "/fleet spec.replicas: 5 → 3\n"
	if c.Action != resource.Update || !c.Drift || fields(c) != want {
		t.Fatalf("plan after kubectl scale: %+v\n%s", c, fields(c))
	}
	h.mustApply(c)
	if dep, err := deps.Get(h.ctx(), "fleet", metav1.GetOptions{}); err != nil || *dep.Spec.Replicas != 3 {
		t.Fatalf("after repair of scale: %v %+v", err, dep.Spec.Replicas)
	}
	if c := h.plan(); c.Action != resource.NoOp {
		t.Fatalf("plan after repair of scale: %+v\n%s", c, fields(c))
	}

	// Only lab's state changes: no helm upgrade.
	h.attrs["timeout"] = cty.StringVal("2m")
	c = h.plan()
	if c.Action != resource.Update || fields(c) != "timeout: 5m → 2m\n" {
		t.Fatalf("plan after timeout change: %+v\n%s", c, fields(c))
	}
	if v := h.mustApply(c); !v.GetAttr("revision").RawEquals(cty.NumberIntVal(4)) || v.GetAttr("timeout").AsString() != "2m" {
		t.Fatalf("state-only apply: %#v", v)
	}

	// Delete uninstalls and leaves nothing of the release.
	if err := Release().Delete(h.ctx(), resource.DeleteRequest{Env: h.env, Addr: h.addr, Prior: h.prior}); err != nil {
		t.Fatal(err)
	}
	if _, err := deps.Get(h.ctx(), "fleet", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("deployment after delete: %v", err)
	}
	if _, err := h.cs.CoreV1().Services(h.ns).Get(h.ctx(), "fleet", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("service after delete: %v", err)
	}
	secrets, err := h.cs.CoreV1().Secrets(h.ns).List(h.ctx(), metav1.ListOptions{LabelSelector: "owner=helm,name=fleet"})
	if err != nil || len(secrets.Items) != 0 {
		t.Errorf("helm release records after delete: %v %d", err, len(secrets.Items))
	}
	if _, err := h.cs.CoreV1().Namespaces().Get(h.ctx(), h.ns, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("namespace made by create_namespace left after delete: %v", err)
	}
	if err := Release().Delete(h.ctx(), resource.DeleteRequest{Env: h.env, Addr: h.addr, Prior: h.prior}); err != nil {
		t.Errorf("second delete: %v", err)
	}
	c = h.plan()
	if c.Action != resource.Create || !c.Drift || c.Reason != "deleted outside lab" {
		t.Errorf("plan after uninstall with state: %+v", c)
	}
}

// create_namespace on a namespace that already exists: delete leaves it.
func TestDeleteKeepsNamespaceItDidNotCreate(t *testing.T) {
	h := newHarness(t, "helm-ownns")
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: h.ns}}
	if _, err := h.cs.CoreV1().Namespaces().Create(h.ctx(), ns, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	h.mustApply(h.plan())
	if err := Release().Delete(h.ctx(), resource.DeleteRequest{Env: h.env, Addr: h.addr, Prior: h.prior}); err != nil {
		t.Fatal(err)
	}
	got, err := h.cs.CoreV1().Namespaces().Get(h.ctx(), h.ns, metav1.GetOptions{})
	if err != nil || got.DeletionTimestamp != nil {
		t.Fatalf("namespace lab did not create was deleted: %v %v", err, got.DeletionTimestamp)
	}
}

func waitGone(t *testing.T, h *harness, name string) {
	t.Helper()
	for i := 0; i < 100; i++ {
		if _, err := h.cs.AppsV1().Deployments(h.ns).Get(h.ctx(), name, metav1.GetOptions{}); apierrors.IsNotFound(err) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("deployment %s not gone", name)
}

// An install that cannot become ready fails with what to do, and leaves no
// release behind, so the next apply installs afresh.
func TestFailedInstallIsUninstalled(t *testing.T) {
	h := newHarness(t, "helm-unready")
	h.attrs["timeout"] = cty.StringVal("3s")
	h.attrs["values"] = cty.ObjectVal(map[string]cty.Value{
		"nodeSelector": cty.ObjectVal(map[string]cty.Value{"lab.dev/no-such-node": cty.StringVal("x")}),
	})
	_, err := h.apply(h.plan())
	t.Log(err)
	if err == nil || !strings.Contains(err.Error(), `install of helm release "fleet" in namespace "helm-unready" failed`) || !strings.Contains(err.Error(), "timeout of 3s") || !strings.Contains(err.Error(), "uninstalled") {
		t.Fatalf("err = %v", err)
	}
	if c := h.plan(); c.Action != resource.Create {
		t.Fatalf("plan after failed install: %+v", c)
	}
	if _, err := h.cs.AppsV1().Deployments(h.ns).Get(h.ctx(), "fleet", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("deployment left behind: %v", err)
	}
}

// A release whose pods cannot be scheduled says so while it waits, and
// its timeout error names the object, the scheduler's reason and what to
// do. The test waits for the timeout; it does not time the reason.
func TestReleaseWaitSaysWhy(t *testing.T) {
	h := newHarness(t, "helm-why")
	h.attrs["timeout"] = cty.StringVal("15s")
	h.attrs["values"] = cty.ObjectVal(map[string]cty.Value{
		"resources": cty.ObjectVal(map[string]cty.Value{"requests": cty.ObjectVal(map[string]cty.Value{"cpu": cty.StringVal("64")})}),
	})
	var mu sync.Mutex
	var blocked []resource.Progress
	began := time.Now()
	h.env.Progress = func(p resource.Progress) {
		if p.Blocked != nil {
			mu.Lock()
			blocked = append(blocked, p)
			mu.Unlock()
			t.Logf("%.1fs: %s", time.Since(began).Seconds(), p.Msg)
		}
	}
	_, err := h.apply(h.plan())
	var be *resource.BlockedError
	if !errors.As(err, &be) || be.Blocked.Group != "pods could not be scheduled (Insufficient cpu)" {
		t.Fatalf("err = %v, want one naming the reason", err)
	}
	want := "helm_release.helm-why: Deployment helm-why/fleet: 0 of 2 pods scheduled: 0/1 nodes are available: 1 Insufficient cpu — lower the chart's CPU requests or add nodes\n" +
		`install of helm release "fleet" in namespace "helm-why" failed: not ready within the timeout of 15s (the partial release was uninstalled, so the next apply starts clean)`
	if err.Error() != want {
		t.Errorf("err:\n%s\nwant:\n%s", err, want)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(blocked) == 0 || blocked[0].Blocked.Reason != "FailedScheduling" || !strings.Contains(blocked[0].Msg, "resources ready: Deployment helm-why/fleet: 0 of 2 pods scheduled: 0/1 nodes are available: 1 Insufficient cpu") {
		t.Fatalf("no progress named the reason while the release waited: %+v", blocked)
	}
}

// A template error names the template file and line, as helm reports it,
// and is found by plan (which renders the chart), not halfway into apply.
func TestTemplateErrorOnPlan(t *testing.T) {
	h := newHarness(t, "helm-badtpl")
	tpl := filepath.Join(h.env.Dir, "charts", "fleet", "templates", "service.yaml")
	b, _ := os.ReadFile(tpl)
	os.WriteFile(tpl, bytes.Replace(b, []byte("{{ .Values.service.type }}"), []byte("{{ .Values.service.type | nosuch }}"), 1), 0o644)
	_, err := Release().Plan(h.ctx(), resource.PlanRequest{Env: h.env, Addr: h.addr, Config: h.config(), Prior: h.prior})
	t.Log(err)
	if err == nil || !strings.Contains(err.Error(), "fleet/templates/service.yaml:8") || !strings.Contains(err.Error(), "helm_release.helm-badtpl") {
		t.Fatalf("err = %v", err)
	}
}

// The worker's process start, the price of keeping helm out of lab.
func BenchmarkWorkerStart(b *testing.B) {
	needWorker(b)
	bin, err := workerPath()
	if err != nil {
		b.Fatal(err)
	}
	in := []byte(`{"version":1,"op":"none","name":"a","namespace":"b"}`)
	for b.Loop() {
		cmd := exec.Command(bin)
		cmd.Stdin = bytes.NewReader(in)
		out, err := cmd.Output()
		if err != nil || !bytes.Contains(out, []byte("unknown operation")) {
			b.Fatalf("%v %s", err, out)
		}
	}
}

func copyTree(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.Walk(from, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		dst := filepath.Join(to, rel)
		if fi.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// lab-helm killed with SIGKILL while waiting (kill -9 of lab, a closed
// laptop): the release is left pending, the next plan says so, and apply
// converges.
func TestKilledWorkerConverges(t *testing.T) {
	h := newHarness(t, "helm-killed")
	h.attrs["values"] = cty.ObjectVal(map[string]cty.Value{
		"nodeSelector": cty.ObjectVal(map[string]cty.Value{"lab.dev/no-such-node": cty.StringVal("x")}),
	})
	a, err := parseArgs(h.env, resource.Connection{}, h.config())
	if err != nil {
		t.Fatal(err)
	}
	in, _ := json.Marshal(a.request(h.env, h.addr, wire.OpApply))
	bin, err := workerPath()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin)
	cmd.Stdin = bytes.NewReader(in)
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		if strings.Contains(stderr.String(), "resources ready") {
			break
		}
		if i > 200 {
			cmd.Process.Kill()
			t.Fatalf("worker never started waiting: %s", stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	cmd.Process.Kill()
	cmd.Wait()

	h.prior = config(t, h.attrs)
	c := h.plan()
	if c.Action != resource.Update || !strings.Contains(c.Reason, "pending-install") {
		t.Fatalf("plan after kill: %+v", c)
	}
	h.attrs["values"] = cty.ObjectVal(map[string]cty.Value{"replicas": cty.NumberIntVal(1)})
	v := h.mustApply(h.plan())
	if v.GetAttr("status").AsString() != "deployed" {
		t.Fatalf("after apply: %#v", v)
	}
	if c := h.plan(); c.Action != resource.NoOp {
		t.Fatalf("plan after recovery: %+v\n%s", c, fields(c))
	}
}

// lockedBuffer is written by exec's copying goroutine and read by the test.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// helm's record deleted by hand (kubectl delete secrets --all): the
// objects are lab's, so apply takes them over instead of failing forever.
func TestLostHelmRecordConverges(t *testing.T) {
	h := newHarness(t, "helm-lostrecord")
	h.mustApply(h.plan())
	if err := h.cs.CoreV1().Secrets(h.ns).DeleteCollection(h.ctx(), metav1.DeleteOptions{}, metav1.ListOptions{LabelSelector: "owner=helm"}); err != nil {
		t.Fatal(err)
	}
	c := h.plan()
	if c.Action != resource.Create || !c.Drift {
		t.Fatalf("plan after losing the record: %+v", c)
	}
	h.mustApply(c)
	if c := h.plan(); c.Action != resource.NoOp {
		t.Fatalf("plan after adoption: %+v\n%s", c, fields(c))
	}

	// Someone else's object in the way is refused.
	if err := h.cs.CoreV1().Secrets(h.ns).DeleteCollection(h.ctx(), metav1.DeleteOptions{}, metav1.ListOptions{LabelSelector: "owner=helm"}); err != nil {
		t.Fatal(err)
	}
	patch := []byte(`{"metadata":{"annotations":{"lab.dev/resource":"helm_release.other"}}}`)
	if _, err := h.cs.CoreV1().Services(h.ns).Patch(h.ctx(), "fleet", types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err := h.apply(h.plan())
	if err == nil || !strings.Contains(err.Error(), "lab installs only over objects it made for this resource; delete Service "+h.ns+"/fleet") {
		t.Fatalf("err = %v", err)
	}
}

// A release not in state is recorded when lab installed it (a renamed
// block, a lost state file) and refused when someone else did: taking
// it over would make lab down uninstall it.
func TestReleaseNotInState(t *testing.T) {
	h := newHarness(t, "helm-notinstate")
	h.mustApply(h.plan())
	h.prior = cty.NilVal
	c := h.plan()
	if c.Action != resource.Update || c.Reason != "release exists, installed by lab; lab records it again" {
		t.Fatalf("plan of lab's release not in state: %+v", c)
	}
	// Make the record look installed by plain helm: no lab digest label.
	secrets, err := h.cs.CoreV1().Secrets(h.ns).List(h.ctx(), metav1.ListOptions{LabelSelector: "owner=helm"})
	if err != nil || len(secrets.Items) == 0 {
		t.Fatalf("release records: %v (%d)", err, len(secrets.Items))
	}
	for _, s := range secrets.Items {
		patch := []byte(`{"metadata":{"labels":{"` + wire.LabelChartDigest + `":null}}}`)
		if _, err := h.cs.CoreV1().Secrets(h.ns).Patch(h.ctx(), s.Name, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	_, err = Release().Plan(h.ctx(), resource.PlanRequest{Env: h.env, Addr: h.addr, Config: h.config(), Prior: cty.NilVal})
	if err == nil || !strings.Contains(err.Error(), "was not installed by lab, so lab will not take it over") {
		t.Fatalf("plan of someone else's release: %v", err)
	}
}
