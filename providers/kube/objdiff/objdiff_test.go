package objdiff

import (
	"reflect"
	"strings"
	"testing"

	kjson "k8s.io/apimachinery/pkg/util/json"
	"sigs.k8s.io/yaml"
)

// obj decodes YAML the way the manifest kind does: integers as int64.
func obj(t *testing.T, src string) map[string]any {
	t.Helper()
	js, err := yaml.YAMLToJSON([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := kjson.Unmarshal(js, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func render3(ds []Field) string {
	var b strings.Builder
	for _, d := range ds {
		b.WriteString(d.Path + "  " + Render(d.Old, !d.Absent) + " → " + Render(d.New, true) + "\n")
	}
	return b.String()
}

const deployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: dev
  labels: {app: web, "app.kubernetes.io/name": web}
spec:
  replicas: 3
  template:
    spec:
      containers:
      - name: web
        image: nginx:1.25
        args: ["-a", "-b"]
        resources:
          limits: {cpu: "0.5", memory: 1Gi}
          requests: {cpu: 1}
        ports:
        - containerPort: 80
      - name: side
        image: busybox
`

func TestSubsetEqualDespiteServerDefaults(t *testing.T) {
	want := obj(t, deployment)
	live := obj(t, deployment)
	// what the server adds or rewrites
	patch := `
metadata: {uid: "1", resourceVersion: "7", labels: {extra: x}, annotations: {"deployment.kubernetes.io/revision": "1"}}
spec:
  replicas: 3.0
  progressDeadlineSeconds: 600
  template:
    spec:
      containers:
      - name: side
        image: busybox
        imagePullPolicy: Always
      - name: web
        image: nginx:1.25
        args: ["-a", "-b"]
        imagePullPolicy: IfNotPresent
        resources:
          limits: {cpu: 500m, memory: 1Gi}
          requests: {cpu: "1"}
        ports:
        - containerPort: 80
          protocol: TCP
      - name: injected
        image: envoy
status: {replicas: 3}
`
	merge(t, live, patch)
	if d := Subset(Comparable(want), live); len(d) != 0 {
		t.Errorf("want no differences, got\n%s", render3(d))
	}
}

func TestSubsetDifferences(t *testing.T) {
	want := obj(t, deployment)
	live := obj(t, deployment)
	merge(t, live, `
metadata: {labels: {"app.kubernetes.io/name": other}}
spec:
  replicas: 5
  template:
    spec:
      containers:
      - name: web
        image: nginx:1.26
        args: ["-a"]
        resources:
          limits: {cpu: 250m, memory: 1Gi}
          requests: {cpu: 1}
        ports:
        - containerPort: 80
`)
	got := render3(Subset(Comparable(want), live))
	wantOut := `metadata.labels["app.kubernetes.io/name"]  other → web
spec.replicas  5 → 3
spec.template.spec.containers[name=web].args  ["-a"] → ["-a","-b"]
spec.template.spec.containers[name=web].image  nginx:1.26 → nginx:1.25
spec.template.spec.containers[name=web].resources.limits.cpu  250m → 0.5
spec.template.spec.containers[name=side]   → {"image":"busybox","name":"side"}
`
	if got != wantOut {
		t.Errorf("got\n%s\nwant\n%s", got, wantOut)
	}
}

func TestSubsetMissingAndTypes(t *testing.T) {
	want := map[string]any{
		"data":  map[string]any{"a": "1", "b": "x"},
		"empty": map[string]any{},
		"list":  []any{},
		"null":  nil,
		"flag":  true,
		"num":   int64(2),
		"str":   "2",
	}
	live := map[string]any{
		"data": map[string]any{"a": "1"},
		"flag": "true",
		"num":  "two",
		"str":  int64(2),
	}
	got := render3(Subset(want, live))
	wantOut := `data.b   → x
flag  true → true
num  two → 2
`
	if got != wantOut {
		t.Errorf("got\n%s\nwant\n%s", got, wantOut)
	}
}

func TestSubsetFieldValues(t *testing.T) {
	want := map[string]any{"a": "x", "b": int64(1), "c": []any{"p"}}
	live := map[string]any{"b": nil, "c": []any{"p", "q"}}
	got := Subset(want, live)
	wantFields := []Field{
		{Path: "a", New: "x", Absent: true},
		{Path: "b", Old: nil, New: int64(1)},
		{Path: "c", Old: []any{"p", "q"}, New: []any{"p"}},
	}
	if !reflect.DeepEqual(got, wantFields) {
		t.Errorf("Subset =\n%#v\nwant\n%#v", got, wantFields)
	}
}

func TestScalarEqual(t *testing.T) {
	for _, tc := range []struct {
		a, b any
		eq   bool
	}{
		{int64(1), float64(1), true},
		{int64(1), float64(1.5), false},
		{"500m", "0.5", true},
		{"1Gi", "1024Mi", true},
		{"1G", "1Gi", false},
		{int64(2), "2", true},
		{"2", int64(2), true},
		{"abc", "abc", true},
		{"abc", "abd", false},
		{"1e3", "1k", true},
		{"", "0", false},
		{true, false, false},
	} {
		if got := scalarEqual(tc.a, tc.b); got != tc.eq {
			t.Errorf("scalarEqual(%#v, %#v) = %v, want %v", tc.a, tc.b, got, tc.eq)
		}
	}
}

func TestSecretStringData(t *testing.T) {
	want := obj(t, "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData: {password: hunter2}\n")
	live := obj(t, "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata: {password: aHVudGVyMg==}\ntype: Opaque\n")
	if d := Subset(Comparable(want), live); len(d) != 0 {
		t.Errorf("want no differences, got\n%s", render3(d))
	}
	if _, ok := want["stringData"]; !ok {
		t.Errorf("Comparable changed its argument: %v", want)
	}
	live["data"] = map[string]any{"password": "b3RoZXI="}
	d := Subset(Comparable(want), live)
	if len(d) != 1 || d[0].Path != "data.password" {
		t.Errorf("got %+v, want one difference at data.password", d)
	}
}

func TestComparableSkipsWhatTheApplierDoesNotSet(t *testing.T) {
	want := map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "status": map[string]any{"x": "y"}, "data": map[string]any{"a": "b"}}
	got := Comparable(want)
	if !reflect.DeepEqual(got, map[string]any{"data": map[string]any{"a": "b"}}) {
		t.Errorf("Comparable = %v", got)
	}
	if len(want) != 4 {
		t.Errorf("Comparable changed its argument: %v", want)
	}
}

func TestRenderTruncates(t *testing.T) {
	s := Render(strings.Repeat("x", 200)+"\n", true)
	if len([]rune(s)) != maxRender || strings.Contains(s, "\n") {
		t.Errorf("render gave %d runes: %q", len([]rune(s)), s)
	}
}

// merge deep-merges YAML into m, lists replaced whole.
func merge(t *testing.T, m map[string]any, src string) {
	t.Helper()
	var p map[string]any
	if err := yaml.Unmarshal([]byte(src), &p); err != nil {
		t.Fatal(err)
	}
	var rec func(dst, src map[string]any)
	rec = func(dst, src map[string]any) {
		for k, v := range src {
			if sm, ok := v.(map[string]any); ok {
				if dm, ok := dst[k].(map[string]any); ok {
					rec(dm, sm)
					continue
				}
			}
			dst[k] = v
		}
	}
	rec(m, p)
}
