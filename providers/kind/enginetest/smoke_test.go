package enginetest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	osexec "os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/kind/pkg/apis/config/v1alpha4"
	"sigs.k8s.io/kind/pkg/cluster"
	kindlog "sigs.k8s.io/kind/pkg/log"

	"labs.dev/lab/providers/kind"
	"labs.dev/lab/providers/simulated"
)

func TestMain(m *testing.M) { os.Exit(Main(m)) }

// One node on rootful podman: everything the lesson shows of a kind
// cluster, with the offline node image, on a real engine.
func TestNodeImageOnPodman(t *testing.T) { smoke(t, Podman, 1) }

// Two nodes on the private dockerd: the same, plus a pod on the worker
// reaching a pod on the control plane through kindnetd's routes.
func TestNodeImageTwoNodesOnDocker(t *testing.T) { smoke(t, Docker, 2) }

func smoke(t *testing.T, engine string, nodes int) {
	if testing.Short() {
		t.Skip("creates a kind cluster on a real engine")
	}
	e := Start(t, engine)
	e.Setenv(t)
	opt := cluster.ProviderWithDocker()
	if engine == Podman {
		opt = cluster.ProviderWithPodman()
	}
	provider := cluster.NewProvider(opt, cluster.ProviderWithLogger(testLogger{t}))
	name := ClusterName("smoke")
	cfg := &v1alpha4.Cluster{TypeMeta: v1alpha4.TypeMeta{Kind: "Cluster", APIVersion: "kind.x-k8s.io/v1alpha4"}}
	cfg.Nodes = []v1alpha4.Node{{Role: v1alpha4.ControlPlaneRole, Image: e.NodeImage}}
	for range nodes - 1 {
		cfg.Nodes = append(cfg.Nodes, v1alpha4.Node{Role: v1alpha4.WorkerRole, Image: e.NodeImage})
	}
	kind.AllowCgroupV1(cfg)
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	t.Cleanup(func() {
		start := time.Now()
		if err := provider.Delete(name, kubeconfig); err != nil {
			t.Errorf("kind delete %s: %v", name, err)
		}
		t.Logf("delete: %s", time.Since(start).Round(100*time.Millisecond))
		out, err := run(e, time.Minute, "ps", "-a", "--filter", "label=io.x-k8s.kind.cluster="+name, "--format", "{{.Names}}")
		if err != nil || strings.TrimSpace(out) != "" {
			t.Errorf("after kind delete, %s ps lists %q (err %v): want no containers of %s", engine, out, err, name)
		}
	})

	start := time.Now()
	// Retained on failure so the logs below can be read; the cleanup
	// above deletes it either way.
	err := provider.Create(name, cluster.CreateWithV1Alpha4Config(cfg),
		cluster.CreateWithWaitForReady(4*time.Minute), cluster.CreateWithKubeconfigPath(kubeconfig),
		cluster.CreateWithRetain(true), cluster.CreateWithDisplayUsage(false), cluster.CreateWithDisplaySalutation(false))
	if err != nil {
		t.Fatalf("kind create %s on %s: %v\n%s", name, engine, err, nodeLogs(e, name+"-control-plane"))
	}
	t.Logf("kind create (%d node(s), %s): %s", nodes, engine, time.Since(start).Round(100*time.Millisecond))

	restCfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	cs := kubernetes.NewForConfigOrDie(restCfg)
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	checks := time.Now()
	c := &clusterCheck{t: t, ctx: ctx, cs: cs, kubeconfig: kubeconfig, engine: e, name: name}
	c.systemReady(nodes)
	c.storageAndWeb(nodes)
	if nodes > 1 {
		c.acrossNodes()
	}
	c.nothingPulled()
	t.Logf("checks: %s", time.Since(checks).Round(100*time.Millisecond))
}

type clusterCheck struct {
	t          *testing.T
	ctx        context.Context
	cs         *kubernetes.Clientset
	kubeconfig string
	engine     *Engine
	name       string
}

// eventually polls cond every two seconds until it holds; at the deadline
// it fails with cond's last account of what is wrong, and what kube-system
// and the test namespace look like.
func (c *clusterCheck) eventually(what string, cond func(ctx context.Context) (bool, string, error)) {
	c.t.Helper()
	var last string
	for {
		ctx, cancel := context.WithTimeout(c.ctx, 20*time.Second)
		ok, why, err := cond(ctx)
		cancel()
		if err != nil {
			why = err.Error()
		}
		if ok {
			return
		}
		last = why
		select {
		case <-c.ctx.Done():
			c.t.Fatalf("%s: not so within the deadline: %s\n%s", what, last, c.describe())
		case <-time.After(2 * time.Second):
		}
	}
}

// systemReady: the lesson's view of kube-system holds.
func (c *clusterCheck) systemReady(nodes int) {
	c.eventually(fmt.Sprintf("%d node(s) Ready", nodes), func(ctx context.Context) (bool, string, error) {
		ns, err := c.cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, "", err
		}
		ready := 0
		for _, n := range ns.Items {
			for _, cond := range n.Status.Conditions {
				if cond.Type == corev1.NodeReady && cond.Status == corev1.ConditionTrue {
					ready++
				}
			}
		}
		return len(ns.Items) == nodes && ready == nodes, fmt.Sprintf("%d node(s), %d Ready", len(ns.Items), ready), nil
	})
	for _, ds := range []string{"kindnet", "kube-proxy"} {
		c.eventually("DaemonSet kube-system/"+ds+" ready on every node", func(ctx context.Context) (bool, string, error) {
			d, err := c.cs.AppsV1().DaemonSets("kube-system").Get(ctx, ds, metav1.GetOptions{})
			if err != nil {
				return false, "", err
			}
			s := d.Status
			return s.DesiredNumberScheduled == int32(nodes) && s.NumberReady == int32(nodes),
				fmt.Sprintf("desired %d, ready %d", s.DesiredNumberScheduled, s.NumberReady), nil
		})
	}
	c.eventually("Deployment kube-system/coredns 2/2", func(ctx context.Context) (bool, string, error) {
		d, err := c.cs.AppsV1().Deployments("kube-system").Get(ctx, "coredns", metav1.GetOptions{})
		if err != nil {
			return false, "", err
		}
		return d.Status.ReadyReplicas == 2, fmt.Sprintf("%d/2 ready", d.Status.ReadyReplicas), nil
	})
	c.eventually("every kube-system pod Ready", func(ctx context.Context) (bool, string, error) {
		pods, err := c.cs.CoreV1().Pods("kube-system").List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, "", err
		}
		var notReady []string
		for _, p := range pods.Items {
			if !podReady(&p) {
				notReady = append(notReady, p.Name+" ("+string(p.Status.Phase)+")")
			}
		}
		// The lesson's list: etcd, apiserver, controller-manager,
		// scheduler, coredns ×2, and kindnet and kube-proxy per node.
		want := 6 + 2*nodes
		return len(pods.Items) == want && len(notReady) == 0,
			fmt.Sprintf("%d pods (want %d), not ready: %v", len(pods.Items), want, notReady), nil
	})
	if _, err := c.cs.CoreV1().Namespaces().Get(c.ctx, "local-path-storage", metav1.GetOptions{}); err != nil {
		c.t.Fatalf("namespace local-path-storage: %v", err)
	}
	sc, err := c.cs.StorageV1().StorageClasses().Get(c.ctx, "standard", metav1.GetOptions{})
	if err != nil {
		c.t.Fatalf("StorageClass standard: %v", err)
	}
	if sc.Provisioner != "rancher.io/local-path" || sc.Annotations["storageclass.kubernetes.io/is-default-class"] != "true" {
		c.t.Fatalf("StorageClass standard: provisioner %q, annotations %v; want rancher.io/local-path, the default class", sc.Provisioner, sc.Annotations)
	}
}

const sampleImage = "nginx:1.27" // as the chart and the deploy-fleet solution name it

// storageAndWeb: a pod of the sample image with a PVC of class standard
// runs offline, answers HTTP, logs the request, and exec works in it.
func (c *clusterCheck) storageAndWeb(nodes int) {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "smoke"}}
	if _, err := c.cs.CoreV1().Namespaces().Create(c.ctx, ns, metav1.CreateOptions{}); err != nil {
		c.t.Fatal(err)
	}
	pvc := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: "data", Namespace: "smoke"},
		Spec: corev1.PersistentVolumeClaimSpec{
			StorageClassName: ptr("standard"),
			AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("16Mi")}},
		},
	}
	if _, err := c.cs.CoreV1().PersistentVolumeClaims("smoke").Create(c.ctx, pvc, metav1.CreateOptions{}); err != nil {
		c.t.Fatal(err)
	}
	web := webPod("web")
	web.Spec.Volumes = []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{
		PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "data"}}}}
	web.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "data", MountPath: "/data"}}
	if _, err := c.cs.CoreV1().Pods("smoke").Create(c.ctx, web, metav1.CreateOptions{}); err != nil {
		c.t.Fatal(err)
	}
	c.podReady("smoke", "web")
	c.eventually("PVC smoke/data Bound", func(ctx context.Context) (bool, string, error) {
		p, err := c.cs.CoreV1().PersistentVolumeClaims("smoke").Get(ctx, "data", metav1.GetOptions{})
		if err != nil {
			return false, "", err
		}
		return p.Status.Phase == corev1.ClaimBound, "phase " + string(p.Status.Phase), nil
	})
	if nodes > 1 {
		p, err := c.cs.CoreV1().Pods("smoke").Get(c.ctx, "web", metav1.GetOptions{})
		if err != nil || p.Spec.NodeName != c.name+"-worker" {
			c.t.Fatalf("pod smoke/web runs on %q (err %v); with a worker it should run there", p.Spec.NodeName, err)
		}
	}
	// Through the API server's pod proxy: the control plane's node
	// reaches the pod over the pod network.
	body, err := c.cs.CoreV1().RESTClient().Get().Namespace("smoke").Resource("pods").Name("web:80").SubResource("proxy").DoRaw(c.ctx)
	if err != nil || !strings.Contains(string(body), "lab sample web server") {
		c.t.Fatalf("GET / of pod smoke/web through the API server: %v\n%s", err, body)
	}
	logs, err := c.cs.CoreV1().Pods("smoke").GetLogs("web", &corev1.PodLogOptions{}).DoRaw(c.ctx)
	if err != nil || !strings.Contains(string(logs), `"GET / HTTP/1.1" 200`) {
		c.t.Fatalf("logs of pod smoke/web: %v\n%s\nwant the request just made", err, logs)
	}
	out := c.exec("smoke", "web", "sh", "-c", "echo persisted >/data/probe && cat /data/probe && wget -qO- http://127.0.0.1/")
	if !strings.HasPrefix(out, "persisted\n") || !strings.Contains(out, "lab sample web server") {
		c.t.Fatalf("exec in pod smoke/web: %q; want the PVC writable and the server answering on 127.0.0.1", out)
	}
}

// acrossNodes: a pod on the worker reaches a pod on the control plane by
// its pod IP, and the server sees the client's own pod IP (no NAT between
// pods).
func (c *clusterCheck) acrossNodes() {
	server := webPod("server")
	server.Spec.NodeName = c.name + "-control-plane"
	server.Spec.Tolerations = []corev1.Toleration{{Operator: corev1.TolerationOpExists}}
	if _, err := c.cs.CoreV1().Pods("smoke").Create(c.ctx, server, metav1.CreateOptions{}); err != nil {
		c.t.Fatal(err)
	}
	c.podReady("smoke", "server")
	s, err := c.cs.CoreV1().Pods("smoke").Get(c.ctx, "server", metav1.GetOptions{})
	if err != nil {
		c.t.Fatal(err)
	}
	cl, err := c.cs.CoreV1().Pods("smoke").Get(c.ctx, "web", metav1.GetOptions{})
	if err != nil {
		c.t.Fatal(err)
	}
	// busybox's timeout, not wget -T: Debian's static busybox 1.35
	// crashes on wget -T.
	out := c.exec("smoke", "web", "timeout", "10", "wget", "-qO-", "http://"+s.Status.PodIP+"/")
	if !strings.Contains(out, "lab sample web server") {
		c.t.Fatalf("from pod web (%s, node %s) GET http://%s/ (pod server, node %s): %q", cl.Status.PodIP, cl.Spec.NodeName, s.Status.PodIP, s.Spec.NodeName, out)
	}
	logs, err := c.cs.CoreV1().Pods("smoke").GetLogs("server", &corev1.PodLogOptions{}).DoRaw(c.ctx)
	if err != nil || !strings.Contains(string(logs), cl.Status.PodIP+" - - ") {
		c.t.Fatalf("pod server's log %q (err %v) does not show the request from %s: traffic between pods was translated", logs, err, cl.Status.PodIP)
	}
}

// nothingPulled: every image came preloaded. kubelet records a Pulling
// event only when it pulls; crictl (which kind load uses) lists the
// images on the node.
func (c *clusterCheck) nothingPulled() {
	evs, err := c.cs.CoreV1().Events("").List(c.ctx, metav1.ListOptions{FieldSelector: "reason=Pulling"})
	if err != nil {
		c.t.Fatal(err)
	}
	for _, ev := range evs.Items {
		c.t.Errorf("%s/%s: %s: the node image should have it preloaded", ev.InvolvedObject.Namespace, ev.InvolvedObject.Name, ev.Message)
	}
	out, err := run(c.engine, time.Minute, "exec", c.name+"-control-plane", "crictl", "images")
	if err != nil || !strings.Contains(out, "docker.io/library/nginx") || !strings.Contains(out, "registry.k8s.io/kube-apiserver") {
		c.t.Errorf("crictl images on the control plane: %v\n%s", err, out)
	}
}

func webPod(name string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "smoke"},
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{{
				Name: "web", Image: sampleImage, ImagePullPolicy: corev1.PullIfNotPresent,
				Ports:          []corev1.ContainerPort{{ContainerPort: 80}},
				ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/", Port: intstr.FromInt32(80)}}},
			}},
		},
	}
}

func (c *clusterCheck) podReady(ns, name string) {
	c.t.Helper()
	c.eventually("pod "+ns+"/"+name+" Ready", func(ctx context.Context) (bool, string, error) {
		p, err := c.cs.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, "", err
		}
		return podReady(p), podState(p), nil
	})
}

// exec runs a command in the pod's first container with kubectl exec, as
// a learner does, and returns its stdout, failing the test when it fails.
func (c *clusterCheck) exec(ns, pod string, command ...string) string {
	c.t.Helper()
	kubectl, err := simulated.KubectlPath()
	if err != nil {
		c.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(c.ctx, time.Minute)
	defer cancel()
	cmd := osexec.CommandContext(ctx, kubectl, append([]string{"--kubeconfig", c.kubeconfig, "exec", "-n", ns, pod, "--"}, command...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		c.t.Fatalf("kubectl exec %s/%s -- %q: %v\nstdout: %s\nstderr: %s", ns, pod, command, err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

// describe is what a failed check shows: each pod of kube-system and smoke
// with its state, and the namespaces' recent warning events.
func (c *clusterCheck) describe() string {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var b strings.Builder
	for _, ns := range []string{"kube-system", "local-path-storage", "smoke"} {
		pods, err := c.cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			fmt.Fprintf(&b, "%s: %v\n", ns, err)
			continue
		}
		for _, p := range pods.Items {
			fmt.Fprintf(&b, "pod %s/%s on %s: %s\n", ns, p.Name, p.Spec.NodeName, podState(&p))
		}
		evs, err := c.cs.CoreV1().Events(ns).List(ctx, metav1.ListOptions{FieldSelector: "type=Warning"})
		if err == nil {
			sort.Slice(evs.Items, func(i, j int) bool { return evs.Items[i].LastTimestamp.Before(&evs.Items[j].LastTimestamp) })
			for _, ev := range evs.Items {
				fmt.Fprintf(&b, "event %s/%s %s: %s\n", ns, ev.InvolvedObject.Name, ev.Reason, ev.Message)
			}
		}
	}
	b.WriteString(nodeLogs(c.engine, c.name+"-control-plane"))
	return b.String()
}

// nodeLogs is the tail of a node's kubelet and containerd journal.
func nodeLogs(e *Engine, node string) string {
	out, _ := run(e, 30*time.Second, "exec", node, "sh", "-c",
		"journalctl --no-pager -u kubelet -u containerd -n 60 2>&1; crictl ps -a 2>&1 | head -30")
	return "journal of " + node + ":\n" + out
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func podState(p *corev1.Pod) string {
	s := string(p.Status.Phase)
	for _, cs := range p.Status.ContainerStatuses {
		switch {
		case cs.State.Waiting != nil:
			s += fmt.Sprintf(", %s waiting: %s %s", cs.Name, cs.State.Waiting.Reason, cs.State.Waiting.Message)
		case cs.State.Terminated != nil:
			s += fmt.Sprintf(", %s terminated: %s (exit %d)", cs.Name, cs.State.Terminated.Reason, cs.State.Terminated.ExitCode)
		}
	}
	for _, c := range p.Status.Conditions {
		if c.Status != corev1.ConditionTrue && c.Message != "" {
			s += fmt.Sprintf(", %s: %s", c.Type, c.Message)
		}
	}
	return s
}

func ptr[T any](v T) *T { return &v }

// testLogger sends kind's warnings and its main steps (V(0), V(1)) to
// the test log.
type testLogger struct{ t *testing.T }

func (l testLogger) Warn(m string)             { l.t.Log(m) }
func (l testLogger) Warnf(f string, a ...any)  { l.t.Logf(f, a...) }
func (l testLogger) Error(m string)            { l.t.Log(m) }
func (l testLogger) Errorf(f string, a ...any) { l.t.Logf(f, a...) }
func (l testLogger) V(v kindlog.Level) kindlog.InfoLogger {
	return testInfo{t: l.t, on: v <= 1}
}

type testInfo struct {
	t  *testing.T
	on bool
}

func (i testInfo) Info(m string) {
	if i.on {
		i.t.Log(m)
	}
}
func (i testInfo) Infof(f string, a ...any) {
	if i.on {
		i.t.Logf(f, a...)
	}
}
func (i testInfo) Enabled() bool { return i.on }
