// Package verifytest holds what the tests of lab verify, lab test and
// lab reset share: the shipped lab's blocks, a learner's fleet as fake
// objects and as YAML, a simulated cluster to apply it to (with kubectl
// or server-side apply), and the lab command built once.
package verifytest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zclconf/go-cty/cty"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"labs.dev/lab/lab/config"
	"labs.dev/lab/lab/verify"
	"labs.dev/lab/providers/kube"
	labk8s "labs.dev/lab/providers/kubernetes"
	"labs.dev/lab/providers/simulated"
	"labs.dev/lab/providers/simulated/simtest"
)

// root is the repository root, from a test's package directory.
func root(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for d := dir; d != filepath.Dir(d); d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d
		}
	}
	t.Fatalf("no go.mod above %s", dir)
	return ""
}

// ShippedLabSource is the lab blocks of the repository's labs.hcl (its
// resources need providers these tests do not link).
func ShippedLabSource(t testing.TB) string {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(root(t), "labs.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	i := strings.Index(string(src), "\nlab \"")
	if i < 0 {
		t.Fatal("labs.hcl has no lab block")
	}
	return string(src[i:])
}

// Solution is the shipped lab's reference solution.
func Solution(t testing.TB) string {
	t.Helper()
	sol, err := os.ReadFile(filepath.Join(root(t), "manifests/deploy-fleet/solution.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return string(sol)
}

// ShippedLabs loads the shipped lab blocks in a temporary lab directory,
// with the solution manifests beside them.
func ShippedLabs(t testing.TB) (*config.Config, []*verify.Lab) {
	t.Helper()
	dir := t.TempDir()
	Write(t, filepath.Join(dir, "labs.hcl"), ShippedLabSource(t))
	Write(t, filepath.Join(dir, "manifests/deploy-fleet/solution.yaml"), Solution(t))
	return LoadLabs(t, filepath.Join(dir, "labs.hcl"))
}

// LoadLabs loads a lab file and decodes its lab blocks.
func LoadLabs(t testing.TB, path string) (*config.Config, []*verify.Lab) {
	t.Helper()
	cfg, diags := config.Load(path, config.Options{Env: []string{}})
	if diags.HasErrors() {
		t.Fatalf("load %s: %s", path, diags.Error())
	}
	labs, diags := verify.Decode(cfg, nil)
	if diags.HasErrors() {
		t.Fatalf("decode %s: %s", path, diags.Error())
	}
	return cfg, labs
}

// Write writes a file, making its directory.
func Write(t testing.TB, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// FakeSource serves hand-made objects, for tests without a cluster.
type FakeSource struct{ Objs []map[string]any }

// Objects implements verify.Source.
func (f *FakeSource) Objects(_ context.Context, s *verify.Selection, _ time.Time) ([]verify.Object, error) {
	var out []verify.Object
	for _, o := range f.Objs {
		if o["apiVersion"] != s.APIVersion || o["kind"] != s.Kind {
			continue
		}
		md, _ := o["metadata"].(map[string]any)
		if s.Namespace != "" && md["namespace"] != s.Namespace {
			continue
		}
		out = append(out, verify.NewObject(o))
	}
	return out, nil
}

// RunFake evaluates every check once against objs.
func RunFake(t testing.TB, labs []*verify.Lab, objs []map[string]any) *verify.Result {
	t.Helper()
	return verify.Run(context.Background(), labs, verify.Options{Source: &FakeSource{Objs: objs}, Once: true})
}

// Check finds a check's result by name.
func Check(t testing.TB, r *verify.Result, name string) verify.CheckResult {
	t.Helper()
	for _, l := range r.Labs {
		for _, c := range l.Checks {
			if c.Name == name {
				return c
			}
		}
	}
	t.Fatalf("no check %q in the result", name)
	return verify.CheckResult{}
}

// Applied is the managedFields entry of a server-side apply (manager
// kubectl) of a Deployment that sets replicas, the strategy type and,
// unless maxSurge is nil, maxSurge.
func Applied(maxSurge any) map[string]any {
	strategy := map[string]any{"f:type": map[string]any{}}
	if maxSurge != nil {
		strategy["f:rollingUpdate"] = map[string]any{"f:maxSurge": map[string]any{}}
	}
	return map[string]any{
		"manager": "kubectl", "operation": "Apply", "apiVersion": "apps/v1", "fieldsType": "FieldsV1",
		"fieldsV1": map[string]any{"f:spec": map[string]any{"f:replicas": map[string]any{}, "f:strategy": strategy}},
	}
}

// FleetObjects is a healthy fleet: Deployment, its ReplicaSet, n pods.
// The Deployment records a server-side apply of what it holds (Applied).
func FleetObjects(replicas int64, maxSurge any) []map[string]any {
	dep := map[string]any{
		"apiVersion": "apps/v1", "kind": "Deployment",
		"metadata": map[string]any{"name": "fleet", "namespace": "dev", "uid": "d1", "generation": int64(1),
			"managedFields": []any{Applied(maxSurge)}},
		"spec": map[string]any{
			"replicas": replicas,
			"strategy": map[string]any{"type": "RollingUpdate", "rollingUpdate": map[string]any{"maxSurge": maxSurge, "maxUnavailable": "25%"}},
		},
		"status": map[string]any{"observedGeneration": int64(1), "replicas": replicas, "updatedReplicas": replicas, "readyReplicas": replicas, "availableReplicas": replicas},
	}
	rs := map[string]any{
		"apiVersion": "apps/v1", "kind": "ReplicaSet",
		"metadata": map[string]any{"name": "fleet-abc", "namespace": "dev", "uid": "r1",
			"ownerReferences": []any{map[string]any{"apiVersion": "apps/v1", "kind": "Deployment", "name": "fleet", "uid": "d1", "controller": true}}},
		"spec": map[string]any{"replicas": replicas},
	}
	objs := []map[string]any{dep, rs}
	for i := int64(0); i < replicas; i++ {
		objs = append(objs, map[string]any{
			"apiVersion": "v1", "kind": "Pod",
			"metadata": map[string]any{"name": "fleet-abc-" + string(rune('a'+i)), "namespace": "dev", "uid": "p" + string(rune('a'+i)),
				"ownerReferences": []any{map[string]any{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "fleet-abc", "uid": "r1", "controller": true}}},
			"status": map[string]any{"phase": "Running"},
		})
	}
	return objs
}

// ObjectValue is the value a check sees for obj.
func ObjectValue(obj map[string]any) cty.Value { return verify.NewObject(obj).Value }

// FleetSpec is one way a learner might write the Deployment.
type FleetSpec struct {
	Namespace    string
	Replicas     int
	Strategy     string // YAML under spec.strategy, indented 4
	Labels       string // the app label value
	Image        string
	NodeSelector string // a node label value nobody has, to leave pods Pending
}

// YAML is the manifest.
func (f FleetSpec) YAML() string {
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

// Env is the package's simulated cluster with namespaces dev and other,
// cleared of workloads before and after each test.
type Env struct {
	T          testing.TB
	Client     *kube.Client
	Clientset  kubernetes.Interface
	Kubeconfig string
	Context    string
}

// NewEnv connects to the package's cluster (simtest.Main).
func NewEnv(t testing.TB) *Env {
	t.Helper()
	c := simtest.Get(t)
	client, err := kube.NewConnections().Connect(kube.Target{Kubeconfig: c.Kubeconfig, Context: c.Context})
	if err != nil {
		t.Fatal(err)
	}
	e := &Env{T: t, Client: client, Clientset: kubernetes.NewForConfigOrDie(c.Config), Kubeconfig: c.Kubeconfig, Context: c.Context}
	for _, ns := range []string{"dev", "other"} {
		_, err := e.Clientset.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatal(err)
		}
	}
	e.Clean()
	t.Cleanup(e.Clean)
	return e
}

// Within is e for a subtest.
func (e *Env) Within(t testing.TB) *Env {
	c := *e
	c.T = t
	return &c
}

// Apply server-side applies doc as a learner would (field manager
// "learner"), objects without a namespace going to dev.
func (e *Env) Apply(doc string) {
	e.T.Helper()
	if err := e.TryApply(doc); err != nil {
		e.T.Fatal(err)
	}
}

// TryApply is Apply returning the API server's refusal.
func (e *Env) TryApply(doc string) error {
	objs, err := labk8s.Decode([]byte(doc))
	if err != nil {
		return err
	}
	objs, err = labk8s.Resolve(e.Client, objs, "dev")
	if err != nil {
		return err
	}
	for _, o := range objs {
		if _, err := labk8s.Apply(context.Background(), o, "learner"); err != nil {
			return err
		}
	}
	return nil
}

// Kubectl runs kubectl on the cluster with doc as the file -f - reads.
func (e *Env) Kubectl(doc string, args ...string) string {
	e.T.Helper()
	k, err := simulated.KubectlPath()
	if err != nil {
		e.T.Fatal(err)
	}
	cmd := exec.Command(k, append([]string{"--kubeconfig", e.Kubeconfig, "--context", e.Context}, args...)...)
	cmd.Stdin = strings.NewReader(doc)
	out, err := cmd.CombinedOutput()
	if err != nil {
		e.T.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// Clean removes every workload in dev, default and other the tests make,
// and waits until the pods are gone.
func (e *Env) Clean() {
	ctx := context.Background()
	cs := e.Clientset
	bg := metav1.DeletePropagationBackground
	namespaces := []string{"dev", "default", "other"}
	for _, ns := range namespaces {
		_ = cs.AppsV1().Deployments(ns).DeleteCollection(ctx, metav1.DeleteOptions{PropagationPolicy: &bg}, metav1.ListOptions{})
		_ = cs.AppsV1().ReplicaSets(ns).DeleteCollection(ctx, metav1.DeleteOptions{PropagationPolicy: &bg}, metav1.ListOptions{})
		_ = cs.CoreV1().Pods(ns).DeleteCollection(ctx, metav1.DeleteOptions{GracePeriodSeconds: new(int64)}, metav1.ListOptions{})
		_ = cs.CoreV1().ConfigMaps(ns).DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{FieldSelector: "metadata.name!=kube-root-ca.crt"})
	}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		n := 0
		for _, ns := range namespaces {
			if deps, _ := cs.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{}); deps != nil {
				n += len(deps.Items)
			}
			if pods, _ := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{}); pods != nil {
				n += len(pods.Items)
			}
			if rss, _ := cs.AppsV1().ReplicaSets(ns).List(ctx, metav1.ListOptions{}); rss != nil {
				n += len(rss.Items)
			}
		}
		if n == 0 {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	e.T.Log("warning: workloads still present after clean-up")
}

// RunLab runs the lab command in the lab directory of labsFile and
// returns its stdout, stderr and exit code.
func RunLab(t testing.TB, labsFile string, extraEnv []string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(filepath.Join(simtest.LabBinaries(t), "lab"), args...)
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
