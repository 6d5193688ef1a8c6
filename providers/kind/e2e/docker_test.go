package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The shipped lab on a private dockerd: up, verify, down.
func TestDockerEndToEnd(t *testing.T) {
	s := newSession(t, "docker")
	up := s.must(0, "lab", "up", "-var", "runtime=docker")
	must(t, strings.Contains(up.stdout, `Creating kind cluster "kind" on docker with node image `), "lab up:\n%s", up.stdout)
	s.lesson()
	s.must(1, "lab", "verify", "deploy-fleet")
	s.kubectl("apply", "-f", "manifests/deploy-fleet/solution.yaml")
	s.must(0, "kubectl", "rollout", "status", "deployment", "fleet", "-n", "dev", "--timeout=180s")
	s.must(0, "lab", "verify", "deploy-fleet", "--timeout", "60s")
	s.must(0, "lab", "down")
	if left := s.left(); len(left) > 0 {
		t.Errorf("lab down left %v", left)
	}
}

// Two nodes on docker: kindnet routes a pod on the worker to a pod on
// the control plane.
func TestDockerTwoNodes(t *testing.T) {
	s := newSession(t, "docker")
	if err := os.WriteFile(filepath.Join(s.dir, "labs.hcl"), []byte(`
resource "kind_cluster" "kind" {
  name    = "kind"
  runtime = "docker"
  nodes   = [{ role = "control-plane" }, { role = "worker" }]
}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	s.must(0, "lab", "up")
	s.waitFor(`(?m)^kind-worker +Ready `, 3*time.Minute, "get", "nodes")
	s.waitFor(`(?m)^kindnet +2 +2 +2 `, 3*time.Minute, "get", "ds", "-n", "kube-system")
	manifest := filepath.Join(s.dir, "pods.yaml")
	if err := os.WriteFile(manifest, []byte(twoPods), 0o644); err != nil {
		t.Fatal(err)
	}
	s.kubectl("apply", "-f", manifest)
	s.must(0, "kubectl", "wait", "--for=condition=Ready", "pod/server", "pod/client", "--timeout=180s")
	ip := strings.TrimSpace(s.kubectl("get", "pod", "server", "-o", "jsonpath={.status.podIP}"))
	// busybox's timeout, not wget -T: Debian's static busybox crashes on -T.
	page := s.kubectl("exec", "client", "--", "timeout", "10", "wget", "-qO-", "http://"+ip+"/")
	must(t, strings.Contains(page, "lab sample web server"), "from the worker, GET http://%s/ (the control plane's pod): %q", ip, page)
	s.must(0, "lab", "down")
	if left := s.left(); len(left) > 0 {
		t.Errorf("lab down left %v", left)
	}
}

// twoPods are a server pinned to the control plane and a client pinned
// to the worker, both the preloaded sample web image.
const twoPods = `
apiVersion: v1
kind: Pod
metadata:
  name: server
spec:
  nodeName: kind-control-plane
  tolerations: [{ operator: Exists }]
  containers:
    - name: web
      image: nginx:1.27
      readinessProbe: { httpGet: { path: /, port: 80 } }
---
apiVersion: v1
kind: Pod
metadata:
  name: client
spec:
  nodeName: kind-worker
  containers:
    - name: web
      image: nginx:1.27
      readinessProbe: { httpGet: { path: /, port: 80 } }
`
