package existing_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/zclconf/go-cty/cty"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"labs.dev/lab/lab/resource"
	"labs.dev/lab/providers/existing"
	"labs.dev/lab/providers/kube"
	"labs.dev/lab/providers/simulated"
	"labs.dev/lab/providers/simulated/simtest"
)

func TestMain(m *testing.M) { os.Exit(simtest.Main(m)) }

var (
	namespaces      = schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}
	serviceAccounts = schema.GroupVersionResource{Version: "v1", Resource: "serviceaccounts"}
)

var addr = resource.Addr{Type: "existing_cluster", Name: "event"}

// conns are connections that give up on a server that never answered at
// once: a test of an unreachable cluster need not wait out the retries.
func conns() *kube.Connections {
	k := kube.NewConnections()
	k.FirstContactRetry = 0
	return k
}

// envIn is the Env of a lab file in dir.
func envIn(t testing.TB, dir string) resource.Env {
	file := filepath.Join(dir, "labs.hcl")
	return resource.Env{
		Dir: dir, File: file, StateDir: filepath.Join(dir, ".lab"),
		Owner:    resource.NewOwner(file),
		Log:      slog.New(slog.NewTextHandler(io.Discard, nil)),
		Progress: func(p resource.Progress) { t.Logf("progress: %s", p.Msg) },
	}
}

// block is an existing_cluster block as the engine hands it to the kind:
// its schema's arguments, those not in attrs null.
func block(attrs map[string]cty.Value) cty.Value {
	m := map[string]cty.Value{}
	for name, ty := range hcldec.ImpliedType(existing.New(nil).Schema()).AttributeTypes() {
		m[name] = cty.NullVal(ty)
		if v, ok := attrs[name]; ok {
			m[name] = v
		}
	}
	return cty.ObjectVal(m)
}

func at(kubeconfig, context string) cty.Value {
	attrs := map[string]cty.Value{"kubeconfig": cty.StringVal(kubeconfig)}
	if context != "" {
		attrs["context"] = cty.StringVal(context)
	}
	return block(attrs)
}

// kubeconfigFrom writes a copy of the cluster's kubeconfig to dir/name,
// changed by edit, and returns its path.
func kubeconfigFrom(t testing.TB, c *simulated.Cluster, dir, name string, edit func(*clientcmdapi.Config)) string {
	t.Helper()
	raw, err := clientcmd.LoadFromFile(c.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(raw)
	}
	p := filepath.Join(dir, name)
	if err := clientcmd.WriteToFile(*raw, p); err != nil {
		t.Fatal(err)
	}
	return p
}

// server points context ctx of raw at url.
func server(raw *clientcmdapi.Config, ctx, url string) {
	raw.Clusters[raw.Contexts[ctx].Cluster].Server = url
}

// closedPort is a local port nothing listens on.
func closedPort(t testing.TB) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := l.Addr().String()
	l.Close()
	return a
}

func plan(t testing.TB, k resource.Kind, env resource.Env, config, prior cty.Value) (*resource.Change, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return k.Plan(ctx, resource.PlanRequest{Env: env, Addr: addr, Config: config, Prior: prior})
}

func apply(t testing.TB, k resource.Kind, env resource.Env, config, prior cty.Value) (cty.Value, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return k.Apply(ctx, resource.ApplyRequest{Env: env, Addr: addr, Config: config, Prior: prior, Change: &resource.Change{Action: resource.Create}})
}

func mustContain(t testing.TB, what, got string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("%s does not say %q:\n%s", what, w, got)
		}
	}
}

// The cluster a context reaches is recorded as it describes itself, a
// second plan has nothing to do, and a block that names no context
// keeps going to the context recorded.
func TestRecordsTheClusterItReaches(t *testing.T) {
	c := simtest.Get(t)
	dir := t.TempDir()
	env := envIn(t, dir)
	k := existing.New(conns())
	cfg := at(c.Kubeconfig, "")

	ch, err := plan(t, k, env, cfg, cty.NilVal)
	if err != nil {
		t.Fatal(err)
	}
	if ch.Action != resource.Create {
		t.Fatalf("first plan: %s, want create", ch.Action)
	}
	mustContain(t, "the plan", ch.Reason, "context "+c.Context, c.Endpoint, "Kubernetes v1.35", "never creates or deletes the cluster")

	got, err := apply(t, k, env, cfg, cty.NilVal)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"context_name": c.Context, "endpoint": c.Endpoint} {
		if v := resource.StringAttr(got, name); v != want {
			t.Errorf("%s = %q, want %q", name, v, want)
		}
	}
	if v := resource.StringAttr(got, "kubernetes_version"); !strings.HasPrefix(v, "v1.35") {
		t.Errorf("kubernetes_version = %q", v)
	}
	if resource.StringAttr(got, "user") == "" {
		t.Error("user is empty: the cluster did not say who the credentials are")
	}

	ch, err = plan(t, k, env, cfg, got)
	if err != nil {
		t.Fatal(err)
	}
	if ch.Action != resource.NoOp {
		t.Errorf("second plan: %s %v, want no-op", ch.Action, ch.Fields)
	}

	conn, ok := k.(resource.Cluster).Connection(env, got)
	if !ok || conn.Context != c.Context || conn.Kubeconfig != c.Kubeconfig {
		t.Errorf("connection %+v %v, want the recorded context %s in %s", conn, ok, c.Context, c.Kubeconfig)
	}
}

// Plan against a cluster that does not answer says so, names the
// context, its kubeconfig and the server, and what to run to look.
func TestPlanSaysAClusterDoesNotAnswer(t *testing.T) {
	c := simtest.Get(t)
	dir := t.TempDir()
	gone := "https://" + closedPort(t)
	kc := kubeconfigFrom(t, c, dir, "down.kubeconfig", func(raw *clientcmdapi.Config) { server(raw, c.Context, gone) })

	_, err := plan(t, existing.New(conns()), envIn(t, dir), at(kc, c.Context), cty.NilVal)
	if err == nil {
		t.Fatal("plan against a stopped cluster passed")
	}
	mustContain(t, "the error", err.Error(),
		"existing_cluster.event: ",
		"the cluster of context "+c.Context+" in "+kc+" does not answer at "+gone,
		"connection refused",
		"check that it is up and that this machine reaches it",
		"kubectl --kubeconfig "+kc+" --context "+c.Context+" version",
	)
}

// A context the kubeconfig lacks is named, with the contexts it has,
// both by plan and, without a cluster, by validate at the argument.
func TestPlanNamesAMissingContext(t *testing.T) {
	c := simtest.Get(t)
	dir := t.TempDir()
	kc := kubeconfigFrom(t, c, dir, "two.kubeconfig", func(raw *clientcmdapi.Config) {
		staging := *raw.Contexts[c.Context]
		raw.Contexts["staging"] = &staging
	})
	k := existing.New(conns())
	want := `there is no context "nosuch" in ` + kc + "; its contexts: " + c.Context + ", staging"

	_, err := plan(t, k, envIn(t, dir), at(kc, "nosuch"), cty.NilVal)
	if err == nil {
		t.Fatal("plan with a context the kubeconfig lacks passed")
	}
	mustContain(t, "the plan's error", err.Error(), want)

	args, msg := validate(t, k, dir, at(kc, "nosuch"))
	if !reflect.DeepEqual(args, []string{"context"}) {
		t.Errorf("validate found problems with %v, want [context]", args)
	}
	mustContain(t, "validate", msg, want)

	// No context named, and none current: say so, with what to do.
	kc = kubeconfigFrom(t, c, dir, "nocurrent.kubeconfig", func(raw *clientcmdapi.Config) { raw.CurrentContext = "" })
	_, err = plan(t, k, envIn(t, dir), at(kc, ""), cty.NilVal)
	if err == nil {
		t.Fatal("plan with no context named or current passed")
	}
	mustContain(t, "the plan's error", err.Error(), kc+" has no current context; name one with context = ")
}

// validate runs the kind's Validate as the engine does and returns the
// arguments its problems name ("(block)" for one that names none) and
// the whole message.
func validate(t *testing.T, k resource.Kind, dir string, config cty.Value) ([]string, string) {
	t.Helper()
	err := k.(resource.Validator).Validate(resource.Env{Dir: dir, File: filepath.Join(dir, "labs.hcl")}, addr, config)
	if err == nil {
		return nil, ""
	}
	var args []string
	for _, e := range resource.Problems(err) {
		var ae *resource.ArgError
		if !errors.As(e, &ae) {
			args = append(args, "(block)")
			continue
		}
		args = append(args, ae.Arg)
	}
	if strings.HasPrefix(err.Error(), addr.String()) {
		t.Errorf("Validate prefixed its error with the address: %v", err)
	}
	return args, err.Error()
}

// Validate reports each problem as an *ArgError at its argument, as the
// other kinds do, and skips what is not known yet.
func TestValidate(t *testing.T) {
	c := simtest.Get(t)
	dir := t.TempDir()
	kc := kubeconfigFrom(t, c, dir, "ok.kubeconfig", nil)
	if err := os.WriteFile(filepath.Join(dir, "garbage.kubeconfig"), []byte("{{ not yaml"), 0o600); err != nil {
		t.Fatal(err)
	}
	unknown := cty.UnknownVal(cty.String)
	k := existing.New(nil)
	for _, tc := range []struct {
		name  string
		attrs map[string]cty.Value
		want  []string
		text  string
	}{
		{"no such file", map[string]cty.Value{"kubeconfig": cty.StringVal("gone.kubeconfig")},
			[]string{"kubeconfig"}, `kubeconfig "gone.kubeconfig": there is no file ` + filepath.Join(dir, "gone.kubeconfig")},
		{"a directory", map[string]cty.Value{"kubeconfig": cty.StringVal(".")},
			[]string{"kubeconfig"}, `kubeconfig ".": ` + dir + " is a directory"},
		{"not a kubeconfig", map[string]cty.Value{"kubeconfig": cty.StringVal("garbage.kubeconfig"), "context": cty.StringVal("x")},
			[]string{"kubeconfig"}, `kubeconfig "garbage.kubeconfig" is not a kubeconfig lab can read`},
		{"no such context", map[string]cty.Value{"kubeconfig": cty.StringVal("ok.kubeconfig"), "context": cty.StringVal("prod")},
			[]string{"context"}, `there is no context "prod" in ` + kc + "; its contexts: " + c.Context},
		{"file and context", map[string]cty.Value{"kubeconfig": cty.StringVal(kc), "context": cty.StringVal(c.Context)}, nil, ""},
		{"file, current context", map[string]cty.Value{"kubeconfig": cty.StringVal("ok.kubeconfig")}, nil, ""},
		{"unknown file", map[string]cty.Value{"kubeconfig": unknown, "context": cty.StringVal("prod")}, nil, ""},
		{"unknown context", map[string]cty.Value{"kubeconfig": cty.StringVal("ok.kubeconfig"), "context": unknown}, nil, ""},
		{"default kubeconfig", map[string]cty.Value{"context": cty.StringVal("prod")}, nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args, msg := validate(t, k, dir, block(tc.attrs))
			if !reflect.DeepEqual(args, tc.want) || !strings.Contains(msg, tc.text) {
				t.Fatalf("problems with %v (%q), want %v saying %q", args, msg, tc.want, tc.text)
			}
		})
	}
}

// A context that reaches another API server than the one recorded is
// refused by plan and by apply, since what lab made is in the first;
// pointed back, nothing is to do. The same server by another name
// (localhost, in its certificate, for 127.0.0.1) is another endpoint to
// lab, which cannot tell a second cluster apart from it.
func TestRefusesAContextThatNowReachesAnotherServer(t *testing.T) {
	c := simtest.Get(t)
	dir := t.TempDir()
	env := envIn(t, dir)
	// A kind per command, as lab builds one: connections are kept for
	// the command's length, and each step here is another command.
	k := func() resource.Kind { return existing.New(conns()) }
	kc := kubeconfigFrom(t, c, dir, "event.kubeconfig", nil)
	cfg := at(kc, c.Context)
	recorded, err := apply(t, k(), env, cfg, cty.NilVal)
	if err != nil {
		t.Fatal(err)
	}

	other := strings.Replace(c.Endpoint, "127.0.0.1", "localhost", 1)
	kubeconfigFrom(t, c, dir, "event.kubeconfig", func(raw *clientcmdapi.Config) { server(raw, c.Context, other) })
	want := []string{
		"existing_cluster.event: context " + c.Context + " now reaches " + other,
		"lab made its objects in the cluster at " + c.Endpoint,
		"point the context back at that cluster",
	}
	_, err = plan(t, k(), env, cfg, recorded)
	if err == nil {
		t.Fatal("plan passed with the context pointed at another server")
	}
	mustContain(t, "the plan's error", err.Error(), want...)
	// A plan saved before the switch and applied after it.
	_, err = apply(t, k(), env, cfg, recorded)
	if err == nil {
		t.Fatal("apply passed with the context pointed at another server")
	}
	mustContain(t, "the apply's error", err.Error(), want...)

	// Another name for the same context and server is only news.
	kubeconfigFrom(t, c, dir, "event.kubeconfig", func(raw *clientcmdapi.Config) {
		raw.Contexts["renamed"] = raw.Contexts[c.Context]
		delete(raw.Contexts, c.Context)
		raw.CurrentContext = "renamed"
	})
	ch, err := plan(t, k(), env, at(kc, ""), recorded)
	if err != nil {
		t.Fatal(err)
	}
	if ch.Action != resource.Update || len(ch.Fields) != 1 || ch.Fields[0].Path != "context_name" || ch.Fields[0].New != "renamed" {
		t.Errorf("renamed context: %s %+v, want an update of context_name to renamed", ch.Action, ch.Fields)
	}

	kubeconfigFrom(t, c, dir, "event.kubeconfig", nil)
	ch, err = plan(t, k(), env, cfg, recorded)
	if err != nil {
		t.Fatal(err)
	}
	if ch.Action != resource.NoOp {
		t.Errorf("pointed back: %s %v, want no-op", ch.Action, ch.Fields)
	}
}

// Delete leaves the cluster as it was: it still answers, and its
// kubeconfig, context and namespaces are where they were.
func TestDeleteLeavesTheCluster(t *testing.T) {
	c := simtest.Get(t)
	dir := t.TempDir()
	kc := kubeconfigFrom(t, c, dir, "event.kubeconfig", nil)
	before, err := os.ReadFile(kc)
	if err != nil {
		t.Fatal(err)
	}
	admin := dynamic.NewForConfigOrDie(c.Config)
	uids := namespaceUIDs(t, admin)

	env := envIn(t, dir)
	var mu sync.Mutex
	var said []string
	env.Progress = func(p resource.Progress) {
		mu.Lock()
		defer mu.Unlock()
		said = append(said, p.Msg)
	}
	k := existing.New(conns())
	recorded, err := apply(t, k, env, at(kc, c.Context), cty.NilVal)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := k.Delete(ctx, resource.DeleteRequest{Env: env, Addr: addr, Prior: recorded}); err != nil {
		t.Fatal(err)
	}
	mustContain(t, "delete's progress", strings.Join(said, "\n"), "the cluster at "+c.Endpoint+" stays: lab did not make it")

	after, err := os.ReadFile(kc)
	if err != nil || string(after) != string(before) {
		t.Errorf("delete changed the kubeconfig (%v):\n%s", err, after)
	}
	if _, err := plan(t, existing.New(conns()), env, at(kc, c.Context), cty.NilVal); err != nil {
		t.Errorf("the cluster does not answer after delete: %v", err)
	}
	for name, uid := range uids {
		if now := namespaceUIDs(t, admin)[name]; now != uid {
			t.Errorf("namespace %s: uid %s → %q after delete", name, uid, now)
		}
	}
}

// namespaceUIDs maps each namespace of the cluster to its UID, but for
// those being deleted (by an earlier test's clean-up).
func namespaceUIDs(t testing.TB, d dynamic.Interface) map[string]string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	list, err := d.Resource(namespaces).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, ns := range list.Items {
		if ns.GetDeletionTimestamp() != nil {
			continue
		}
		out[ns.GetName()] = string(ns.GetUID())
	}
	return out
}

// serviceAccountKubeconfig makes ServiceAccount name in namespace ns,
// which no role binds, and writes a kubeconfig with a token of it.
func serviceAccountKubeconfig(t testing.TB, c *simulated.Cluster, dir, ns, name string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin := dynamic.NewForConfigOrDie(c.Config)
	mk := func(gvr schema.GroupVersionResource, namespace string, o map[string]any) {
		if _, err := admin.Resource(gvr).Namespace(namespace).Create(ctx, &unstructured.Unstructured{Object: o}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	mk(namespaces, "", map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": ns}})
	mk(serviceAccounts, ns, map[string]any{"apiVersion": "v1", "kind": "ServiceAccount", "metadata": map[string]any{"name": name}})
	tr := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
		"metadata": map[string]any{"name": name}, // the ServiceAccount's
		"spec":     map[string]any{"expirationSeconds": int64(3600)},
	}}
	out, err := admin.Resource(serviceAccounts).Namespace(ns).Create(ctx, tr, metav1.CreateOptions{}, "token")
	if err != nil {
		t.Fatal(err)
	}
	token, _, _ := unstructured.NestedString(out.Object, "status", "token")
	if token == "" {
		t.Fatalf("TokenRequest gave no token: %v", out.Object)
	}
	return kubeconfigFrom(t, c, dir, name+".kubeconfig", func(raw *clientcmdapi.Config) {
		raw.AuthInfos = map[string]*clientcmdapi.AuthInfo{name: {Token: token}}
		raw.Contexts[c.Context].AuthInfo = name
	})
}
