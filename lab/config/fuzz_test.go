package config

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"labs.dev/lab/lab/resource"
)

// fuzzKinds have the capabilities of the real ones, so the fuzzer also
// walks the resolution of which cluster a block lives in.
var fuzzKinds = map[string]resource.Kind{
	"namespace":    fakeInCluster{fakeKind{"namespace"}},
	"kind_cluster": fakeCluster{fakeKind{"kind_cluster"}},
}

type fakeCluster struct{ fakeKind }

func (fakeCluster) Connection(_ resource.Env, v cty.Value) (resource.Connection, bool) {
	return resource.Connection{Context: resource.StringAttr(v, "name")}, resource.Known(v, "name")
}
func (fakeCluster) RemovesContents() bool { return true }

type fakeInCluster struct{ fakeKind }

func (fakeInCluster) OwnConnection(_ resource.Env, v cty.Value) (resource.Connection, bool) {
	_, set := resource.Attr(v, "kubeconfig")
	return resource.Connection{Kubeconfig: resource.StringAttr(v, "kubeconfig")}, set || !resource.Known(v, "kubeconfig")
}

// FuzzLoad feeds arbitrary bytes to Load as labs.hcl. Load must never
// panic, and every error must say where it is (a Subject in the file) or,
// when it has no place, what is wrong and what to do. The seed corpus in
// testdata/fuzz/FuzzLoad holds the lab files of testdata/hostile and the
// shipped labs.hcl.
func FuzzLoad(f *testing.F) {
	const slowLoad = 5 * time.Second // generous: CI machines are shared
	f.Add([]byte("resource \"namespace\" \"dev\" {\n  name = \"dev\"\n}\n"))
	f.Add([]byte("variable \"x\" {\n  type = number\n  default = \"three\"\n}\nlocals { y = var.x + local.z }\n"))
	f.Add([]byte("resource \"kind_cluster\" \"a\" {\n  name = \"a\"\n}\nresource \"kind_cluster\" \"b\" {\n  name = \"b\"\n}\nresource \"namespace\" \"dev\" {\n  name    = \"dev\"\n  cluster = kind_cluster.b\n}\nresource \"namespace\" \"x\" {\n  name = \"x\"\n}\n"))
	dir := f.TempDir()
	file := filepath.Join(dir, "labs.hcl")
	f.Fuzz(func(t *testing.T, src []byte) {
		if err := os.WriteFile(file, src, 0o644); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		_, diags := Load(file, Options{Kinds: fuzzKinds, Env: []string{}})
		if d := time.Since(start); d > slowLoad {
			t.Fatalf("Load took %s", d)
		}
		for _, d := range diags {
			if d.Severity != hcl.DiagError {
				continue
			}
			if d.Summary == "" {
				t.Fatalf("error without a summary: %#v", d)
			}
			if d.Subject == nil && d.Detail == "" {
				t.Fatalf("error %q has neither a place nor a detail", d.Summary)
			}
			if d.Subject != nil && (d.Subject.Filename == "" || d.Subject.Start.Line < 1) {
				t.Fatalf("error %q has a place without a file or line: %#v", d.Summary, d.Subject)
			}
		}
	})
}
