package verify

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	authv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"labs.dev/lab/internal/testcluster"
	"labs.dev/lab/lab/resource"
)

func TestMain(m *testing.M) { os.Exit(testcluster.Main(m)) }

// fleetSpec is one way a learner might write the Deployment.
type fleetSpec struct {
	Namespace    string
	Replicas     int
	Strategy     string // YAML under spec.strategy, indented 4
	Labels       string // the app label value
	Image        string
	NodeSelector string // a node label value nobody has, to leave pods Pending
}

func (f fleetSpec) yaml() string {
	if f.Namespace == "" {
		f.Namespace = "dev"
	}
	if f.Replicas == 0 {
		f.Replicas = 3
	}
	if f.Strategy == "" {
		f.Strategy = "type: RollingUpdate\n    rollingUpdate:\n      maxSurge: 1"
	}
	if f.Labels == "" {
		f.Labels = "fleet"
	}
	if f.Image == "" {
		f.Image = "nginx:1.27"
	}
	ns := ""
	if f.NodeSelector != "" {
		ns = "\n      nodeSelector:\n        lab.dev/nowhere: \"" + f.NodeSelector + "\""
	}
	return fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: fleet
  namespace: %s
spec:
  replicas: %d
  selector:
    matchLabels:
      app: %s
  strategy:
    %s
  template:
    metadata:
      labels:
        app: %s
    spec:%s
      containers:
        - name: web
          image: %s
`, f.Namespace, f.Replicas, f.Labels, f.Strategy, f.Labels, ns, f.Image)
}

type env struct {
	t   *testing.T
	cfg *rest.Config
	cl  *Cluster
	dyn dynamic.Interface
	cs  kubernetes.Interface
}

func newEnv(t *testing.T) *env {
	c := testcluster.Get(t)
	dyn, err := dynamic.NewForConfig(c.Config)
	if err != nil {
		t.Fatal(err)
	}
	cs := kubernetes.NewForConfigOrDie(c.Config)
	e := &env{t: t, cfg: c.Config, dyn: dyn, cs: cs, cl: NewClusterFrom(dyn, nil, c.Config.Host, c.Context)}
	for _, ns := range []string{"dev", "other"} {
		_, err := cs.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatal(err)
		}
	}
	e.clean()
	t.Cleanup(e.clean)
	return e
}

func (e *env) apply(doc string) {
	e.t.Helper()
	path := filepath.Join(e.t.TempDir(), "obj.yaml")
	write(e.t, path, doc)
	objs, err := readManifests(path, "dev")
	if err != nil {
		e.t.Fatal(err)
	}
	for _, o := range objs {
		if err := e.cl.apply(context.Background(), o); err != nil {
			e.t.Fatal(err)
		}
	}
}

// clean removes every workload in dev and default the tests make, and
// waits until the pods are gone.
func (e *env) clean() {
	ctx := context.Background()
	bg := metav1.DeletePropagationBackground
	for _, ns := range []string{"dev", "default", "other"} {
		_ = e.cs.AppsV1().Deployments(ns).DeleteCollection(ctx, metav1.DeleteOptions{PropagationPolicy: &bg}, metav1.ListOptions{})
		_ = e.cs.AppsV1().ReplicaSets(ns).DeleteCollection(ctx, metav1.DeleteOptions{PropagationPolicy: &bg}, metav1.ListOptions{})
		_ = e.cs.CoreV1().Pods(ns).DeleteCollection(ctx, metav1.DeleteOptions{GracePeriodSeconds: new(int64)}, metav1.ListOptions{})
		_ = e.cs.CoreV1().ConfigMaps(ns).DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{FieldSelector: "metadata.name!=kube-root-ca.crt"})
	}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		n := 0
		for _, ns := range []string{"dev", "default", "other"} {
			pods, _ := e.cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
			rss, _ := e.cs.AppsV1().ReplicaSets(ns).List(ctx, metav1.ListOptions{})
			if pods != nil {
				n += len(pods.Items)
			}
			if rss != nil {
				n += len(rss.Items)
			}
		}
		if n == 0 {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	e.t.Log("warning: workloads still present after clean-up")
}

func (e *env) verify(labs []*Lab, timeout time.Duration) *Result {
	return Run(context.Background(), labs, Options{Source: NewClusterFrom(e.dyn, nil, e.cfg.Host, ""), Timeout: timeout})
}

func TestClusterRightVariantsPass(t *testing.T) {
	e := newEnv(t)
	_, labs := shippedLabs(t)
	for _, tc := range []struct {
		name string
		spec fleetSpec
	}{
		{"solution as written", fleetSpec{}},
		{"more replicas", fleetSpec{Replicas: 5}},
		{"maxSurge as a string", fleetSpec{Strategy: "type: RollingUpdate\n    rollingUpdate:\n      maxSurge: \"1\""}},
		{"maxSurge 25% of 4 replicas", fleetSpec{Replicas: 4, Strategy: "type: RollingUpdate\n    rollingUpdate:\n      maxSurge: 25%"}},
		{"other labels and image", fleetSpec{Labels: "web-tier", Image: "busybox:1.36"}},
		{"strategy left to its default", fleetSpec{Strategy: "{}"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			parent := e.t
			e.t = t
			defer func() { e.t = parent }()
			e.clean()
			doc := tc.spec.yaml()
			if tc.name == "maxSurge as a string" {
				// The API server only takes percentages as strings; "1" is
				// refused before lab could see it. Record that, then pass.
				path := filepath.Join(t.TempDir(), "d.yaml")
				write(t, path, doc)
				objs, _ := readManifests(path, "dev")
				if err := e.cl.apply(context.Background(), objs[0]); err != nil {
					t.Logf("the API server refuses maxSurge \"1\": %v", err)
					return
				}
			} else {
				e.apply(doc)
			}
			r := e.verify(labs, 20*time.Second)
			if r.ExitCode() != 0 {
				t.Fatalf("exit %d, want 0:\n%s", r.ExitCode(), text(r))
			}
		})
	}
}

func TestClusterWrongVariantsFailTheirCheck(t *testing.T) {
	e := newEnv(t)
	_, labs := shippedLabs(t)
	for _, tc := range []struct {
		name   string
		setup  func()
		failed []string // exactly these checks fail
		want   []string
	}{
		{"too few replicas", func() { e.apply(fleetSpec{Replicas: 2}.yaml()) }, []string{"replicas"},
			[]string{"Deployment dev/fleet: spec.replicas", "expected: >= 3", "actual:   2"}},
		{"Recreate", func() { e.apply(fleetSpec{Strategy: "type: Recreate"}.yaml()) }, []string{"rolling-update"},
			[]string{"spec.strategy.type", `actual:   "Recreate"`, "hint: Set spec.strategy.type: RollingUpdate"}},
		{"maxSurge 2", func() {
			e.apply(fleetSpec{Strategy: "type: RollingUpdate\n    rollingUpdate:\n      maxSurge: 2"}.yaml())
		}, []string{"rolling-update"}, []string{"spec.strategy.rollingUpdate.maxSurge", "expected: 1", "actual:   2"}},
		{"maxSurge 50%", func() {
			e.apply(fleetSpec{Strategy: "type: RollingUpdate\n    rollingUpdate:\n      maxSurge: 50%"}.yaml())
		}, []string{"rolling-update"}, []string{"spec.strategy.rollingUpdate.maxSurge", `actual:   "50%" (= 2)`}},
		{"default maxSurge on 5 replicas", func() { e.apply(fleetSpec{Replicas: 5, Strategy: "{}"}.yaml()) }, []string{"rolling-update"},
			[]string{`actual:   "25%" (= 2)`, "Without maxSurge, Kubernetes uses 25%"}},
		{"pods cannot be scheduled", func() { e.apply(fleetSpec{NodeSelector: "yes"}.yaml()) }, []string{"available"},
			[]string{"Deployment dev/fleet: status.availableReplicas", "expected: >= 3", "replicas are available", "Pending"}},
		{"hand-made pod beside it", func() {
			e.apply(fleetSpec{}.yaml())
			e.apply("apiVersion: v1\nkind: Pod\nmetadata:\n  name: stray\n  namespace: dev\nspec:\n  containers:\n    - name: c\n      image: nginx\n")
		}, []string{"managed-pods"}, []string{"Pod dev/stray", "Pod stray was made by hand", "kubectl delete pod stray -n dev"}},
		{"hand-made ReplicaSet beside it", func() {
			e.apply(fleetSpec{}.yaml())
			e.apply(`apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: mine
  namespace: dev
spec:
  replicas: 1
  selector:
    matchLabels:
      app: mine
  template:
    metadata:
      labels:
        app: mine
    spec:
      containers:
        - name: c
          image: nginx
`)
		}, []string{"managed-pods"}, []string{"ReplicaSet dev/mine", "ReplicaSet mine was made by hand"}},
		{"in the default namespace", func() { e.apply(fleetSpec{Namespace: "default"}.yaml()) },
			[]string{"deployment", "replicas", "rolling-update", "available", "managed-pods"},
			[]string{"no Deployment named fleet in namespace dev; there is one in namespace default, but the task needs it in dev"}},
		{"nothing at all", func() {}, []string{"deployment", "replicas", "rolling-update", "available", "managed-pods"},
			[]string{"no Deployment named fleet in namespace dev", "0 passed, 5 failed"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			parent := e.t
			e.t = t
			defer func() { e.t = parent }()
			e.clean()
			tc.setup()
			r := e.verify(labs, 3*time.Second)
			out := text(r)
			if r.ExitCode() != 1 {
				t.Fatalf("exit %d, want 1:\n%s", r.ExitCode(), out)
			}
			var failed []string
			for _, c := range r.Labs[0].Checks {
				if c.Status != Passed {
					failed = append(failed, c.Name)
				}
			}
			if strings.Join(failed, ",") != strings.Join(tc.failed, ",") {
				t.Errorf("failed checks %v, want %v:\n%s", failed, tc.failed, out)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
}

func TestClusterRetriesUntilRolledOut(t *testing.T) {
	e := newEnv(t)
	_, labs := shippedLabs(t)
	e.apply(fleetSpec{}.yaml())
	// Straight after the apply nothing is available yet; retries wait.
	r := e.verify(labs, 20*time.Second)
	if r.ExitCode() != 0 {
		t.Fatalf("exit %d:\n%s", r.ExitCode(), text(r))
	}
}

var (
	labBinOnce sync.Once
	labBin     string
	labBinErr  error
)

// labBinary builds the lab command once per test binary.
func labBinary(t *testing.T) string {
	labBinOnce.Do(func() {
		dir, err := os.MkdirTemp("", "lab-verify-bin-")
		if err != nil {
			labBinErr = err
			return
		}
		labBin = filepath.Join(dir, "lab")
		out, err := exec.Command("go", "build", "-o", labBin, "labs.dev/lab/cmd/lab").CombinedOutput()
		if err != nil {
			labBinErr = fmt.Errorf("build lab: %v\n%s", err, out)
		}
	})
	if labBinErr != nil {
		t.Fatal(labBinErr)
	}
	return labBin
}

// runLab runs the lab command in the lab directory of labsFile.
func runLab(t *testing.T, labsFile string, extraEnv []string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(labBinary(t), args...)
	cmd.Dir = filepath.Dir(labsFile)
	cmd.Env = append(append(os.Environ(), "NO_COLOR=1"), extraEnv...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return stdout.String(), stderr.String(), code
}

func TestCLIVerifyExitCodesAndFormats(t *testing.T) {
	e := newEnv(t)
	cfg, _ := shippedLabs(t)
	file := cfg.File

	e.apply(fleetSpec{Replicas: 2}.yaml())
	out, errOut, code := runLab(t, file, nil, "verify", "deploy-fleet", "-timeout", "2s")
	if code != 1 || !strings.Contains(out, "spec.replicas") || !strings.HasSuffix(out, "4 passed, 1 failed\n") {
		t.Errorf("verify on a wrong fleet: exit %d\n%s%s", code, out, errOut)
	}
	out, _, code = runLab(t, file, nil, "verify", "deploy-fleet", "-timeout", "2s", "-o", "junit")
	var suites junitSuites
	if code != 1 || xml.Unmarshal([]byte(out), &suites) != nil || suites.Failures != 1 {
		t.Errorf("junit: exit %d, %+v\n%s", code, suites, out)
	}

	e.apply(fleetSpec{}.yaml())
	out, errOut, code = runLab(t, file, nil, "verify", "-o", "json")
	var res struct {
		Passed, Failed int
		ExitCode       int `json:"exit_code"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &res) != nil || res.Passed != 5 || res.ExitCode != 0 {
		t.Errorf("verify -o json on the solution: exit %d\n%s%s", code, out, errOut)
	}

	_, errOut, code = runLab(t, file, nil, "verify", "deploy-flet")
	if code != 2 || !strings.Contains(errOut, `there is no lab "deploy-flet"`) {
		t.Errorf("unknown lab: exit %d\n%s", code, errOut)
	}

	// An unreachable cluster is said once, plainly, with exit 2.
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	cfgAPI := clientcmdapi.NewConfig()
	cfgAPI.Clusters["gone"] = &clientcmdapi.Cluster{Server: "https://127.0.0.1:1", InsecureSkipTLSVerify: true}
	cfgAPI.AuthInfos["u"] = &clientcmdapi.AuthInfo{Token: "x"}
	cfgAPI.Contexts["kind-gone"] = &clientcmdapi.Context{Cluster: "gone", AuthInfo: "u"}
	cfgAPI.CurrentContext = "kind-gone"
	if err := clientcmd.WriteToFile(*cfgAPI, kc); err != nil {
		t.Fatal(err)
	}
	out, errOut, code = runLab(t, file, []string{"KUBECONFIG=" + kc}, "verify", "deploy-fleet")
	want := "cannot reach the cluster at https://127.0.0.1:1 (context kind-gone): connection refused — is it up? run `lab up`"
	if code != 2 || !strings.Contains(errOut, want) || strings.Count(errOut, "cannot reach") != 1 {
		t.Errorf("unreachable: exit %d, want 2 and %q\nstdout:\n%s\nstderr:\n%s", code, want, out, errOut)
	}

	out, _, code = runLab(t, file, nil, "list")
	if code != 0 || !strings.Contains(out, "deploy-fleet  Deploy a Fleet of Pods") {
		t.Errorf("list: exit %d\n%s", code, out)
	}
	out, _, code = runLab(t, file, nil, "show", "deploy-fleet")
	if code != 0 || !strings.Contains(out, "In the namespace dev, create a Deployment named fleet") || !strings.Contains(out, "lab verify deploy-fleet") {
		t.Errorf("show: exit %d\n%s", code, out)
	}
}

// TestVerifyIsReadOnly runs verify as a user bound only to the built-in
// view ClusterRole: it must work, wrong or right.
func TestVerifyIsReadOnly(t *testing.T) {
	e := newEnv(t)
	cfg, labs := shippedLabs(t)
	ctx := context.Background()
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "learner", Namespace: "default"}}
	if _, err := e.cs.CoreV1().ServiceAccounts("default").Create(ctx, sa, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	crb := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "learner-view"},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "view"},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: "learner", Namespace: "default"}},
	}
	if _, err := e.cs.RbacV1().ClusterRoleBindings().Create(ctx, crb, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	tok, err := e.cs.CoreV1().ServiceAccounts("default").CreateToken(ctx, "learner", &authv1.TokenRequest{Spec: authv1.TokenRequestSpec{}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	view := rest.AnonymousClientConfig(e.cfg)
	view.BearerToken = tok.Status.Token
	viewDyn := dynamic.NewForConfigOrDie(view)

	// The identity really cannot write.
	probe := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "probe", "namespace": "dev"}}}
	if _, err := viewDyn.Resource(builtin["v1/ConfigMap"].Resource).Namespace("dev").Create(ctx, probe, metav1.CreateOptions{}); !apierrors.IsForbidden(err) {
		t.Fatalf("the view identity could write (err %v); the test proves nothing", err)
	}

	// The API server's RBAC cache takes a moment to see a new binding.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		_, err := viewDyn.Resource(builtin["apps/v1/Deployment"].Resource).Namespace("dev").List(ctx, metav1.ListOptions{})
		if err == nil {
			break
		}
		if !apierrors.IsForbidden(err) || time.Now().After(deadline) {
			t.Fatalf("the view binding never took effect: %v", err)
		}
	}

	ro := NewClusterFrom(viewDyn, nil, view.Host, "view")
	r := Run(ctx, labs, Options{Source: ro, Timeout: 2 * time.Second})
	if r.ExitCode() != 1 || !strings.Contains(text(r), "no Deployment named fleet") {
		t.Errorf("as view, nothing applied: exit %d\n%s", r.ExitCode(), text(r))
	}
	e.apply(fleetSpec{}.yaml())
	r = Run(ctx, labs, Options{Source: ro, Timeout: 20 * time.Second})
	if r.ExitCode() != 0 {
		t.Errorf("as view, solution applied: exit %d\n%s", r.ExitCode(), text(r))
	}

	// And through the command, with a kubeconfig holding only that token.
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	api := clientcmdapi.NewConfig()
	api.Clusters["c"] = &clientcmdapi.Cluster{Server: view.Host, CertificateAuthorityData: e.cfg.CAData, CertificateAuthority: e.cfg.CAFile}
	api.AuthInfos["learner"] = &clientcmdapi.AuthInfo{Token: tok.Status.Token}
	api.Contexts["learner"] = &clientcmdapi.Context{Cluster: "c", AuthInfo: "learner"}
	api.CurrentContext = "learner"
	if err := clientcmd.WriteToFile(*api, kc); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := runLab(t, cfg.File, []string{"KUBECONFIG=" + kc}, "verify", "deploy-fleet")
	if code != 0 {
		t.Errorf("lab verify as view: exit %d\n%s%s", code, out, errOut)
	}
}

func TestCLITestProvesShippedLab(t *testing.T) {
	e := newEnv(t)
	cfg, _ := shippedLabs(t)
	out, errOut, code := runLab(t, cfg.File, nil, "test", "deploy-fleet")
	if code != 0 || !strings.Contains(out, "✓ deploy-fleet: fails on a fresh environment, passes with its solution") {
		t.Fatalf("lab test: exit %d\n%s%s", code, out, errOut)
	}
	// The solution is gone again.
	if _, err := e.cs.AppsV1().Deployments("dev").Get(context.Background(), "fleet", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the solution was not removed: %v", err)
	}

	// Not a fresh environment: refuse, touch nothing.
	e.apply(fleetSpec{Replicas: 4}.yaml())
	out, _, code = runLab(t, cfg.File, nil, "test", "deploy-fleet")
	if code != 2 || !strings.Contains(out, "already exists, so this is not a fresh environment") {
		t.Errorf("lab test on a used environment: exit %d\n%s", code, out)
	}
	if d, err := e.cs.AppsV1().Deployments("dev").Get(context.Background(), "fleet", metav1.GetOptions{}); err != nil || *d.Spec.Replicas != 4 {
		t.Errorf("lab test touched the learner's Deployment: %v", err)
	}
}

func TestCLITestReportsBrokenLabs(t *testing.T) {
	newEnv(t)
	dir := t.TempDir()
	write(t, filepath.Join(dir, "sol.yaml"), fleetSpec{}.yaml())
	write(t, filepath.Join(dir, "labs.hcl"), `
lab "too-weak" {
  solution   = "sol.yaml"
  namespaces = ["dev"]
  check "anything" {
    select "pods" {
      api_version = "v1"
      kind        = "Pod"
      namespace   = "dev"
    }
    assert {
      condition     = length(pods) >= 0
      error_message = "never"
    }
  }
}

lab "too-strict" {
  solution   = "sol.yaml"
  namespaces = ["dev"]
  timeout    = "2s"
  check "replicas" {
    select "fleet" {
      api_version = "apps/v1"
      kind        = "Deployment"
      namespace   = "dev"
      name        = "fleet"
    }
    assert {
      condition     = fleet.spec.replicas >= 10
      error_message = "wants 10"
    }
  }
}
`)
	out, errOut, code := runLab(t, filepath.Join(dir, "labs.hcl"), nil, "test")
	if code != 1 || !strings.Contains(out, "✗ too-weak is broken: every check passes before the solution") ||
		!strings.Contains(out, "✗ too-strict is broken: checks fail on the reference solution") || !strings.Contains(out, "wants 10") {
		t.Errorf("lab test of broken labs: exit %d\n%s%s", code, out, errOut)
	}
}

func TestReset(t *testing.T) {
	e := newEnv(t)
	cfg, labs := shippedLabs(t)
	ctx := context.Background()
	owner := resource.NewOwner(cfg.File)
	labLabels := func() string {
		return fmt.Sprintf("\n  labels:\n    %s: %q\n    %s: %q", resource.LabelManagedBy, resource.ManagedBy, resource.LabelInstance, owner.Instance)
	}
	// The learner's work.
	e.apply(fleetSpec{}.yaml())
	e.apply("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: notes\n  namespace: dev\ndata:\n  a: b\n")
	// Lab's own objects, a helm release of the lab file, and a same-named
	// object outside the lab's namespaces.
	e.apply("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: lab-config\n  namespace: dev" + labLabels() + "\ndata:\n  a: b\n")
	e.apply(`apiVersion: v1
kind: Secret
metadata:
  name: sh.helm.release.v1.tools.v1
  namespace: dev
  labels:
    owner: helm
    name: tools
type: helm.sh/release.v1
`)
	e.apply(`apiVersion: v1
kind: ConfigMap
metadata:
  name: tools-settings
  namespace: dev
  annotations:
    meta.helm.sh/release-name: tools
    meta.helm.sh/release-namespace: dev
`)
	e.apply("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: notes\n  namespace: other\n")
	// The learner's copy of a helm object of the lab (made in staging),
	// labels and all, is the learner's.
	e.apply("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: copied\n  namespace: dev" + labLabels() + "\n  annotations:\n    meta.helm.sh/release-name: fleet\n    meta.helm.sh/release-namespace: staging\n")
	// A helm release that is not the lab's is the learner's.
	e.apply("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: theirs\n  namespace: dev\n  annotations:\n    meta.helm.sh/release-name: theirs\n")

	disco := discovery.NewDiscoveryClientForConfigOrDie(e.cfg)
	res, err := Reset(ctx, labs[0], e.cl, disco, ResetOptions{Owner: owner, HelmReleases: map[string]string{"tools": ""}, DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	want := "ConfigMap dev/copied, ConfigMap dev/notes, ConfigMap dev/theirs, Deployment dev/fleet"
	if got := refsString(res.Deleted); got != want {
		t.Errorf("dry run would delete %s, want %s", got, want)
	}
	if _, err := e.cs.AppsV1().Deployments("dev").Get(ctx, "fleet", metav1.GetOptions{}); err != nil {
		t.Fatalf("dry run deleted: %v", err)
	}

	res, err = Reset(ctx, labs[0], e.cl, disco, ResetOptions{Owner: owner, HelmReleases: map[string]string{"tools": ""}})
	if err != nil {
		t.Fatal(err)
	}
	if got := refsString(res.Deleted); got != want {
		t.Errorf("deleted %s, want %s", got, want)
	}
	for _, gone := range []string{"notes", "theirs"} {
		if _, err := e.cs.CoreV1().ConfigMaps("dev").Get(ctx, gone, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("ConfigMap dev/%s still there: %v", gone, err)
		}
	}
	if _, err := e.cs.AppsV1().Deployments("dev").Get(ctx, "fleet", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("Deployment dev/fleet still there: %v", err)
	}
	for _, kept := range []struct{ kind, ns, name string }{
		{"ConfigMap", "dev", "lab-config"}, {"ConfigMap", "dev", "tools-settings"}, {"ConfigMap", "dev", "kube-root-ca.crt"},
		{"ConfigMap", "other", "notes"}, {"Secret", "dev", "sh.helm.release.v1.tools.v1"}, {"ServiceAccount", "dev", "default"},
	} {
		var err error
		switch kept.kind {
		case "ConfigMap":
			_, err = e.cs.CoreV1().ConfigMaps(kept.ns).Get(ctx, kept.name, metav1.GetOptions{})
		case "Secret":
			_, err = e.cs.CoreV1().Secrets(kept.ns).Get(ctx, kept.name, metav1.GetOptions{})
		case "ServiceAccount":
			_, err = e.cs.CoreV1().ServiceAccounts(kept.ns).Get(ctx, kept.name, metav1.GetOptions{})
		}
		if err != nil {
			t.Errorf("%s %s/%s was not kept: %v", kept.kind, kept.ns, kept.name, err)
		}
	}
	_ = e.cs.CoreV1().Secrets("dev").Delete(ctx, "sh.helm.release.v1.tools.v1", metav1.DeleteOptions{})
}

func refsString(refs []ObjectRef) string {
	var s []string
	for _, r := range refs {
		s = append(s, r.String())
	}
	return strings.Join(s, ", ")
}
