// Command kindcreate is `kind create cluster` alone, through kind's
// library as lab calls it, for bench/kind.sh to time lab up against: one
// control-plane node with the given image, and on a cgroup v1 host the
// kubelet patch lab adds. With -delete it deletes the cluster instead.
package main

import (
	"flag"
	"fmt"
	"os"
	"time"

	"sigs.k8s.io/kind/pkg/apis/config/v1alpha4"
	"sigs.k8s.io/kind/pkg/cluster"
	"sigs.k8s.io/kind/pkg/log"

	"labs.dev/lab/providers/kind/host"
)

func main() {
	engine := flag.String("engine", "podman", "podman or docker")
	name := flag.String("name", "kind", "cluster name")
	image := flag.String("image", host.OfflineImage, "node image")
	cgroupV1 := flag.Bool("cgroupv1", false, "add the kubelet patch for a cgroup v1 host")
	kubeconfig := flag.String("kubeconfig", "", "kubeconfig to write the context to")
	wait := flag.Duration("wait", 5*time.Minute, "wait for the control plane to be ready")
	del := flag.Bool("delete", false, "delete the cluster instead")
	flag.Parse()

	opt := cluster.ProviderWithDocker()
	if *engine == "podman" {
		opt = cluster.ProviderWithPodman()
	}
	p := cluster.NewProvider(opt, cluster.ProviderWithLogger(log.NoopLogger{}))
	if *del {
		if err := p.Delete(*name, *kubeconfig); err != nil {
			fmt.Fprintln(os.Stderr, "kindcreate:", err)
			os.Exit(1)
		}
		return
	}
	cfg := &v1alpha4.Cluster{
		TypeMeta: v1alpha4.TypeMeta{Kind: "Cluster", APIVersion: "kind.x-k8s.io/v1alpha4"},
		Nodes:    []v1alpha4.Node{{Role: v1alpha4.ControlPlaneRole, Image: *image}},
	}
	if *cgroupV1 {
		cfg.KubeadmConfigPatches = []string{host.CgroupV1Patch}
	}
	v1alpha4.SetDefaultsCluster(cfg)
	err := p.Create(*name,
		cluster.CreateWithV1Alpha4Config(cfg),
		cluster.CreateWithWaitForReady(*wait),
		cluster.CreateWithKubeconfigPath(*kubeconfig),
		cluster.CreateWithDisplayUsage(false),
		cluster.CreateWithDisplaySalutation(false),
	)
	if err != nil {
		fmt.Fprintln(os.Stderr, "kindcreate:", err)
		os.Exit(1)
	}
}
