package kubernetes

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestDecodeMultiDoc(t *testing.T) {
	src := `---
# leading comment only
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: a
data:
  k: v
--- # trailing comment
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: dev
spec:
  replicas: 3

---
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: ConfigMap
  metadata: {name: b}
- apiVersion: v1
  kind: ConfigMap
  metadata: {name: c}
`
	objs, err := decode([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, o := range objs {
		got = append(got, fmt.Sprintf("%s/%s@%d:%d", o.Obj.GetKind(), o.Obj.GetName(), o.Doc, o.Line))
	}
	want := "ConfigMap/a@3:4 Deployment/web@4:11 ConfigMap/b@5:20 ConfigMap/c@5:20"
	if strings.Join(got, " ") != want {
		t.Errorf("got  %s\nwant %s", strings.Join(got, " "), want)
	}
	if r, _, _ := nestedInt(objs[1].Obj.Object, "spec", "replicas"); r != 3 {
		t.Errorf("replicas decoded as %v, want int64 3", objs[1].Obj.Object["spec"])
	}
}

func nestedInt(m map[string]any, path ...string) (int64, bool, error) {
	var cur any = m
	for _, p := range path {
		mm, ok := cur.(map[string]any)
		if !ok {
			return 0, false, nil
		}
		cur = mm[p]
	}
	n, ok := cur.(int64)
	return n, ok, nil
}

func TestDecodeErrors(t *testing.T) {
	for _, tc := range []struct{ name, src, want string }{
		{"syntax on line 7", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: [name: b\n",
			"document 2 (line 5)"},
		{"no kind", "apiVersion: v1\nmetadata: {name: a}\n", "document 1 (line 1): object has no kind"},
		{"no name", "apiVersion: v1\nkind: ConfigMap\nmetadata: {}\n", "ConfigMap has no metadata.name"},
		{"generateName", "apiVersion: v1\nkind: Pod\nmetadata: {generateName: x-}\n", "generateName"},
		{"no apiVersion", "kind: ConfigMap\nmetadata: {name: a}\n", "ConfigMap has no apiVersion"},
		{"list", "- a\n- b\n", "not a list"},
		{"scalar", "hello\n", "not a string"}, {"number", "3\n", "not a scalar"},
		{"separator text", "apiVersion: v1\n--- kind: x\n", "line 2: text after"},
		{"bad apiVersion", "apiVersion: a/b/c\nkind: X\nmetadata: {name: a}\n", "not group/version"},
		{"bad list item", "apiVersion: v1\nkind: List\nitems: [1]\n", "item 0 of the List"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := decode([]byte(tc.src))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestDecodeSyntaxErrorLine(t *testing.T) {
	src := "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b\n\tbad: tab\n"
	_, err := decode([]byte(src))
	if err == nil || !strings.Contains(err.Error(), "line 9") {
		t.Fatalf("error %v, want it to name line 9 of the stream", err)
	}
}

func TestDecodeEmpty(t *testing.T) {
	for _, src := range []string{"", "---\n", "# nothing\n---\n---\n"} {
		objs, err := decode([]byte(src))
		if err != nil || len(objs) != 0 {
			t.Errorf("decode(%q) = %d objects, %v; want none", src, len(objs), err)
		}
	}
}

// FuzzDecode: decode never panics, refuses with the document named, and
// returns only objects with a name and kind. The seed corpus in
// testdata/fuzz/FuzzDecode holds the manifests of testdata/hostile.
func FuzzDecode(f *testing.F) {
	f.Add("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\n")
	f.Add("apiVersion: v1\nkind: List\nitems: [{}]\n")
	f.Add("--- #\n: : :\n")
	f.Fuzz(func(t *testing.T, src string) {
		objs, err := decode([]byte(src))
		if err != nil {
			// Every refusal names the document it is about.
			if !strings.HasPrefix(err.Error(), "document ") {
				t.Fatalf("error does not name a document: %v", err)
			}
			return
		}
		for _, o := range objs {
			if o.Obj.GetName() == "" || o.Obj.GetKind() == "" {
				t.Fatalf("decoded an object without name or kind: %v", o.Obj.Object)
			}
		}
	})
}

func TestInside(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "lab")
	must(t, os.MkdirAll(filepath.Join(dir, "manifests"), 0o755))
	must(t, os.WriteFile(filepath.Join(dir, "manifests", "a.yaml"), []byte("x"), 0o644))
	must(t, os.WriteFile(filepath.Join(root, "secret.yaml"), []byte("s"), 0o644))
	must(t, os.Symlink(filepath.Join(root, "secret.yaml"), filepath.Join(dir, "link.yaml")))
	must(t, os.Symlink(filepath.Join(dir, "manifests", "a.yaml"), filepath.Join(dir, "inner.yaml")))

	for _, ok := range []string{"manifests/a.yaml", "./manifests/../manifests/a.yaml", "inner.yaml", filepath.Join(dir, "manifests", "a.yaml")} {
		if _, _, err := inside(dir, ok); err != nil {
			t.Errorf("inside(%q): %v", ok, err)
		}
	}
	for file, want := range map[string]string{
		"../secret.yaml":                   "outside the lab directory",
		"link.yaml":                        "outside the lab directory",
		filepath.Join(root, "secret.yaml"): "outside the lab directory",
		"missing.yaml":                     "not found",
	} {
		if _, _, err := inside(dir, file); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("inside(%q) = %v, want an error containing %q", file, err, want)
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// Hostile manifests fail fast with the document named, not by eating
// memory while aliases expand.
func TestDecodeHostile(t *testing.T) {
	bomb := "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: lol}\ndata:\n  a: &a [x,x,x,x,x,x,x,x,x]\n"
	for i, prev := range "abcdefgh" {
		name := string("bcdefghi"[i])
		bomb += fmt.Sprintf("  %s: &%s [*%c,*%c,*%c,*%c,*%c,*%c,*%c,*%c,*%c]\n", name, name, prev, prev, prev, prev, prev, prev, prev, prev, prev)
	}
	huge := "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: big}\ndata:\n  x: " + strings.Repeat("y", maxDocument) + "\n"
	for _, tc := range []struct{ name, src, want string }{
		{"billion laughs", "apiVersion: v1\nkind: Namespace\nmetadata: {name: ok}\n---\n" + bomb, "document 2 (line 5) expands to more than 100000 YAML nodes"},
		{"huge document", huge, "document 1 (line 1) is 3145793 bytes; the API server takes at most 3145728"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			_, err := decode([]byte(tc.src))
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("decode took %s", d)
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to contain %q", err, tc.want)
			}
		})
	}
}
