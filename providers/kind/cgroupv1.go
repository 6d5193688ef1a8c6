package kind

import (
	"strings"

	"sigs.k8s.io/kind/pkg/apis/config/v1alpha4"
)

// CgroupV1KubeletPatch is the kubeadm config patch that lets kubelet run
// on a cgroup v1 host: from Kubernetes 1.35 kubelet refuses cgroup v1
// unless failCgroupV1 is false. Amazon Linux 2 (Cloud9's default) and
// this project's CI machines are cgroup v1. On a cgroup v2 host the
// setting changes nothing. The offline node image already carries the
// other fix such hosts need (containerd's restrict_oom_score_adj).
const CgroupV1KubeletPatch = "kind: KubeletConfiguration\nfailCgroupV1: false\n"

// AllowCgroupV1 adds CgroupV1KubeletPatch to cfg's kubeadm config patches
// unless a patch already sets failCgroupV1, and reports whether it added it.
func AllowCgroupV1(cfg *v1alpha4.Cluster) bool {
	for _, p := range cfg.KubeadmConfigPatches {
		if strings.Contains(p, "failCgroupV1") {
			return false
		}
	}
	cfg.KubeadmConfigPatches = append(cfg.KubeadmConfigPatches, CgroupV1KubeletPatch)
	return true
}
