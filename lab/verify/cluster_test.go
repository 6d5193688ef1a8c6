package verify_test

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	authv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	. "labs.dev/lab/lab/verify"
	vt "labs.dev/lab/lab/verify/verifytest"
	"labs.dev/lab/providers/simulated/simtest"
)

func TestMain(m *testing.M) { os.Exit(simtest.Main(m)) }

// verifyOn runs the labs' checks against the cluster e connects to.
func verifyOn(e *vt.Env, labs []*Lab, timeout time.Duration) *Result {
	return Run(context.Background(), labs, Options{Source: NewCluster(e.Client), Timeout: timeout})
}

// junit is what the tests read of a JUnit report.
type junit struct {
	Tests    int `xml:"tests,attr"`
	Failures int `xml:"failures,attr"`
}

func TestClusterRightVariantsPass(t *testing.T) {
	e := vt.NewEnv(t)
	_, labs := vt.ShippedLabs(t)
	for _, tc := range []struct {
		name string
		spec vt.FleetSpec
	}{
		{"solution as written", vt.FleetSpec{}},
		{"more replicas", vt.FleetSpec{Replicas: 5}},
		{"maxSurge as a string", vt.FleetSpec{Strategy: "type: RollingUpdate\n    rollingUpdate:\n      maxSurge: \"1\""}},
		{"maxSurge 25% of 4 replicas", vt.FleetSpec{Replicas: 4, Strategy: "type: RollingUpdate\n    rollingUpdate:\n      maxSurge: 25%"}},
		{"other labels and image", vt.FleetSpec{Labels: "web-tier", Image: "busybox:1.36"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := e.Within(t)
			e.Clean()
			doc := tc.spec.YAML()
			if tc.name == "maxSurge as a string" {
				// The API server only takes percentages as strings; "1" is
				// refused before lab could see it. Record that, then pass.
				if err := e.TryApply(doc); err != nil {
					t.Logf("the API server refuses maxSurge \"1\": %v", err)
					return
				}
			} else {
				e.Apply(doc)
			}
			r := verifyOn(e, labs, 20*time.Second)
			if r.ExitCode() != 0 {
				t.Fatalf("exit %d, want 0:\n%s", r.ExitCode(), text(r))
			}
		})
	}
}

func TestClusterWrongVariantsFailTheirCheck(t *testing.T) {
	e := vt.NewEnv(t)
	_, labs := vt.ShippedLabs(t)
	for _, tc := range []struct {
		name   string
		setup  func(e *vt.Env)
		failed []string // exactly these checks fail
		want   []string
	}{
		{"too few replicas", func(e *vt.Env) { e.Apply(vt.FleetSpec{Replicas: 2}.YAML()) }, []string{"replicas"},
			[]string{"Deployment dev/fleet: spec.replicas", "expected: >= 3", "actual:   2"}},
		{"Recreate", func(e *vt.Env) { e.Apply(vt.FleetSpec{Strategy: "type: Recreate"}.YAML()) }, []string{"rolling-update"},
			[]string{"spec.strategy.type", `actual:   "Recreate"`, "hint: Set spec.strategy.type: RollingUpdate"}},
		{"maxSurge 2", func(e *vt.Env) {
			e.Apply(vt.FleetSpec{Strategy: "type: RollingUpdate\n    rollingUpdate:\n      maxSurge: 2"}.YAML())
		}, []string{"rolling-update"}, []string{"spec.strategy.rollingUpdate.maxSurge", "expected: 1", "actual:   2"}},
		{"maxSurge 50%", func(e *vt.Env) {
			e.Apply(vt.FleetSpec{Strategy: "type: RollingUpdate\n    rollingUpdate:\n      maxSurge: 50%"}.YAML())
		}, []string{"rolling-update"}, []string{"spec.strategy.rollingUpdate.maxSurge", `actual:   "50%" (= 2)`}},
		{"strategy left to its default", func(e *vt.Env) { e.Apply(vt.FleetSpec{Strategy: "{}"}.YAML()) }, []string{"rolling-update"},
			[]string{`actual:   "25%" (filled in by Kubernetes)`, "your manifest does not set maxSurge, so Kubernetes filled in its default, 25%"}},
		{"default maxSurge on 5 replicas", func(e *vt.Env) { e.Apply(vt.FleetSpec{Replicas: 5, Strategy: "{}"}.YAML()) }, []string{"rolling-update"},
			[]string{`actual:   "25%" (filled in by Kubernetes)`, "more from 5 replicas on"}},
		{"pods cannot be scheduled", func(e *vt.Env) { e.Apply(vt.FleetSpec{NodeSelector: "yes"}.YAML()) }, []string{"available"},
			[]string{"Deployment dev/fleet: status.availableReplicas", "expected: >= 3", "replicas are available", "Pending"}},
		{"hand-made pod beside it", func(e *vt.Env) {
			e.Apply(vt.FleetSpec{}.YAML())
			e.Apply("apiVersion: v1\nkind: Pod\nmetadata:\n  name: stray\n  namespace: dev\nspec:\n  containers:\n    - name: c\n      image: nginx\n")
		}, []string{"managed-pods"}, []string{"Pod dev/stray", "Pod stray was made by hand", "kubectl delete pod stray -n dev"}},
		{"hand-made ReplicaSet beside it", func(e *vt.Env) {
			e.Apply(vt.FleetSpec{}.YAML())
			e.Apply(`apiVersion: apps/v1
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
		{"in the default namespace", func(e *vt.Env) { e.Apply(vt.FleetSpec{Namespace: "default"}.YAML()) },
			[]string{"deployment", "replicas", "rolling-update", "available", "managed-pods"},
			[]string{"no Deployment named fleet in namespace dev; there is one in namespace default, but the task needs it in dev"}},
		{"nothing at all", func(*vt.Env) {}, []string{"deployment", "replicas", "rolling-update", "available", "managed-pods"},
			[]string{"no Deployment named fleet in namespace dev", "0 passed, 5 failed"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := e.Within(t)
			e.Clean()
			tc.setup(e)
			r := verifyOn(e, labs, 3*time.Second)
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

// Defect: a Deployment whose manifest never set maxSurge passed
// rolling-update, since the API server's 25% is one pod at 3 replicas.
// Each way a learner applies a manifest, with and without maxSurge, on
// the real API server: what it records must tell them apart.
func TestClusterMaxSurgeMustBeWritten(t *testing.T) {
	e := vt.NewEnv(t)
	_, labs := vt.ShippedLabs(t)
	without := vt.FleetSpec{Strategy: "type: RollingUpdate"}.YAML()
	with1 := vt.FleetSpec{}.YAML()
	with25 := vt.FleetSpec{Replicas: 4, Strategy: "type: RollingUpdate\n    rollingUpdate:\n      maxSurge: 25%"}.YAML()
	for _, tc := range []struct {
		name   string
		apply  func(e *vt.Env)
		passes bool
	}{
		{"kubectl apply without maxSurge", func(e *vt.Env) { e.Kubectl(without, "apply", "-f", "-") }, false},
		{"kubectl apply --server-side without maxSurge", func(e *vt.Env) { e.Kubectl(without, "apply", "--server-side", "-f", "-") }, false},
		{"kubectl create without maxSurge", func(e *vt.Env) { e.Kubectl(without, "create", "-f", "-") }, false},
		{"kubectl apply of maxSurge 1", func(e *vt.Env) { e.Kubectl(with1, "apply", "-f", "-") }, true},
		{"kubectl apply --server-side of maxSurge 1", func(e *vt.Env) { e.Kubectl(with1, "apply", "--server-side", "-f", "-") }, true},
		{"kubectl create of maxSurge 1", func(e *vt.Env) { e.Kubectl(with1, "create", "-f", "-") }, true},
		{"kubectl apply of maxSurge 25% at 4 replicas", func(e *vt.Env) { e.Kubectl(with25, "apply", "-f", "-") }, true},
		{"kubectl create without, then kubectl apply of maxSurge 1", func(e *vt.Env) {
			e.Kubectl(without, "create", "-f", "-")
			e.Kubectl(with1, "apply", "-f", "-")
		}, true},
		{"kubectl apply of maxSurge 1, then without", func(e *vt.Env) {
			e.Kubectl(with1, "apply", "-f", "-")
			e.Kubectl(without, "apply", "-f", "-")
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := e.Within(t)
			e.Clean()
			tc.apply(e)
			timeout := 3 * time.Second
			if tc.passes {
				timeout = 20 * time.Second
			}
			r := verifyOn(e, labs, timeout)
			out := text(r)
			if tc.passes {
				if r.ExitCode() != 0 {
					t.Fatalf("exit %d, want 0:\n%s", r.ExitCode(), out)
				}
				return
			}
			c := vt.Check(t, r, "rolling-update")
			if c.Status != Failed || len(c.Failures) != 1 {
				t.Fatalf("rolling-update %s with %d failure(s), want failed with one:\n%s", c.Status, len(c.Failures), out)
			}
			for _, w := range []string{
				"Deployment dev/fleet: spec.strategy.rollingUpdate.maxSurge",
				`actual:   "25%" (filled in by Kubernetes)`,
				"your manifest does not set maxSurge, so Kubernetes filled in its default, 25%",
			} {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
}

func TestClusterRetriesUntilRolledOut(t *testing.T) {
	e := vt.NewEnv(t)
	_, labs := vt.ShippedLabs(t)
	e.Apply(vt.FleetSpec{}.YAML())
	// Straight after the apply nothing is available yet; retries wait.
	r := verifyOn(e, labs, 20*time.Second)
	if r.ExitCode() != 0 {
		t.Fatalf("exit %d:\n%s", r.ExitCode(), text(r))
	}
}

func TestCLIVerifyExitCodesAndFormats(t *testing.T) {
	e := vt.NewEnv(t)
	cfg, _ := vt.ShippedLabs(t)
	file := cfg.File

	e.Apply(vt.FleetSpec{Replicas: 2}.YAML())
	out, errOut, code := vt.RunLab(t, file, nil, "verify", "deploy-fleet", "-timeout", "2s")
	if code != 1 || !strings.Contains(out, "spec.replicas") || !strings.HasSuffix(out, "4 passed, 1 failed\n") {
		t.Errorf("verify on a wrong fleet: exit %d\n%s%s", code, out, errOut)
	}
	out, _, code = vt.RunLab(t, file, nil, "verify", "deploy-fleet", "-timeout", "2s", "-o", "junit")
	var suites junit
	if code != 1 || xml.Unmarshal([]byte(out), &suites) != nil || suites.Failures != 1 {
		t.Errorf("junit: exit %d, %+v\n%s", code, suites, out)
	}

	e.Apply(vt.FleetSpec{}.YAML())
	out, errOut, code = vt.RunLab(t, file, nil, "verify", "-o", "json")
	var res struct {
		Passed, Failed int
		ExitCode       int `json:"exit_code"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &res) != nil || res.Passed != 5 || res.ExitCode != 0 {
		t.Errorf("verify -o json on the solution: exit %d\n%s%s", code, out, errOut)
	}

	_, errOut, code = vt.RunLab(t, file, nil, "verify", "deploy-flet")
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
	out, errOut, code = vt.RunLab(t, file, []string{"KUBECONFIG=" + kc}, "verify", "deploy-fleet")
	want := "cannot reach the cluster at https://127.0.0.1:1 (context kind-gone): connection refused — is it up? run `lab up`"
	if code != 2 || !strings.Contains(errOut, want) || strings.Count(errOut, "cannot reach") != 1 {
		t.Errorf("unreachable: exit %d, want 2 and %q\nstdout:\n%s\nstderr:\n%s", code, want, out, errOut)
	}

	out, _, code = vt.RunLab(t, file, nil, "list")
	if code != 0 || !strings.Contains(out, "deploy-fleet  Deploy a Fleet of Pods") {
		t.Errorf("list: exit %d\n%s", code, out)
	}
	out, _, code = vt.RunLab(t, file, nil, "show", "deploy-fleet")
	if code != 0 || !strings.Contains(out, "In the namespace dev, create a Deployment named fleet") || !strings.Contains(out, "lab verify deploy-fleet") {
		t.Errorf("show: exit %d\n%s", code, out)
	}
}

// TestVerifyIsReadOnly runs verify as a user bound only to the built-in
// view ClusterRole: it must work, wrong or right.
func TestVerifyIsReadOnly(t *testing.T) {
	e := vt.NewEnv(t)
	cfg, labs := vt.ShippedLabs(t)
	ctx := context.Background()
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "learner", Namespace: "default"}}
	if _, err := e.Clientset.CoreV1().ServiceAccounts("default").Create(ctx, sa, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	crb := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "learner-view"},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "view"},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: "learner", Namespace: "default"}},
	}
	if _, err := e.Clientset.RbacV1().ClusterRoleBindings().Create(ctx, crb, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	tok, err := e.Clientset.CoreV1().ServiceAccounts("default").CreateToken(ctx, "learner", &authv1.TokenRequest{Spec: authv1.TokenRequestSpec{}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	view := rest.AnonymousClientConfig(e.Client.Config)
	view.BearerToken = tok.Status.Token
	viewDyn := dynamic.NewForConfigOrDie(view)

	// The identity really cannot write.
	probe := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "probe", "namespace": "dev"}}}
	if _, err := viewDyn.Resource(schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}).Namespace("dev").Create(ctx, probe, metav1.CreateOptions{}); !apierrors.IsForbidden(err) {
		t.Fatalf("the view identity could write (err %v); the test proves nothing", err)
	}

	// The API server's RBAC cache takes a moment to see a new binding.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		_, err := viewDyn.Resource(schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}).Namespace("dev").List(ctx, metav1.ListOptions{})
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
	e.Apply(vt.FleetSpec{}.YAML())
	r = Run(ctx, labs, Options{Source: ro, Timeout: 20 * time.Second})
	if r.ExitCode() != 0 {
		t.Errorf("as view, solution applied: exit %d\n%s", r.ExitCode(), text(r))
	}

	// And through the command, with a kubeconfig holding only that token.
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	api := clientcmdapi.NewConfig()
	api.Clusters["c"] = &clientcmdapi.Cluster{Server: view.Host, CertificateAuthorityData: e.Client.Config.CAData, CertificateAuthority: e.Client.Config.CAFile}
	api.AuthInfos["learner"] = &clientcmdapi.AuthInfo{Token: tok.Status.Token}
	api.Contexts["learner"] = &clientcmdapi.Context{Cluster: "c", AuthInfo: "learner"}
	api.CurrentContext = "learner"
	if err := clientcmd.WriteToFile(*api, kc); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := vt.RunLab(t, cfg.File, []string{"KUBECONFIG=" + kc}, "verify", "deploy-fleet")
	if code != 0 {
		t.Errorf("lab verify as view: exit %d\n%s%s", code, out, errOut)
	}
}
