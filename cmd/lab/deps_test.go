package main

import (
	"os/exec"
	"strings"
	"testing"
)

// The lab binary stays small and starts fast because helm lives in the
// lab-helm worker (docs/architecture.md); one import can undo that.
func TestLabDoesNotLinkHelm(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 50 {
		t.Fatalf("go list -deps listed only %d packages; the check would prove nothing:\n%s", len(deps), out)
	}
	for _, p := range deps {
		if strings.HasPrefix(p, "helm.sh/") {
			t.Errorf("cmd/lab depends on %s; helm belongs in cmd/lab-helm (providers/helm/worker)", p)
		}
	}
}
