package config

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
)

// FuzzLoad feeds arbitrary bytes to Load as labs.hcl. Load must never
// panic, and every error must say where it is (a Subject in the file) or,
// when it has no place, what is wrong and what to do. The seed corpus in
// testdata/fuzz/FuzzLoad holds the lab files of testdata/hostile and the
// shipped labs.hcl.
func FuzzLoad(f *testing.F) {
	const slowLoad = 5 * time.Second // generous: CI machines are shared
	f.Add([]byte("resource \"namespace\" \"dev\" {\n  name = \"dev\"\n}\n"))
	f.Add([]byte("variable \"x\" {\n  type = number\n  default = \"three\"\n}\nlocals { y = var.x + local.z }\n"))
	dir := f.TempDir()
	file := filepath.Join(dir, "labs.hcl")
	f.Fuzz(func(t *testing.T, src []byte) {
		if err := os.WriteFile(file, src, 0o644); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		_, diags := Load(file, Options{Kinds: kinds, Env: []string{}})
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
