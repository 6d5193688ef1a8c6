// Package workshop holds the tests of examples/workshop/labs.hcl: many
// learners on one cluster lab did not make (the package's simulated
// cluster stands in for it), each isolated by RBAC, quota and network
// policy, reached through their own kubeconfig.
package workshop

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"labs.dev/lab/providers/simulated"
	"labs.dev/lab/providers/simulated/simtest"
)

func TestMain(m *testing.M) { os.Exit(simtest.Main(m)) }

// binaries is the directory of lab and lab-helm (simtest.LabBinaries).
func binaries(t testing.TB) string { return simtest.LabBinaries(t) }

// workshop is a copy of the example in a temporary directory, pointed at
// the package's cluster as an existing one.
type workshop struct {
	t   testing.TB
	dir string
	bin string
	cl  *simulated.Cluster
}

func newWorkshop(t testing.TB) *workshop {
	t.Helper()
	cl := simtest.Get(t)
	w := &workshop{t: t, dir: t.TempDir(), bin: binaries(t), cl: cl}
	if err := os.CopyFS(w.dir, os.DirFS(".")); err != nil {
		t.Fatal(err)
	}
	for _, leftover := range []string{".lab", "learners"} {
		os.RemoveAll(filepath.Join(w.dir, leftover))
	}
	return w
}

// lab runs the lab command in the workshop's directory with the
// cluster's kubeconfig and context and the given learners; it returns
// what it printed and its exit code.
func (w *workshop) lab(learners []string, args ...string) (string, int) {
	w.t.Helper()
	var out bytes.Buffer
	code := w.run(learners, args, &out, &out)
	return out.String(), code
}

// labOut is lab with what it prints to stdout and stderr apart, for
// reading -o json or -o junit.
func (w *workshop) labOut(learners []string, args ...string) (stdout, stderr string, code int) {
	w.t.Helper()
	var o, e bytes.Buffer
	code = w.run(learners, args, &o, &e)
	return o.String(), e.String(), code
}

func (w *workshop) run(learners []string, args []string, stdout, stderr io.Writer) int {
	w.t.Helper()
	if learners != nil {
		q, _ := json.Marshal(learners)
		args = append(args, "-var", "learners="+string(q))
	}
	args = append(args, "-var", "kubeconfig="+w.cl.Kubeconfig, "-var", "context="+w.cl.Context)
	cmd := exec.Command(filepath.Join(w.bin, "lab"), args...)
	cmd.Dir = w.dir
	cmd.Env = append(os.Environ(), "NO_COLOR=1", "LAB_BIN_DIR="+w.bin, "KUBECONFIG="+w.cl.Kubeconfig)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	} else if err != nil {
		w.t.Fatal(err)
	}
	return 0
}

func (w *workshop) must(learners []string, args ...string) string {
	w.t.Helper()
	out, code := w.lab(learners, args...)
	if code != 0 {
		w.t.Fatalf("lab %s: exit %d\n%s", strings.Join(args, " "), code, out)
	}
	return out
}

// as connects with a learner's kubeconfig file, as the learner would.
func (w *workshop) as(learner string) (*rest.Config, dynamic.Interface) {
	w.t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", filepath.Join(w.dir, "learners", learner+".kubeconfig"))
	if err != nil {
		w.t.Fatal(err)
	}
	cfg.Timeout = 30 * time.Second
	return cfg, dynamic.NewForConfigOrDie(cfg)
}

func (w *workshop) admin() dynamic.Interface { return dynamic.NewForConfigOrDie(w.cl.Config) }

var (
	gvrPods        = schema.GroupVersionResource{Version: "v1", Resource: "pods"}
	gvrNamespaces  = schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}
	gvrConfigMaps  = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}
	gvrSecrets     = schema.GroupVersionResource{Version: "v1", Resource: "secrets"}
	gvrServiceAccs = schema.GroupVersionResource{Version: "v1", Resource: "serviceaccounts"}
	gvrQuotas      = schema.GroupVersionResource{Version: "v1", Resource: "resourcequotas"}
	gvrLimitRanges = schema.GroupVersionResource{Version: "v1", Resource: "limitranges"}
	gvrNodes       = schema.GroupVersionResource{Version: "v1", Resource: "nodes"}
	gvrPVs         = schema.GroupVersionResource{Version: "v1", Resource: "persistentvolumes"}
	gvrDeployments = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
	gvrReplicaSets = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "replicasets"}
	gvrNetPols     = schema.GroupVersionResource{Group: "networking.k8s.io", Version: "v1", Resource: "networkpolicies"}
	gvrRoles       = schema.GroupVersionResource{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "roles"}
	gvrBindings    = schema.GroupVersionResource{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "rolebindings"}
	gvrCRoles      = schema.GroupVersionResource{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "clusterroles"}
	gvrCBindings   = schema.GroupVersionResource{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "clusterrolebindings"}
)

func obj(apiVersion, kind, name string, extra map[string]any) *unstructured.Unstructured {
	o := map[string]any{"apiVersion": apiVersion, "kind": kind, "metadata": map[string]any{"name": name}}
	for k, v := range extra {
		o[k] = v
	}
	return &unstructured.Unstructured{Object: o}
}

func pod(name string) *unstructured.Unstructured {
	return obj("v1", "Pod", name, map[string]any{"spec": map[string]any{"containers": []any{map[string]any{"name": "web", "image": "nginx:1.27"}}}})
}

func deployment(name string, replicas int64) *unstructured.Unstructured {
	return obj("apps/v1", "Deployment", name, map[string]any{"spec": map[string]any{
		"replicas": replicas,
		"selector": map[string]any{"matchLabels": map[string]any{"app": name}},
		"strategy": map[string]any{"type": "RollingUpdate", "rollingUpdate": map[string]any{"maxSurge": int64(1), "maxUnavailable": int64(0)}},
		"template": map[string]any{
			"metadata": map[string]any{"labels": map[string]any{"app": name}},
			"spec":     map[string]any{"containers": []any{map[string]any{"name": "web", "image": "nginx:1.27"}}},
		},
	}})
}

// attempt is one request a learner must not be allowed to make.
type attempt struct {
	what string
	do   func(ctx context.Context, d dynamic.Interface) error
}

func create(gvr schema.GroupVersionResource, ns string, o *unstructured.Unstructured) func(context.Context, dynamic.Interface) error {
	return func(ctx context.Context, d dynamic.Interface) error {
		_, err := d.Resource(gvr).Namespace(ns).Create(ctx, o, metav1.CreateOptions{})
		return err
	}
}

func list(gvr schema.GroupVersionResource, ns string) func(context.Context, dynamic.Interface) error {
	return func(ctx context.Context, d dynamic.Interface) error {
		_, err := d.Resource(gvr).Namespace(ns).List(ctx, metav1.ListOptions{})
		return err
	}
}

func get(gvr schema.GroupVersionResource, ns, name string) func(context.Context, dynamic.Interface) error {
	return func(ctx context.Context, d dynamic.Interface) error {
		_, err := d.Resource(gvr).Namespace(ns).Get(ctx, name, metav1.GetOptions{})
		return err
	}
}

func del(gvr schema.GroupVersionResource, ns, name string) func(context.Context, dynamic.Interface) error {
	return func(ctx context.Context, d dynamic.Interface) error {
		return d.Resource(gvr).Namespace(ns).Delete(ctx, name, metav1.DeleteOptions{})
	}
}

func patch(gvr schema.GroupVersionResource, ns, name string) func(context.Context, dynamic.Interface) error {
	return func(ctx context.Context, d dynamic.Interface) error {
		_, err := d.Resource(gvr).Namespace(ns).Patch(ctx, name, "application/merge-patch+json", []byte(`{"metadata":{"labels":{"by":"alice"}}}`), metav1.PatchOptions{})
		return err
	}
}

// uids lists the UID of every object of these kinds, cluster-wide.
func uids(t testing.TB, d dynamic.Interface) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, gvr := range []schema.GroupVersionResource{gvrNamespaces, gvrPods, gvrConfigMaps, gvrSecrets, gvrServiceAccs, gvrDeployments, gvrReplicaSets, gvrRoles, gvrBindings, gvrCRoles, gvrCBindings, gvrNodes} {
		l, err := d.Resource(gvr).List(context.Background(), metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range l.Items {
			out[gvr.Resource+" "+o.GetNamespace()+"/"+o.GetName()] = string(o.GetUID())
		}
	}
	return out
}

// TestWorkshopOnAnExistingCluster brings the example up for three
// learners on a cluster lab did not make, proves each learner is held
// to their own namespaces, limits and token, checks their work one by
// one and all at once, removes one learner, and takes it all down
// again, leaving what was there before by UID.
func TestWorkshopOnAnExistingCluster(t *testing.T) {
	w := newWorkshop(t)
	ctx := context.Background()
	admin := w.admin()

	// Something on the cluster that is not lab's, beside its own objects.
	if _, err := admin.Resource(gvrNamespaces).Create(ctx, obj("v1", "Namespace", "instructor-notes", nil), metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	if _, err := admin.Resource(gvrConfigMaps).Namespace("instructor-notes").Create(ctx, obj("v1", "ConfigMap", "plan", map[string]any{"data": map[string]any{"day": "one"}}), metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	before := uids(t, admin)

	learners := []string{"alice", "bob", "carol"}
	up := w.must(learners, "up")
	t.Cleanup(func() { w.lab(learners, "down") })
	if !strings.Contains(up, "existing_cluster.event") {
		t.Errorf("lab up does not name the existing cluster:\n%s", up)
	}
	if out := w.must(learners, "plan", "-detailed-exitcode"); !strings.Contains(out, "No changes") {
		t.Errorf("plan after up has changes:\n%s", out)
	}

	t.Run("plan reads each kind of lab's objects with one LIST, and sees drift", func(t *testing.T) {
		// Counted by the API server itself; nothing else on the cluster
		// GETs these kinds one by one (controllers read from informers).
		kinds := []string{"namespaces", "resourcequotas", "limitranges", "networkpolicies", "roles", "rolebindings", "serviceaccounts", "deployments", "services"}
		before := requests(t, w)
		if out := w.must(learners, "plan", "-detailed-exitcode"); !strings.Contains(out, "No changes") {
			t.Fatalf("plan has changes:\n%s", out)
		}
		after := requests(t, w)
		for _, k := range kinds {
			// The namespace controller may still be finalizing an earlier
			// test's namespaces, reading each with a GET.
			if got := after["GET "+k] - before["GET "+k]; got != 0 && k != "namespaces" {
				t.Errorf("plan sent %v GETs of %s, want none (one LIST)", got, k)
			}
			if got := after["LIST "+k] - before["LIST "+k]; got != 1 {
				t.Errorf("plan sent %v LISTs of %s, want 1", got, k)
			}
		}
		// By hand, bob scales the fleet lab installed: the next plan, a new
		// command with a new LIST, says so.
		p := []byte(`{"spec":{"replicas":3}}`)
		if _, err := admin.Resource(gvrDeployments).Namespace("bob-staging").Patch(ctx, "fleet", types.MergePatchType, p, metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
		out, code := w.lab(learners, "plan", "-detailed-exitcode")
		if code != 2 || !strings.Contains(out, `helm_release.fleet["bob-staging"]`) || !strings.Contains(out, "spec.replicas") {
			t.Errorf("plan after bob scaled his fleet: exit %d, want 2 naming helm_release.fleet[\"bob-staging\"] and spec.replicas:\n%s", code, out)
		}
		w.must(learners, "up")
	})

	t.Run("kubeconfig files are private", func(t *testing.T) {
		for _, l := range learners {
			info, err := os.Stat(filepath.Join(w.dir, "learners", l+".kubeconfig"))
			if err != nil {
				t.Fatal(err)
			}
			if info.Mode().Perm() != 0o600 {
				t.Errorf("%s.kubeconfig has mode %v, want 0600", l, info.Mode().Perm())
			}
		}
	})

	t.Run("alice works in her dev namespace", func(t *testing.T) {
		_, alice := w.as("alice")
		if _, err := alice.Resource(gvrDeployments).Namespace("alice-dev").Create(ctx, deployment("warmup", 1), metav1.CreateOptions{}); err != nil {
			t.Fatalf("alice cannot create a Deployment in alice-dev: %v", err)
		}
		if err := alice.Resource(gvrDeployments).Namespace("alice-dev").Delete(ctx, "warmup", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := alice.Resource(gvrPods).Namespace("alice-staging").List(ctx, metav1.ListOptions{}); err != nil {
			t.Errorf("alice cannot look at her staging namespace: %v", err)
		}
	})

	t.Run("alice is refused elsewhere", func(t *testing.T) {
		_, alice := w.as("alice")
		attempts := []attempt{
			// bob's namespaces
			{"list pods in bob-dev", list(gvrPods, "bob-dev")},
			{"create a pod in bob-dev", create(gvrPods, "bob-dev", pod("intruder"))},
			{"create a deployment in bob-dev", create(gvrDeployments, "bob-dev", deployment("intruder", 1))},
			{"list deployments in bob-staging", list(gvrDeployments, "bob-staging")},
			{"delete bob's fleet in bob-staging", del(gvrDeployments, "bob-staging", "fleet")},
			{"patch bob's fleet in bob-test", patch(gvrDeployments, "bob-test", "fleet")},
			{"read secrets in bob-dev", list(gvrSecrets, "bob-dev")},
			{"get bob's ServiceAccount", get(gvrServiceAccs, "bob-dev", "learner")},
			{"delete bob's RoleBinding", del(gvrBindings, "bob-dev", "learner")},
			{"create a RoleBinding in bob-dev", create(gvrBindings, "bob-dev", obj("rbac.authorization.k8s.io/v1", "RoleBinding", "x", map[string]any{"roleRef": map[string]any{"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "admin"}, "subjects": []any{map[string]any{"kind": "ServiceAccount", "name": "learner", "namespace": "alice-dev"}}}))},
			{"list configmaps in carol-dev", list(gvrConfigMaps, "carol-dev")},
			// cluster-scoped objects
			{"list namespaces", list(gvrNamespaces, "")},
			{"create a namespace", create(gvrNamespaces, "", obj("v1", "Namespace", "alice-extra", nil))},
			{"delete her own namespace", del(gvrNamespaces, "", "alice-dev")},
			{"label her own namespace", patch(gvrNamespaces, "", "alice-dev")},
			{"list nodes", list(gvrNodes, "")},
			{"list persistentvolumes", list(gvrPVs, "")},
			{"list clusterroles", list(gvrCRoles, "")},
			{"create a clusterrolebinding", create(gvrCBindings, "", obj("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "alice-admin", map[string]any{"roleRef": map[string]any{"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"}, "subjects": []any{map[string]any{"kind": "ServiceAccount", "name": "learner", "namespace": "alice-dev"}}}))},
			{"list pods in kube-system", list(gvrPods, "kube-system")},
			{"read secrets in kube-system", list(gvrSecrets, "kube-system")},
			// lab's own objects in her namespaces
			{"delete her ResourceQuota", del(gvrQuotas, "alice-dev", "learner-quota")},
			{"raise her ResourceQuota", patch(gvrQuotas, "alice-dev", "learner-quota")},
			{"delete her LimitRange", del(gvrLimitRanges, "alice-dev", "learner-defaults")},
			{"delete her NetworkPolicy", del(gvrNetPols, "alice-dev", "same-learner-only")},
			{"create a NetworkPolicy", create(gvrNetPols, "alice-dev", obj("networking.k8s.io/v1", "NetworkPolicy", "open", map[string]any{"spec": map[string]any{"podSelector": map[string]any{}}}))},
			{"edit her Role", patch(gvrRoles, "alice-dev", "learner")},
			{"delete her RoleBinding", del(gvrBindings, "alice-dev", "learner")},
			{"delete her ServiceAccount", del(gvrServiceAccs, "alice-dev", "learner")},
			{"read the helm release records in alice-staging", list(gvrSecrets, "alice-staging")},
			{"delete lab's fleet in alice-staging", del(gvrDeployments, "alice-staging", "fleet")},
			{"scale lab's fleet in alice-test", patch(gvrDeployments, "alice-test", "fleet")},
			{"create a pod in alice-staging", create(gvrPods, "alice-staging", pod("x"))},
		}
		if len(attempts) < 20 {
			t.Fatalf("only %d attempts", len(attempts))
		}
		for _, a := range attempts {
			err := a.do(ctx, alice)
			if !apierrors.IsForbidden(err) {
				t.Errorf("alice: %s: got %v, want 403 Forbidden", a.what, err)
			}
		}
		t.Logf("%d requests by alice outside her work refused with 403", len(attempts))
	})

	t.Run("over quota", func(t *testing.T) {
		_, alice := w.as("alice")
		var refused error
		for i := 0; i < 8 && refused == nil; i++ {
			_, refused = alice.Resource(gvrPods).Namespace("alice-dev").Create(ctx, pod(fmt.Sprintf("extra-%d", i)), metav1.CreateOptions{})
		}
		if !apierrors.IsForbidden(refused) || !strings.Contains(refused.Error(), "exceeded quota: learner-quota") {
			t.Fatalf("the pod over alice's quota: %v, want 403 naming learner-quota", refused)
		}
		bg := metav1.DeletePropagationBackground
		if err := alice.Resource(gvrPods).Namespace("alice-dev").DeleteCollection(ctx, metav1.DeleteOptions{GracePeriodSeconds: new(int64), PropagationPolicy: &bg}, metav1.ListOptions{}); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("network policies keep other learners out", func(t *testing.T) {
		ns := map[string]labels.Set{}
		nl, err := admin.Resource(gvrNamespaces).List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range nl.Items {
			ns[n.GetName()] = n.GetLabels()
		}
		for _, owner := range learners {
			for _, stage := range []string{"dev", "staging", "test"} {
				space := owner + "-" + stage
				np, err := admin.Resource(gvrNetPols).Namespace(space).Get(ctx, "same-learner-only", metav1.GetOptions{})
				if err != nil {
					t.Fatal(err)
				}
				allowed := policyPeers(t, np)
				for other, l := range ns {
					from := l["lab.dev/learner"]
					if got, want := allowed.Matches(l), from == owner; got != want {
						t.Errorf("%s's policy in %s lets in pods of namespace %s (learner %q): %v, want %v", owner, space, other, from, got, want)
					}
				}
			}
		}
	})

	t.Run("tokens end as stated", func(t *testing.T) {
		claims := tokenClaims(t, filepath.Join(w.dir, "learners", "alice.kubeconfig"))
		if got := time.Duration(claims.Exp-claims.Iat) * time.Second; got != 8*time.Hour {
			t.Errorf("alice's token lives %s, want the lab file's token_lifetime 8h", got)
		}
		state, err := os.ReadFile(filepath.Join(w.dir, ".lab", "state.json"))
		if err != nil {
			t.Fatal(err)
		}
		exp := time.Unix(claims.Exp, 0).UTC().Format(time.RFC3339)
		if !bytes.Contains(state, []byte(`"expires_at":"`+exp+`"`)) && !bytes.Contains(state, []byte(exp)) {
			t.Errorf("state does not record the token's end %s", exp)
		}
		// The API server honours a token's end, after the minute of clock
		// leeway it allows: a token of the same ServiceAccount that is
		// still in its lifetime works, one that ended before is refused.
		cfg, _ := w.as("alice")
		try := func(token string) error {
			c := rest.AnonymousClientConfig(cfg)
			c.BearerToken = token
			_, err := dynamic.NewForConfigOrDie(c).Resource(gvrPods).Namespace("alice-dev").List(ctx, metav1.ListOptions{})
			return err
		}
		now := time.Now()
		if err := try(mintToken(t, w.cl, claims, now.Add(-time.Hour), now.Add(time.Hour))); err != nil {
			t.Fatalf("a token of alice's ServiceAccount within its lifetime is refused: %v", err)
		}
		if err := try(mintToken(t, w.cl, claims, now.Add(-time.Hour), now.Add(-61*time.Second))); !apierrors.IsUnauthorized(err) {
			t.Errorf("a token past its end: got %v, want 401 Unauthorized", err)
		}
	})

	t.Run("plan says what the credentials may not do", func(t *testing.T) {
		dir := t.TempDir()
		lab := `resource "existing_cluster" "event" {
  kubeconfig = "` + filepath.Join(w.dir, "learners", "alice.kubeconfig") + `"
}
resource "namespace" "mine" {
  name = "alice-more"
}
resource "manifest" "cm" {
  namespace = "bob-dev"
  content   = yamlencode({ apiVersion = "v1", kind = "ConfigMap", metadata = { name = "x" } })
}
`
		if err := os.WriteFile(filepath.Join(dir, "labs.hcl"), []byte(lab), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(filepath.Join(w.bin, "lab"), "plan")
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "NO_COLOR=1", "LAB_BIN_DIR="+w.bin)
		out, err := cmd.CombinedOutput()
		if err == nil {
			t.Fatalf("plan with alice's credentials passed:\n%s", out)
		}
		for _, want := range []string{
			"cannot create namespaces: forbidden",
			"system:serviceaccount:alice-dev:learner",
			"cannot create configmaps in namespace bob-dev: forbidden",
		} {
			if !strings.Contains(string(out), want) {
				t.Errorf("plan does not say %q:\n%s", want, out)
			}
		}
		if _, err := os.Stat(filepath.Join(dir, ".lab", "state.json")); !os.IsNotExist(err) {
			t.Errorf("a refused plan wrote state: %v", err)
		}
	})

	t.Run("lab verify --learner and --all-learners", func(t *testing.T) { verifyLearners(t, w, learners) })

	t.Run("a learner who leaves takes only their objects", func(t *testing.T) {
		keep := uids(t, admin)
		w.must([]string{"alice", "carol"}, "up")
		now := uids(t, admin)
		for k, uid := range keep {
			bobs := strings.Contains(k, "bob-") || strings.HasSuffix(k, "/bob")
			switch {
			case bobs && now[k] != "":
				if strings.HasPrefix(k, "namespaces ") {
					t.Errorf("%s is still there after bob left", k)
				}
			case !bobs && now[k] != uid && !strings.HasPrefix(k, "pods ") && !strings.HasPrefix(k, "replicasets ") && !strings.Contains(k, "token"):
				t.Errorf("%s changed (uid %s → %q) when bob left", k, uid, now[k])
			}
		}
		if _, err := os.Stat(filepath.Join(w.dir, "learners", "bob.kubeconfig")); !os.IsNotExist(err) {
			t.Errorf("bob's kubeconfig is still there: %v", err)
		}
	})

	w.must([]string{"alice", "carol"}, "down")
	after := uids(t, admin)
	for k, uid := range before {
		if after[k] != uid {
			t.Errorf("lab down changed what was there before: %s uid %s → %q", k, uid, after[k])
		}
	}
	for k := range after {
		if strings.HasPrefix(k, "namespaces /alice-") || strings.HasPrefix(k, "namespaces /carol-") {
			t.Errorf("%s is left after lab down", k)
		}
	}
	if err := filepath.WalkDir(filepath.Join(w.dir, "learners"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			t.Errorf("lab down left %s", p)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// policyPeers is the namespace selector of a NetworkPolicy's one
// ingress rule.
func policyPeers(t testing.TB, np *unstructured.Unstructured) labels.Selector {
	t.Helper()
	rules, _, _ := unstructured.NestedSlice(np.Object, "spec", "ingress")
	if len(rules) != 1 {
		t.Fatalf("%s/%s has %d ingress rules", np.GetNamespace(), np.GetName(), len(rules))
	}
	from, _, _ := unstructured.NestedSlice(rules[0].(map[string]any), "from")
	if len(from) != 1 {
		t.Fatalf("%s: %d peers", np.GetNamespace(), len(from))
	}
	raw, _ := json.Marshal(from[0].(map[string]any)["namespaceSelector"])
	var sel metav1.LabelSelector
	if err := json.Unmarshal(raw, &sel); err != nil {
		t.Fatal(err)
	}
	s, err := metav1.LabelSelectorAsSelector(&sel)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

type claims struct {
	Iss  string   `json:"iss"`
	Sub  string   `json:"sub"`
	Aud  []string `json:"aud"`
	Exp  int64    `json:"exp"`
	Iat  int64    `json:"iat"`
	Nbf  int64    `json:"nbf"`
	Kube struct {
		Namespace      string `json:"namespace"`
		ServiceAccount struct {
			Name string `json:"name"`
			UID  string `json:"uid"`
		} `json:"serviceaccount"`
	} `json:"kubernetes.io"`
}

// tokenClaims reads the claims of the token in a kubeconfig file.
func tokenClaims(t testing.TB, path string) claims {
	t.Helper()
	kc, err := clientcmd.LoadFromFile(path)
	if err != nil {
		t.Fatal(err)
	}
	token := kc.AuthInfos[kc.Contexts[kc.CurrentContext].AuthInfo].Token
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("the token in %s is not a JWT", path)
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c claims
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

// mintToken signs, with the cluster's service-account key, a token of
// the same ServiceAccount as like, issued at iat and ending at exp.
func mintToken(t testing.TB, cl *simulated.Cluster, like claims, iat, exp time.Time) string {
	t.Helper()
	var keyPath string
	_ = filepath.WalkDir(cl.Dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Name() == "sa.key" {
			keyPath = p
		}
		return nil
	})
	pemBytes, err := os.ReadFile(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(pemBytes)
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	key := k.(*rsa.PrivateKey)
	der, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		t.Fatal(err)
	}
	kid := sha256.Sum256(der)
	c := like
	c.Iat, c.Nbf, c.Exp = iat.Unix(), iat.Unix(), exp.Unix()
	head, _ := json.Marshal(map[string]string{"alg": "RS256", "kid": base64.RawURLEncoding.EncodeToString(kid[:])})
	body, _ := json.Marshal(c)
	signing := base64.RawURLEncoding.EncodeToString(head) + "." + base64.RawURLEncoding.EncodeToString(body)
	sum := sha256.Sum256([]byte(signing))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	return signing + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// requests are the API server's request counts so far, by "VERB
// resource", from its own metrics.
func requests(t *testing.T, w *workshop) map[string]float64 {
	t.Helper()
	rc, err := rest.RESTClientFor(restConfigFor(w))
	if err != nil {
		t.Fatal(err)
	}
	body, err := rc.Get().AbsPath("/metrics").DoRaw(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, line := range strings.Split(string(body), "\n") {
		if !strings.HasPrefix(line, "apiserver_request_total{") {
			continue
		}
		labels, value, ok := strings.Cut(strings.TrimPrefix(line, "apiserver_request_total{"), "} ")
		if !ok {
			continue
		}
		var verb, res, sub string
		for _, kv := range strings.Split(labels, ",") {
			k, v, _ := strings.Cut(kv, "=")
			v = strings.Trim(v, `"`)
			switch k {
			case "verb":
				verb = v
			case "resource":
				res = v
			case "subresource":
				sub = v
			}
		}
		if sub != "" {
			continue
		}
		n, err := strconv.ParseFloat(value, 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		out[verb+" "+res] += n
	}
	return out
}

// restConfigFor is the admin's config, set up for a plain REST client.
func restConfigFor(w *workshop) *rest.Config {
	cfg := rest.CopyConfig(w.cl.Config)
	cfg.GroupVersion = &schema.GroupVersion{Version: "v1"}
	cfg.APIPath = "/api"
	cfg.NegotiatedSerializer = scheme.Codecs.WithoutConversion()
	return cfg
}
