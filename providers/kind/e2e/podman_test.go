package e2e

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

// The learner's whole path on rootful podman, with lab's offline node
// image: up, the lesson's outputs, a container that really runs, verify
// before and after the solution, lab test, a stopped node brought back
// with the learner's work in it, a lab killed during create, down.
func TestPodmanEndToEnd(t *testing.T) {
	s := newSession(t, "podman")

	up := s.must(0, "lab", "up", "-var", "runtime=podman")
	for _, want := range []string{`Creating kind cluster "kind" on podman with node image localhost/lab/kind-node:v1.35.4`, "Apply complete! Resources: 6 added"} {
		must(t, strings.Contains(up.stdout, want), "lab up does not say %q:\n%s", want, up.stdout)
	}
	st := s.must(0, "lab", "status")
	must(t, regexp.MustCompile(`kind_cluster.kind +ready +kind on podman, node image localhost/lab/kind-node:v1.35.4, Kubernetes v1\.35\.4`).MatchString(st.stdout),
		"lab status does not show the node image and its Kubernetes version:\n%s", st.stdout)
	s.must(0, "lab", "plan", "-detailed-exitcode")

	s.lesson()

	// verify fails on the fresh environment; lab test proves the lab;
	// the learner's solution then passes.
	v := s.must(1, "lab", "verify", "deploy-fleet")
	must(t, strings.Contains(v.stdout, "0 passed, 5 failed"), "verify before the solution:\n%s", v.stdout)
	s.must(0, "lab", "test", "deploy-fleet")
	s.kubectl("apply", "-f", "manifests/deploy-fleet/solution.yaml")
	s.must(0, "kubectl", "rollout", "status", "deployment", "fleet", "-n", "dev", "--timeout=180s")
	s.must(0, "lab", "verify", "deploy-fleet", "--timeout", "60s")

	// A container really runs: it answers an exec, and its log has the
	// request the exec made.
	pod := strings.TrimSpace(s.kubectl("get", "pods", "-n", "dev", "-l", "app=fleet", "-o", "jsonpath={.items[0].metadata.name}"))
	page := s.kubectl("exec", "-n", "dev", pod, "--", "wget", "-qO-", "http://127.0.0.1/")
	must(t, strings.Contains(page, "lab sample web server"), "GET / inside pod %s: %q", pod, page)
	logs := s.kubectl("logs", "-n", "dev", pod)
	must(t, strings.Contains(logs, `"GET / HTTP/1.1" 200`), "kubectl logs %s: %q; want the request just made", pod, logs)

	// The node stops (a hibernated instance); plan names it, up brings
	// it back, and the learner's Deployment is still there.
	s.must(0, "podman", "stop", "kind-control-plane")
	plan := s.must(2, "lab", "plan", "-detailed-exitcode")
	must(t, strings.Contains(plan.stdout, "node kind-control-plane: exited") && strings.Contains(plan.stdout, "will start them"),
		"plan after podman stop does not name the node:\n%s", plan.stdout)
	began := time.Now()
	s.must(0, "lab", "up")
	t.Logf("stopped node to ready: %.1fs", time.Since(began).Seconds())
	s.waitFor(`(?m)^fleet +3/3 `, 3*time.Minute, "get", "deploy", "fleet", "-n", "dev")
	s.must(0, "lab", "verify", "deploy-fleet", "--timeout", "60s")
	s.must(0, "lab", "plan", "-detailed-exitcode")

	// down leaves nothing.
	s.must(0, "lab", "down")
	if left := s.left(); len(left) > 0 {
		t.Errorf("lab down left %v", left)
	}

	// lab killed inside kind's create: the next run converges.
	s.upKilled("-var", "runtime=podman")
	again := s.must(0, "lab", "up", "-var", "runtime=podman")
	must(t, strings.Contains(again.stdout, "an earlier lab run was stopped while it created"), "rerun after the kill does not say so:\n%s", again.stdout)
	s.must(0, "lab", "plan", "-detailed-exitcode", "-var", "runtime=podman")
	s.lesson()
	s.must(0, "lab", "down")
	if left := s.left(); len(left) > 0 {
		t.Errorf("lab down after the killed run left %v", left)
	}
}
