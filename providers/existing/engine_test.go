package existing_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zclconf/go-cty/cty"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	labapply "labs.dev/lab/lab/apply"
	"labs.dev/lab/lab/config"
	labplan "labs.dev/lab/lab/plan"
	"labs.dev/lab/lab/resource"
	"labs.dev/lab/lab/state"
	"labs.dev/lab/providers"
	"labs.dev/lab/providers/existing"
	"labs.dev/lab/providers/simulated/simtest"
)

// labFile runs the engine with every kind lab knows on one lab file, as
// lab plan, lab up and lab down do, without the command line.
type labFile struct {
	t     testing.TB
	dir   string
	cfg   *config.Config
	kinds map[string]resource.Kind
	opts  labplan.Options
	hook  *said
}

// said collects the engine's progress messages.
type said struct {
	labplan.NopHook
	mu   sync.Mutex
	msgs []string
}

func (s *said) Progress(p resource.Progress) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.msgs = append(s.msgs, p.Addr.String()+": "+p.Msg)
}

func (s *said) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Join(s.msgs, "\n")
}

func newLabFile(t testing.TB, dir, src string) *labFile {
	t.Helper()
	path := filepath.Join(dir, "labs.hcl")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	kinds := providers.Kinds(providers.Config{Kube: conns()})
	cfg, diags := config.Load(path, config.Options{Kinds: kinds, Env: []string{}})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	h := &said{}
	return &labFile{t: t, dir: dir, cfg: cfg, kinds: kinds, hook: h, opts: labplan.Options{
		Env: resource.Env{
			Dir: cfg.Dir, File: cfg.File, StateDir: filepath.Join(dir, ".lab"),
			Owner: resource.NewOwner(cfg.File),
			Log:   slog.New(slog.NewTextHandler(io.Discard, nil)),
		},
		Hook: h,
	}}
}

func (l *labFile) statePath() string { return filepath.Join(l.dir, ".lab", state.FileName) }

func (l *labFile) state() *state.State {
	l.t.Helper()
	st, err := state.Load(l.statePath())
	if err != nil {
		l.t.Fatal(err)
	}
	return st
}

func (l *labFile) plan() (*labplan.Plan, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	return labplan.Make(ctx, l.cfg, l.state(), l.opts)
}

// run applies p (or, with destroy, deletes everything in state).
func (l *labFile) run(destroy bool) *labapply.Result {
	l.t.Helper()
	res, err := l.try(destroy)
	if err != nil {
		l.t.Fatal(err)
	}
	return res
}

// try is run that returns the error.
func (l *labFile) try(destroy bool) (*labapply.Result, error) {
	l.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	st := l.state()
	p := labplan.MakeDestroy(l.cfg, st, l.opts)
	if !destroy {
		var err error
		if p, err = l.plan(); err != nil {
			l.t.Fatal(err)
		}
	}
	res, err := labapply.Apply(ctx, l.cfg, st, l.statePath(), p, l.kinds, l.opts)
	if err == nil {
		err = res.Err()
	}
	return res, err
}

// lab down after the context was pointed at another API server deletes
// nothing there: the objects lab's labels name are another cluster's.
// Pointed back, it deletes what it made.
func TestDownRefusesAContextThatNowReachesAnotherServer(t *testing.T) {
	c := simtest.Get(t)
	dir := t.TempDir()
	admin := dynamic.NewForConfigOrDie(c.Config)
	kubeconfigFrom(t, c, dir, "event.kubeconfig", nil)
	src := `
resource "existing_cluster" "event" {
  kubeconfig = "event.kubeconfig"
  context    = "` + c.Context + `"
}

resource "namespace" "made" {
  name = "existing-moved-made"
}
`
	if res := newLabFile(t, dir, src).run(false); res.Done[resource.Create] != 2 {
		t.Fatalf("up did %v, want 2 created", res.Done)
	}
	t.Cleanup(func() { deleteNamespace(t, admin, "existing-moved-made") })

	// Another server, as lab sees it: the same one by another name.
	other := strings.Replace(c.Endpoint, "127.0.0.1", "localhost", 1)
	kubeconfigFrom(t, c, dir, "event.kubeconfig", func(raw *clientcmdapi.Config) { server(raw, c.Context, other) })
	res, err := newLabFile(t, dir, src).try(true)
	if err == nil || res.Done[resource.Delete] != 0 {
		t.Fatalf("down with the context pointed elsewhere: %v, done %v; want an error and nothing deleted", err, res.Done)
	}
	mustContain(t, "down's error", err.Error(), "namespace.made", "now reaches "+other, "lab deletes nothing there")
	ctx := context.Background()
	if ns, err := admin.Resource(namespaces).Get(ctx, "existing-moved-made", metav1.GetOptions{}); err != nil || ns.GetDeletionTimestamp() != nil {
		t.Fatalf("the namespace was deleted by a down that should have refused: %v", err)
	}

	kubeconfigFrom(t, c, dir, "event.kubeconfig", nil)
	if res := newLabFile(t, dir, src).run(true); res.Done[resource.Delete] != 2 {
		t.Fatalf("down with the context pointed back did %v, want 2 deleted", res.Done)
	}
}

// Credentials that reach the cluster but may not do what the plan needs
// fail the plan of what lives in the cluster, naming the permission,
// who the credentials are and where they come from; the cluster itself
// answered, and said who they are.
func TestPlanSaysWhatTheCredentialsMayNotDo(t *testing.T) {
	c := simtest.Get(t)
	dir := t.TempDir()
	kc := serviceAccountKubeconfig(t, c, dir, "existing-creds", "nobody")
	t.Cleanup(func() { deleteNamespace(t, dynamic.NewForConfigOrDie(c.Config), "existing-creds") })
	user := "system:serviceaccount:existing-creds:nobody"

	ch, err := plan(t, existing.New(conns()), envIn(t, dir), at(kc, ""), cty.NilVal)
	if err != nil {
		t.Fatalf("the cluster does not answer the ServiceAccount: %v", err)
	}
	mustContain(t, "the cluster's plan", ch.Reason, "as "+user)

	l := newLabFile(t, dir, `
resource "existing_cluster" "event" {
  kubeconfig = "nobody.kubeconfig"
}

resource "namespace" "mine" {
  name = "existing-creds-mine"
}
`)
	_, err = l.plan()
	if err == nil {
		t.Fatal("plan passed with credentials that may not create namespaces")
	}
	mustContain(t, "the plan's error", err.Error(),
		"namespace.mine",
		"cannot create namespaces: forbidden for the credentials of",
		"in "+kc+" (user "+user+")",
		"kubectl auth can-i create namespaces",
	)
	if _, err := os.Stat(l.statePath()); !os.IsNotExist(err) {
		t.Errorf("a refused plan wrote state: %v", err)
	}
}

// lab down deletes what lab made in the cluster and gives back what it
// adopted; the cluster, its kubeconfig and context, and every namespace
// lab did not make stay as they were, by UID.
func TestDownTakesOnlyWhatLabMade(t *testing.T) {
	c := simtest.Get(t)
	dir := t.TempDir()
	admin := dynamic.NewForConfigOrDie(c.Config)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	theirs := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": "existing-down-theirs"}}}
	if _, err := admin.Resource(namespaces).Create(ctx, theirs, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { deleteNamespace(t, admin, "existing-down-theirs") })
	kc := kubeconfigFrom(t, c, dir, "event.kubeconfig", nil)
	kubeconfigBefore, err := os.ReadFile(kc)
	if err != nil {
		t.Fatal(err)
	}

	l := newLabFile(t, dir, `
resource "existing_cluster" "event" {
  kubeconfig = "event.kubeconfig"
  context    = "`+c.Context+`"
}

resource "namespace" "made" {
  name = "existing-down-made"
}

resource "namespace" "theirs" {
  name   = "existing-down-theirs"
  labels = { workshop = "yes" }
}
`)
	if res := l.run(false); res.Done[resource.Create] != 3 {
		t.Fatalf("up did %v, want 3 created", res.Done)
	}
	made, err := admin.Resource(namespaces).Get(ctx, "existing-down-made", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("up did not make its namespace: %v", err)
	}
	if !l.opts.Env.Owner.Owns(made.GetLabels()) {
		t.Errorf("the namespace lab made does not carry its owner: %v", made.GetLabels())
	}
	uids := namespaceUIDs(t, admin)
	delete(uids, "existing-down-made")

	if res := l.run(true); res.Done[resource.Delete] != 3 {
		t.Fatalf("down did %v, want 3 deleted", res.Done)
	}
	mustContain(t, "down's progress", l.hook.String(), "existing_cluster.event: the cluster at "+c.Endpoint+" stays: lab did not make it")

	if _, err := admin.Resource(namespaces).Get(ctx, "existing-down-made", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the namespace lab made is still there after down: %v", err)
	}
	now := namespaceUIDs(t, admin)
	for name, uid := range uids {
		if now[name] != uid {
			t.Errorf("namespace %s: uid %s → %q after down", name, uid, now[name])
		}
	}
	back, err := admin.Resource(namespaces).Get(ctx, "existing-down-theirs", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := back.GetLabels()["workshop"]; ok {
		t.Errorf("down left lab's label on the namespace it adopted: %v", back.GetLabels())
	}
	if after, err := os.ReadFile(kc); err != nil || string(after) != string(kubeconfigBefore) {
		t.Errorf("down changed the kubeconfig (%v):\n%s", err, after)
	}
	if _, err := admin.Resource(namespaces).Get(ctx, "kube-system", metav1.GetOptions{}); err != nil {
		t.Errorf("the cluster does not answer after down: %v", err)
	}
	if st := l.state(); len(st.Resources) != 0 {
		t.Errorf("state still holds %d resources after down", len(st.Resources))
	}
}

func deleteNamespace(t testing.TB, d dynamic.Interface, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := d.Resource(namespaces).Delete(ctx, name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		t.Errorf("clean up namespace %s: %v", name, err)
	}
}

// lab validate points at the argument that is wrong, as for the other
// kinds, and says each problem once.
func TestValidatePointsAtTheArgument(t *testing.T) {
	dir := t.TempDir()
	l := newLabFile(t, dir, `
resource "existing_cluster" "event" {
  kubeconfig = "gone.kubeconfig"
}
`)
	diags := labplan.Validate(l.cfg)
	if len(diags) != 1 {
		t.Fatalf("%d diagnostics, want 1: %v", len(diags), diags)
	}
	d := diags[0]
	if want := `Invalid value for "kubeconfig" in existing_cluster.event`; d.Summary != want {
		t.Errorf("summary %q, want %q", d.Summary, want)
	}
	if d.Subject == nil || d.Subject.Start.Line != 3 {
		t.Errorf("points at %v, want line 3 (the kubeconfig argument)", d.Subject)
	}
	mustContain(t, "the diagnostic", d.Detail, `kubeconfig "gone.kubeconfig": there is no file `+filepath.Join(dir, "gone.kubeconfig"))
	if strings.HasPrefix(d.Detail, "existing_cluster.event") {
		t.Errorf("the detail repeats the address: %q", d.Detail)
	}
}
