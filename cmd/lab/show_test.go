package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestShowCRLF: a lab file saved with Windows line endings shows its task
// without carriage returns, as text and as JSON.
func TestShowCRLF(t *testing.T) {
	src := strings.ReplaceAll(`lab "fleet" {
  title = "Deploy a Fleet"
  task  = <<-EOT
    Create a Deployment named fleet.
    Give it 3 replicas.
  EOT
}
`, "\n", "\r\n")
	file := filepath.Join(t.TempDir(), "labs.hcl")
	if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"show", "fleet"}, {"-o", "json", "show", "fleet"}} {
		var out, errOut bytes.Buffer
		if code := run(append([]string{"-f", file}, args...), strings.NewReader(""), &out, &errOut); code != 0 {
			t.Fatalf("lab %s exited %d: %s", strings.Join(args, " "), code, errOut.String())
		}
		if strings.ContainsAny(out.String(), "\r") || strings.Contains(out.String(), `\r`) {
			t.Errorf("lab %s prints carriage returns: %q", strings.Join(args, " "), out.String())
		}
		if !strings.Contains(out.String(), "Create a Deployment named fleet.") {
			t.Errorf("lab %s lacks the task: %q", strings.Join(args, " "), out.String())
		}
	}
}
