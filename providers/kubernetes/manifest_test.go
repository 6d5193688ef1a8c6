package kubernetes

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"labs.dev/lab/lab/resource"
	"labs.dev/lab/providers/kube"
)

func mfConfig(f *fixture, content string, extra ...any) cty.Value {
	attrs := map[string]cty.Value{"content": cty.StringVal(content)}
	for i := 0; i+1 < len(extra); i += 2 {
		attrs[extra[i].(string)] = extra[i+1].(cty.Value)
	}
	return f.config(attrs)
}

func configMaps(ns string, n int, value string) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-%03d\n  namespace: %s\ndata:\n  key: %s\n  n: \"%d\"\n", i, ns, value, i)
	}
	return b.String()
}

func nsDoc(ns string) string {
	return "apiVersion: v1\nkind: Namespace\nmetadata: {name: " + ns + "}\n"
}

func TestManifestLifecycle(t *testing.T) {
	f := newFixture(t, Manifest(kube.NewConnections()), "app")
	ns := "t-mf-life"
	web := `---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, labels: {app: web}}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: nginx:1.25
        resources: {limits: {cpu: "0.1", memory: 16Mi}}
        ports: [{containerPort: 80}]
`
	content := nsDoc(ns) + configMaps(ns, 5, "v1") + web
	cfg := mfConfig(f, content, "namespace", cty.StringVal(ns))
	expect(t, f.up(cfg), resource.Create, false, "", fmt.Sprintf("Namespace %s   → (create)\n", ns)+
		"ConfigMap t-mf-life/cm-000   → (create)\nConfigMap t-mf-life/cm-001   → (create)\nConfigMap t-mf-life/cm-002   → (create)\n"+
		"ConfigMap t-mf-life/cm-003   → (create)\nConfigMap t-mf-life/cm-004   → (create)\nDeployment t-mf-life/web   → (create)\n")
	d := f.get(deployments, ns, "web")
	if !f.env.Owner.Owns(d.GetLabels()) || d.GetAnnotations()[resource.AnnotationResource] != "manifest.app" {
		t.Fatalf("deployment lacks lab's labels: %v %v", d.GetLabels(), d.GetAnnotations())
	}
	if avail, _, _ := unstructured.NestedInt64(d.Object, "status", "availableReplicas"); avail != 2 {
		t.Errorf("apply returned before the Deployment was available: %d replicas available", avail)
	}
	objs := priorObjects(f.state)
	if len(objs) != 7 || objs[6].id.String() != "Deployment t-mf-life/web" || objs[6].uid != string(d.GetUID()) {
		t.Fatalf("state objects: %+v", objs)
	}

	// edited by hand: drift, one line per field
	f.edit(deployments, ns, "web", func(u *unstructured.Unstructured) {
		_ = unstructured.SetNestedField(u.Object, int64(5), "spec", "replicas")
	})
	f.edit(configmaps, ns, "cm-001", func(u *unstructured.Unstructured) {
		_ = unstructured.SetNestedField(u.Object, "edited", "data", "key")
	})
	ch := f.plan(cfg)
	expect(t, ch, resource.Update, true, "2 objects changed outside lab",
		"ConfigMap t-mf-life/cm-001: data.key  edited → v1\nDeployment t-mf-life/web: spec.replicas  5 → 2\n")
	f.apply(cfg, ch)
	if r, _, _ := unstructured.NestedInt64(f.get(deployments, ns, "web").Object, "spec", "replicas"); r != 2 {
		t.Fatalf("replicas after repair: %d", r)
	}

	// deleted by hand: drift
	f.remove(configmaps, ns, "cm-002")
	ch = f.plan(cfg)
	expect(t, ch, resource.Update, true, "1 object deleted outside lab", "ConfigMap t-mf-life/cm-002   → (create; deleted outside lab)\n")
	f.apply(cfg, ch)

	// the lab file changes: update, no drift; a dropped object is pruned
	content = nsDoc(ns) + configMaps(ns, 4, "v2") + strings.Replace(web, "nginx:1.25", "nginx:1.26", 1)
	cfg = mfConfig(f, content, "namespace", cty.StringVal(ns))
	ch = f.plan(cfg)
	if ch.Action != resource.Update || ch.Drift || len(ch.Fields) != 6 ||
		ch.Fields[4].Path != "Deployment t-mf-life/web: spec.template.spec.containers[name=web].image" ||
		ch.Fields[5].Path != "ConfigMap t-mf-life/cm-004" || ch.Fields[5].New != "" {
		t.Fatalf("plan of a changed file: %s %v\n%s", ch.Action, ch.Drift, fields(ch))
	}
	f.apply(cfg, ch)
	if f.get(configmaps, ns, "cm-004") != nil {
		t.Fatal("cm-004 was not pruned")
	}
	if again := f.plan(cfg); again.Action != resource.NoOp {
		t.Fatalf("plan after update: %s\n%s", again.Action, fields(again))
	}

	// everything deleted by hand: created again
	f.destroy()
	f.waitAbsent(namespaces, "", ns)
	f.state = cty.NilVal
}

func TestManifestDeletesOnlyOwn(t *testing.T) {
	f := newFixture(t, Manifest(kube.NewConnections()), "own")
	ns := "t-mf-own"
	f.create(namespaces, nsDoc(ns))
	// made by the learner before lab: adopted, never deleted
	f.create(configmaps, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm-000, namespace: "+ns+"}\ndata: {key: mine}\n")
	cfg := mfConfig(f, configMaps(ns, 3, "v1"))
	ch := f.up(cfg)
	if ch.Action != resource.Create || !strings.Contains(ch.Reason, "1 of 3 objects exist already") {
		t.Fatalf("plan: %+v", ch)
	}
	if l := f.get(configmaps, ns, "cm-000").GetLabels(); f.env.Owner.Owns(l) {
		t.Fatalf("adopted object got owner labels: %v", l)
	}
	// lab's object replaced by hand by one of the same name
	f.remove(configmaps, ns, "cm-001")
	f.create(configmaps, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm-001, namespace: "+ns+"}\ndata: {key: mine}\n")
	// another lab file's object of the same name is not ours either
	other := resource.NewOwner("/elsewhere/labs.hcl")
	f.edit(configmaps, ns, "cm-002", func(u *unstructured.Unstructured) { u.SetLabels(other.Labels()) })

	f.destroy()
	for _, name := range []string{"cm-000", "cm-001", "cm-002"} {
		if f.get(configmaps, ns, name) == nil {
			t.Errorf("%s was deleted though this lab did not create it", name)
		}
	}
}

func TestManifestPruneOnlyOwn(t *testing.T) {
	f := newFixture(t, Manifest(kube.NewConnections()), "prune")
	ns := "t-mf-prune"
	f.create(namespaces, nsDoc(ns))
	f.up(mfConfig(f, configMaps(ns, 3, "v1")))
	f.edit(configmaps, ns, "cm-002", func(u *unstructured.Unstructured) { u.SetLabels(nil) })
	cfg := mfConfig(f, configMaps(ns, 1, "v1"))
	ch := f.plan(cfg)
	expect(t, ch, resource.Update, false, "", "ConfigMap t-mf-prune/cm-001  (exists; no longer declared) → \n")
	f.apply(cfg, ch)
	if f.get(configmaps, ns, "cm-001") != nil || f.get(configmaps, ns, "cm-002") == nil {
		t.Fatal("prune must delete cm-001 (lab's) and keep cm-002 (no longer lab's)")
	}
}

func TestManifestWaitTimeout(t *testing.T) {
	f := newFixture(t, Manifest(kube.NewConnections()), "stuck")
	ns := "t-mf-stuck"
	stuck := nsDoc(ns) + `---
apiVersion: apps/v1
kind: Deployment
metadata: {name: stuck, namespace: ` + ns + `}
spec:
  replicas: 1
  selector: {matchLabels: {app: stuck}}
  template:
    metadata: {labels: {app: stuck}}
    spec:
      nodeSelector: {no-such: node}
      containers: [{name: c, image: busybox}]
`
	cfg := mfConfig(f, stuck, "timeout", cty.StringVal("2s"))
	err := f.tryApply(cfg, f.plan(cfg))
	if err == nil || !strings.Contains(err.Error(), "not ready after the timeout of 2s") ||
		!strings.Contains(err.Error(), "Deployment t-mf-stuck/stuck (document 2 (line 5)): 0 of 1 pods scheduled: 0/1 nodes are available") {
		t.Fatalf("apply of an unschedulable Deployment: %v", err)
	}
	t.Log(err)
	f.state = cty.NilVal
	cfg = mfConfig(f, stuck, "wait", cty.False)
	f.apply(cfg, f.plan(cfg))
	f.destroy()
}

func TestManifestCRDInSameRun(t *testing.T) {
	f := newFixture(t, Manifest(kube.NewConnections()), "crd")
	crd := `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.dev}
spec:
  group: example.dev
  scope: Namespaced
  names: {kind: Widget, plural: widgets, singular: widget, listKind: WidgetList}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec: {type: object, properties: {size: {type: integer}, cpu: {type: string}}}
---
apiVersion: example.dev/v1
kind: Widget
metadata: {name: w, namespace: default}
spec: {size: 3, cpu: "0.5"}
`
	cfg := mfConfig(f, crd)
	ch := f.up(cfg)
	if ch.Action != resource.Create {
		t.Fatalf("plan: %+v", ch)
	}
	w := f.get(schema.GroupVersionResource{Group: "example.dev", Version: "v1", Resource: "widgets"}, "default", "w")
	if w == nil {
		t.Fatal("widget not created")
	}
	f.destroy()
	if f.get(schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}, "", "widgets.example.dev") != nil {
		t.Fatal("CRD left behind")
	}
}

func TestManifestErrors(t *testing.T) {
	f := newFixture(t, Manifest(kube.NewConnections()), "bad")
	planErr := func(cfg cty.Value) string {
		_, err := f.kind.Plan(ctx(t), resource.PlanRequest{Env: f.env, Addr: f.addr, Config: cfg, Prior: cty.NilVal})
		if err == nil {
			t.Fatal("plan succeeded")
		}
		return err.Error()
	}
	for _, tc := range []struct {
		cfg  cty.Value
		want string
	}{
		{mfConfig(f, "apiVersion: apps/v1\nkind: Deploymnet\nmetadata: {name: x}\n"), "document 1 (line 1): the cluster (context kind-kind"},
		{mfConfig(f, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n"), "both declare ConfigMap default/x"},
		{mfConfig(f, "a: [\n"), "manifest.bad: content: document 1 (line 1)"},
		{mfConfig(f, "# nothing\n"), "holds no Kubernetes objects"},
		{mfConfig(f, "x", "timeout", cty.StringVal("5 minutes")), "timeout \"5 minutes\" is not a positive duration"},
		{f.config(map[string]cty.Value{"file": cty.StringVal("../x.yaml")}), "not found"},
		{f.config(map[string]cty.Value{"file": cty.StringVal("a.yaml"), "content": cty.StringVal("")}), "not both"},
		{f.config(nil), "set content"},
	} {
		if got := planErr(tc.cfg); !strings.Contains(got, tc.want) {
			t.Errorf("plan error %q, want it to contain %q", got, tc.want)
		}
	}
	// a field the schema lacks: the server's strict validation names it
	cfg := mfConfig(f, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: t-bad}\ndatta: {a: b}\n")
	err := f.tryApply(cfg, f.plan(cfg))
	if err == nil || !strings.Contains(err.Error(), "apply ConfigMap default/t-bad (document 1 (line 1))") || !strings.Contains(err.Error(), "datta") {
		t.Fatalf("apply error: %v", err)
	}
}

func TestManifestFile(t *testing.T) {
	f := newFixture(t, Manifest(kube.NewConnections()), "file")
	must(t, os.MkdirAll(filepath.Join(f.env.Dir, "manifests"), 0o755))
	must(t, os.WriteFile(filepath.Join(f.env.Dir, "manifests", "cm.yaml"), []byte(configMaps("default", 2, "file")), 0o644))
	cfg := f.config(map[string]cty.Value{"file": cty.StringVal("manifests/cm.yaml")})
	f.up(cfg)
	if cm := f.get(configmaps, "default", "cm-001"); cm == nil || cm.Object["data"].(map[string]any)["key"] != "file" {
		t.Fatalf("configmap from file: %v", cm)
	}
	f.destroy()
	if f.get(configmaps, "default", "cm-001") != nil {
		t.Fatal("configmap left behind")
	}
}
