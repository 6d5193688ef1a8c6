package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"labs.dev/lab/providers/kind/enginetest"
	"labs.dev/lab/providers/simulated"
)

// whyLab waits for three Deployments that cannot become ready on a real
// node: an image no registry has, a container that exits, a readiness
// probe on a port nothing serves. Its lab block checks one of them.
const whyLab = `
resource "kind_cluster" "why" {
  name    = "why"
  runtime = "podman"
}

resource "namespace" "why" {
  name = "why"
}

locals {
  deployment = <<-EOT
    apiVersion: apps/v1
    kind: Deployment
    metadata: {name: NAME}
    spec:
      replicas: 1
      selector: {matchLabels: {app: NAME}}
      template:
        metadata: {labels: {app: NAME}}
        spec:
          containers:
          - name: app
            image: IMAGE
  EOT
}

resource "manifest" "pull" {
  namespace = namespace.why.name
  timeout   = "60s"
  content   = replace(replace(local.deployment, "NAME", "pull"), "IMAGE", "registry.invalid/lab/fleet:1.0")
}

resource "manifest" "crash" {
  namespace = namespace.why.name
  timeout   = "60s"
  content   = join("", [replace(replace(local.deployment, "NAME", "crash"), "IMAGE", "docker.io/library/nginx:1.27"),
    "        command: [sh, -c, 'sleep 1; echo cannot read /etc/fleet/config.yaml >/dev/termination-log; exit 3']\n",
    # Without a probe a container that runs for a moment counts as
    # ready, and the wait would pass; this one is never probed alive.
    "        readinessProbe: {exec: {command: ['true']}, initialDelaySeconds: 5}\n"])
}

resource "manifest" "probe" {
  namespace = namespace.why.name
  timeout   = "60s"
  content   = join("", [replace(replace(local.deployment, "NAME", "probe"), "IMAGE", "docker.io/library/nginx:1.27"),
    "        readinessProbe: {httpGet: {path: /healthz, port: 8080}, periodSeconds: 2}\n"])
}

lab "why" {
  title = "Pods that cannot become available"
  check "available" {
    select "crash" {
      api_version = "apps/v1"
      kind        = "Deployment"
      namespace   = "why"
      name        = "crash"
    }
    assert {
      condition     = try(crash.status.availableReplicas, 0) >= 1
      error_message = "${actual} of 1 replicas are available."
    }
  }
}
`

// Image pulls, crash loops and failing readiness probes cannot happen on
// the simulated runtime (kwok marks every pod ready): on a real node, lab
// up's waits and lab verify say them, with the image, the container's
// last exit and the probe's failure. LAB_RECORD_BLOCKER=DIR writes what
// the waits saw, as providers/kube/blocker's recorded tests read it.
func TestPodmanSaysWhy(t *testing.T) {
	s := whySession(t)
	up := s.must(1, "lab", "up")
	for _, want := range []string{
		"Error: manifest.pull: create: Deployment why/pull (document 1 (line 1)): 1 pod cannot pull image registry.invalid/lab/fleet:1.0: ",
		"check the image name and tag in the pods' spec and that the node can reach its registry",
		"Error: manifest.crash: create: Deployment why/crash (document 1 (line 1)): 1 pod crash-looping: container app exited with exit code 3 (Error): cannot read /etc/fleet/config.yaml; restarted ",
		"--previous` shows why it exits",
		"Error: manifest.probe: create: Deployment why/probe (document 1 (line 1)): 0 of 1 pods ready: Readiness probe failed: Get \"http://",
		":8080/healthz\": dial tcp ",
	} {
		must(t, strings.Contains(up.stderr, want), "lab up does not say %q:\nstdout:\n%s\nstderr:\n%s", want, up.stdout, up.stderr)
	}
	for _, want := range []string{
		"manifest.pull: waiting for 1 object to be ready: Deployment why/pull: 1 pod cannot pull image registry.invalid/lab/fleet:1.0",
		"manifest.pull: stalled: no progress for 30s: Deployment why/pull: 1 pod cannot pull image registry.invalid/lab/fleet:1.0",
		"1 manifest failed: containers kept crashing",
	} {
		must(t, strings.Contains(up.stdout+up.stderr, want), "lab up does not say %q:\nstdout:\n%s\nstderr:\n%s", want, up.stdout, up.stderr)
	}

	v := s.must(1, "lab", "verify", "why", "--timeout", "2s")
	must(t, strings.Contains(v.stdout, "why: Pod why/crash-") && strings.Contains(v.stdout, ": crash-looping: container app exited with exit code 3 (Error)"),
		"verify does not list the crash-looping pod:\n%s", v.stdout)

	if dir := os.Getenv("LAB_RECORD_BLOCKER"); dir != "" {
		for _, name := range []string{"pull", "crash", "probe"} {
			s.record(filepath.Join(dir, "kind-"+name+".json"), "why", name)
		}
	}
	s.must(0, "lab", "down")
}

// whySession is a session on podman for whyLab, whose cleanup removes
// only its own cluster's containers: other clusters share the engine.
func whySession(t *testing.T) *session {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: no real container engine")
	}
	e := enginetest.Start(t, "podman")
	kubectl, err := simulated.KubectlPath()
	if err != nil {
		t.Fatalf("kubectl: %v (make control-plane builds it)", err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "labs.hcl"), []byte(whyLab), 0o644); err != nil {
		t.Fatal(err)
	}
	s := &session{t: t, dir: dir, engine: e, cli: "podman", kubectlPath: kubectl}
	s.env = append(append([]string{}, e.Env...),
		"KUBECONFIG="+filepath.Join(dir, "kubeconfig"),
		"HOME="+dir,
		"NO_COLOR=1",
		"PATH="+binDir+string(os.PathListSeparator)+filepath.Dir(kubectl)+string(os.PathListSeparator)+os.Getenv("PATH"),
	)
	t.Cleanup(func() {
		s.run("lab", "down")
		out, _ := s.output("podman", "ps", "-aq", "--filter", "label=io.x-k8s.kind.cluster=why")
		if ids := strings.Fields(out); len(ids) > 0 {
			s.output("podman", append([]string{"rm", "-f"}, ids...)...)
		}
	})
	return s
}

// record writes Deployment ns/name and the pods, ReplicaSets and events
// of ns as {"object", "pods", "replicaSets", "events"}.
func (s *session) record(path, ns, name string) {
	s.t.Helper()
	get := func(args ...string) json.RawMessage {
		out := s.kubectl(append(args, "-n", ns, "-o", "json")...)
		return json.RawMessage(out)
	}
	items := func(list json.RawMessage) json.RawMessage {
		var l struct {
			Items json.RawMessage `json:"items"`
		}
		if err := json.Unmarshal(list, &l); err != nil {
			s.t.Fatal(err)
		}
		return l.Items
	}
	rec := map[string]json.RawMessage{
		"object":      get("get", "deployment", name, "--show-managed-fields=false"),
		"pods":        items(get("get", "pods", "--show-managed-fields=false")),
		"replicaSets": items(get("get", "replicasets", "--show-managed-fields=false")),
		"events":      items(get("get", "events")),
	}
	b, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		s.t.Fatal(err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		s.t.Fatal(err)
	}
}
