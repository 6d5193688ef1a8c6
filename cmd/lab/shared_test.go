package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// workshopLab is a lab file for a cluster it does not make (the shared
// cluster's kubeconfig): a namespace of its own, the adopted namespace
// default, manifests, a helm release, and a lab block whose reset clears
// apps.
func workshopLab(kubeconfig string) string {
	conn := fmt.Sprintf("  kubeconfig = %q\n  context    = \"kind-kind\"\n", kubeconfig)
	var cms strings.Builder
	for i := range 10 {
		fmt.Fprintf(&cms, "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings-%d}\ndata: {mode: lab}\n", i)
	}
	return `
resource "namespace" "apps" {
  name = "apps"
` + conn + `}

resource "namespace" "default" {
  name   = "default"
  labels = { workshop = "yes" }
` + conn + `}

resource "manifest" "one" {
  namespace = namespace.apps.name
  content   = <<-EOT
` + cms.String() + `  EOT
` + conn + `}

resource "manifest" "two" {
  namespace  = namespace.default.name
  depends_on = [manifest.one]
  content    = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {mode: lab}\n"
` + conn + `}

resource "helm_release" "fleet" {
  name       = "fleet"
  chart      = "charts/fleet"
  namespace  = namespace.apps.name
  depends_on = [manifest.two]
` + conn + `}

lab "task" {
  title      = "A task in apps"
  namespaces = ["apps"]
  check "exists" {
    select "cm" {
      api_version = "v1"
      kind        = "ConfigMap"
      namespace   = "apps"
      name        = "settings-0"
    }
  }
}
`
}

// otherLab is another lab file on the same cluster, with objects named
// like the workshop's.
func otherLab(kubeconfig string) string {
	return fmt.Sprintf(`
resource "namespace" "other" {
  name       = "other"
  kubeconfig = %[1]q
  context    = "kind-kind"
}

resource "manifest" "settings" {
  namespace  = namespace.other.name
  content    = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {mode: other-lab}\n"
  kubeconfig = %[1]q
  context    = "kind-kind"
}
`, kubeconfig)
}

// foreignObjects are made with kubectl, not lab: a learner's work in
// default and in a namespace of their own, named like lab's objects.
var foreignObjects = []string{
	"namespace/learner",
	"configmap/settings -n learner",
	"configmap/settings-0 -n learner",
	"deployment/fleet -n learner",
	"configmap/learner-notes -n default",
	"deployment/fleet -n default",
	"configmap/settings -n other", // the other lab's
	"namespace/other",
	"namespace/default",
}

// TestSharedCluster runs a workshop lab on a cluster it shares with a
// learner's objects and another lab: the API server is killed and
// restarted while lab up runs (lab retries and converges), and lab
// reset, lab down and lab destroy delete nothing lab did not make.
func TestSharedCluster(t *testing.T) {
	needCluster(t)
	binDir := helperBinaries(t)
	cluster := newLabDir(t, binDir, map[string]string{"labs.hcl": `
resource "kind_cluster" "kind" {
  name    = "kind"
  runtime = "simulated"
}
`})
	cluster.mustRun(0, "up")
	cluster.recordPIDs()
	kubeconfig := cluster.path(".kube", "config")

	root, _ := filepath.Abs("../..")
	w := newLabDir(t, binDir, map[string]string{"labs.hcl": workshopLab(kubeconfig)})
	if err := os.CopyFS(w.path("charts"), os.DirFS(filepath.Join(root, "charts"))); err != nil {
		t.Fatal(err)
	}
	w.useKubeconfig(kubeconfig)
	other := newLabDir(t, binDir, map[string]string{"labs.hcl": otherLab(kubeconfig)})
	other.mustRun(0, "up")

	for _, obj := range []string{
		"create namespace learner",
		"create configmap settings -n learner --from-literal=mode=learner",
		"create configmap settings-0 -n learner --from-literal=mode=learner",
		"create deployment fleet -n learner --image=nginx",
		"create configmap learner-notes -n default --from-literal=a=b",
		"create deployment fleet -n default --image=nginx",
	} {
		if _, errOut, code := w.kubectl(strings.Fields(obj)...); code != 0 {
			t.Fatalf("kubectl %s: %s", obj, errOut)
		}
	}
	uids := cluster.uids(foreignObjects)

	faults, survived := 0, 0
	fault := func(component string, at killPoint, args ...string) {
		t.Helper()
		faults++
		r := w.start(args...)
		if _, ok := r.until(at.match); !ok {
			t.Fatalf("lab %s ended before %s; stderr:\n%s", strings.Join(args, " "), at.name, r.stderr)
		}
		cluster.restartComponent(component, 2*time.Second)
		if code := r.wait(t); code != 0 {
			t.Errorf("lab %s exited %d after %s was restarted at %s; stderr:\n%s", strings.Join(args, " "), code, component, at.name, r.stderr)
			return
		}
		if out, errOut, code := w.run("plan", "-detailed-exitcode"); code != 0 {
			t.Errorf("plan after %s restarted at %s exited %d:\n%s%s", component, at.name, code, out, errOut)
			return
		}
		survived++
	}

	fault("kube-apiserver", killPoint{"namespace-created", "apply_complete", "namespace.apps", ""}, "up")
	cluster.uids(foreignObjects) // all still there
	if _, errOut, code := w.run("reset", "task"); code != 0 {
		t.Fatalf("lab reset task exited %d: %s", code, errOut)
	}
	w.checkKept(cluster, uids, "lab reset")
	w.mustRun(0, "down")
	w.checkKept(cluster, uids, "lab down")
	w.checkGone("after lab down")

	fault("kube-apiserver", killPoint{"helm-begins", "apply_start", "helm_release.fleet", ""}, "up")
	w.mustRun(0, "down")
	fault("etcd", killPoint{"manifests-done", "apply_complete", "manifest.two", ""}, "up")
	w.mustRun(0, "destroy", "-auto-approve")
	w.checkKept(cluster, uids, "lab destroy")
	w.checkGone("after lab destroy")
	t.Logf("API faults: %d injected, %d survived", faults, survived)

	other.mustRun(0, "down")
	cluster.mustRun(0, "down")
	cluster.assertGone()
}

func (d *labDir) useKubeconfig(path string) {
	for i, e := range d.env {
		if strings.HasPrefix(e, "KUBECONFIG=") {
			d.env[i] = "KUBECONFIG=" + path
		}
	}
}

// uids returns the UID of each object ("kind/name [-n ns]"), failing the
// test for any that is missing.
func (d *labDir) uids(objs []string) map[string]string {
	d.t.Helper()
	out := map[string]string{}
	for _, o := range objs {
		args := append([]string{"get"}, strings.Fields(o)...)
		uid, errOut, code := d.kubectl(append(args, "-o", "jsonpath={.metadata.uid}")...)
		if code != 0 {
			d.t.Errorf("%s is gone: %s", o, strings.TrimSpace(errOut))
			continue
		}
		out[o] = uid
	}
	return out
}

// checkKept fails when any object lab did not make was deleted or
// replaced by what.
func (d *labDir) checkKept(cluster *labDir, uids map[string]string, what string) {
	d.t.Helper()
	for o, uid := range cluster.uids(foreignObjects) {
		if uids[o] != uid {
			d.t.Errorf("%s replaced %s (uid %s, was %s)", what, o, uid, uids[o])
		}
	}
	labels, _, _ := cluster.kubectl("get", "namespace", "default", "-o", "jsonpath={.metadata.labels}")
	if what != "lab reset" && (strings.Contains(labels, "managed-by") || strings.Contains(labels, "workshop")) {
		d.t.Errorf("%s left lab's labels on the adopted namespace default: %s", what, labels)
	}
}

// checkGone fails when an object the workshop lab made is still there.
func (d *labDir) checkGone(when string) {
	d.t.Helper()
	for _, o := range [][]string{
		{"namespace", "apps"},
		{"configmap", "settings", "-n", "default"},
	} {
		// A namespace may take a moment to finalize.
		deadline := time.Now().Add(60 * time.Second)
		for {
			out, _, _ := d.kubectl(append([]string{"get", "--ignore-not-found", "-o", "name"}, o...)...)
			if strings.TrimSpace(out) == "" {
				break
			}
			if time.Now().After(deadline) {
				d.t.Errorf("%s: %s still exists", when, strings.Join(o, " "))
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
}

// restartComponent kills one control-plane process by its recorded PID,
// waits downFor, and starts it again with the same command line, as a
// crashed and restarted component would be.
func (d *labDir) restartComponent(name string, downFor time.Duration) {
	d.t.Helper()
	dir := d.path(".lab", "clusters", "kind")
	pidPath := filepath.Join(dir, "run", name+".pid")
	b, err := os.ReadFile(pidPath)
	if err != nil {
		d.t.Fatal(err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || !d.ourProcess(pid) {
		d.t.Fatalf("%s (pid %d) is not running: %v", name, pid, err)
	}
	args := strings.Split(strings.TrimRight(string(raw), "\x00"), "\x00")
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	for deadline := time.Now().Add(10 * time.Second); d.ourProcess(pid) && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(downFor)
	logf, err := os.OpenFile(filepath.Join(dir, "logs", name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		d.t.Fatal(err)
	}
	defer logf.Close()
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = append(os.Environ(), "NO_PROXY=127.0.0.1,localhost", "no_proxy=127.0.0.1,localhost")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		d.t.Fatalf("restart %s: %v", name, err)
	}
	go func() { _ = cmd.Wait() }()
	if err := os.WriteFile(pidPath, []byte(strconv.Itoa(cmd.Process.Pid)+"\n"), 0o600); err != nil {
		d.t.Fatal(err)
	}
	d.recordPIDs()
}
