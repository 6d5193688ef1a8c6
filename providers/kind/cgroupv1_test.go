package kind

import (
	"testing"

	"sigs.k8s.io/kind/pkg/apis/config/v1alpha4"
	"sigs.k8s.io/yaml"
)

func TestAllowCgroupV1(t *testing.T) {
	cfg := &v1alpha4.Cluster{}
	if !AllowCgroupV1(cfg) || AllowCgroupV1(cfg) {
		t.Fatal("AllowCgroupV1 must add the patch once")
	}
	if len(cfg.KubeadmConfigPatches) != 1 {
		t.Fatalf("patches = %q", cfg.KubeadmConfigPatches)
	}
	// kind matches a patch to kubeadm's documents by kind; the field must
	// be KubeletConfiguration's own spelling, with a boolean false.
	var doc map[string]any
	if err := yaml.Unmarshal([]byte(cfg.KubeadmConfigPatches[0]), &doc); err != nil {
		t.Fatal(err)
	}
	if doc["kind"] != "KubeletConfiguration" || doc["failCgroupV1"] != false {
		t.Fatalf("patch = %v", doc)
	}
	mine := &v1alpha4.Cluster{KubeadmConfigPatches: []string{"kind: KubeletConfiguration\nfailCgroupV1: true\n"}}
	if AllowCgroupV1(mine) || len(mine.KubeadmConfigPatches) != 1 {
		t.Errorf("a config that sets failCgroupV1 itself was changed: %q", mine.KubeadmConfigPatches)
	}
}
