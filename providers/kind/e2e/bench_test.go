package e2e

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/kind/pkg/apis/config/v1alpha4"
	"sigs.k8s.io/kind/pkg/cluster"
	kindlog "sigs.k8s.io/kind/pkg/log"

	"labs.dev/lab/providers/kind"
)

// BenchmarkLabUp measures lab on each real engine, one run each (see
// docs/benchmarks.md, "kind on podman and docker"):
//
//   - kind's create alone, through kind's library as lab calls it, with
//     the same node image and kubelet patch, then kube-system ready (what
//     lab up waits for, so the lesson's first outputs show every pod 1/1);
//
//   - lab up of the shipped labs.hcl: wall, the kind_cluster resource in
//     it (its ratio to the above; goal ≤ 1.10), the rest of the apply, and
//     lab's peak RSS;
//
//   - a stopped node back to ready (engine stop, then lab up);
//
//   - lab down.
//
//     LAB_ENGINE_TESTS=1 go test -run '^$' -bench LabUp -benchtime 1x ./providers/kind/e2e
func BenchmarkLabUp(b *testing.B) {
	for _, engine := range []string{"podman", "docker"} {
		b.Run(engine, func(b *testing.B) {
			for range b.N {
				s := newSession(b, engine)
				alone := kindCreateAlone(b, s)

				up := s.must(0, "lab", "-o", "json", "up", "-var", "runtime="+engine)
				cluster := applySeconds(b, up.stderr, "kind_cluster.kind")

				s.must(0, engine, "stop", "kind-control-plane")
				restart := s.must(0, "lab", "up")
				down := s.must(0, "lab", "down")

				b.ReportMetric(alone.Seconds(), "kind-create-s")
				b.ReportMetric(up.took.Seconds(), "lab-up-s")
				b.ReportMetric(cluster, "kind_cluster-s")
				b.ReportMetric(cluster/alone.Seconds(), "ratio")
				b.ReportMetric(up.took.Seconds()-cluster, "rest-s")
				b.ReportMetric(restart.took.Seconds(), "restart-s")
				b.ReportMetric(down.took.Seconds(), "down-s")
				b.ReportMetric(float64(up.maxRSS)/(1<<20), "up-peak-MiB")
			}
		})
	}
}

// kindCreateAlone makes the cluster lab would (one control-plane node,
// lab's image, the cgroup v1 patch on such a host) with kind's library
// alone, waits for kube-system as lab does, deletes it, and returns how
// long the making took.
func kindCreateAlone(b testing.TB, s *session) time.Duration {
	b.Helper()
	opt := cluster.ProviderWithDocker()
	if s.cli == "podman" {
		opt = cluster.ProviderWithPodman()
	}
	p := cluster.NewProvider(opt, cluster.ProviderWithLogger(kindlog.NoopLogger{}))
	cfg := &v1alpha4.Cluster{Nodes: []v1alpha4.Node{{Role: v1alpha4.ControlPlaneRole, Image: s.engine.NodeImage}}}
	kind.AllowCgroupV1(cfg)
	v1alpha4.SetDefaultsCluster(cfg)
	kubeconfig := filepath.Join(s.dir, "alone.kubeconfig")
	for _, kv := range s.engine.Env { // kind's library reads the engine's environment
		k, v, _ := strings.Cut(kv, "=")
		b.Setenv(k, v)
	}
	began := time.Now()
	if err := p.Create("alone", cluster.CreateWithV1Alpha4Config(cfg), cluster.CreateWithWaitForReady(5*time.Minute),
		cluster.CreateWithKubeconfigPath(kubeconfig), cluster.CreateWithDisplayUsage(false), cluster.CreateWithDisplaySalutation(false)); err != nil {
		b.Fatalf("kind create alone: %v", err)
	}
	s.must(0, "kubectl", "--kubeconfig", kubeconfig, "--context", "kind-alone", "wait", "-n", "kube-system", "--for=condition=Ready", "pod", "--all", "--timeout=5m")
	took := time.Since(began)
	if err := p.Delete("alone", kubeconfig); err != nil {
		b.Fatalf("kind delete alone: %v", err)
	}
	_ = os.Remove(kubeconfig)
	return took
}

// applySeconds reads how long addr took from lab -o json's events.
func applySeconds(b testing.TB, events, addr string) float64 {
	b.Helper()
	sc := bufio.NewScanner(strings.NewReader(events))
	for sc.Scan() {
		var e struct {
			Type    string  `json:"type"`
			Addr    string  `json:"addr"`
			Elapsed float64 `json:"elapsed_seconds"`
		}
		if json.Unmarshal(sc.Bytes(), &e) == nil && e.Type == "apply_complete" && e.Addr == addr {
			return e.Elapsed
		}
	}
	b.Fatalf("no apply_complete event for %s in:\n%s", addr, events)
	return 0
}
