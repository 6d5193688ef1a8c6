package kube

import (
	"path/filepath"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"labs.dev/lab/lab/resource"
)

// A kubeconfig path in a lab file means the same file whatever the
// working directory: relative to the lab file's directory, ~ at home.
func TestKubeconfigPath(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"kube/config", "/labs/w/kube/config"},
		{"../shared/config", "/labs/shared/config"},
		{"/etc/kube/config", "/etc/kube/config"},
		{"~/.kube/config", filepath.Join(home, ".kube/config")},
		{"~", home},
		{"~other/config", "/labs/w/~other/config"},
	} {
		if got := KubeconfigPath("/labs/w", tc.in); got != tc.want {
			t.Errorf("KubeconfigPath(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func connConfig(kubeconfig, context cty.Value) cty.Value {
	return cty.ObjectVal(map[string]cty.Value{"name": cty.StringVal("dev"), "kubeconfig": kubeconfig, "context": context})
}

// A block states its connection when it sets kubeconfig or context,
// even to a value known only after apply; then the cluster the engine
// connected it to does not count.
func TestTargetFor(t *testing.T) {
	env := resource.Env{Dir: "/labs/w"}
	cluster := resource.Connection{Kubeconfig: "/labs/w/.kube/config", Context: "kind-kind"}
	null := cty.NullVal(cty.String)
	for _, tc := range []struct {
		name   string
		config cty.Value
		own    bool
		want   Target
	}{
		{"none", connConfig(null, null), false, Target(cluster)},
		{"relative kubeconfig", connConfig(cty.StringVal("kc"), null), true, Target{Kubeconfig: "/labs/w/kc"}},
		{"context only", connConfig(null, cty.StringVal("other")), true, Target{Context: "other"}},
		{"unknown", connConfig(cty.UnknownVal(cty.String), null), true, Target{}},
		{"sensitive", connConfig(cty.StringVal("kc").Mark("sensitive"), null), true, Target{Kubeconfig: "/labs/w/kc"}},
	} {
		if _, own := OwnConnection(env, tc.config); own != tc.own {
			t.Errorf("%s: states its own connection: %v, want %v", tc.name, own, tc.own)
		}
		if tc.config.IsWhollyKnown() {
			if got := TargetFor(env, cluster, tc.config); got != tc.want {
				t.Errorf("%s: TargetFor = %+v, want %+v", tc.name, got, tc.want)
			}
		}
	}
	// Without a cluster of the lab file: the default kubeconfig.
	if got := TargetFor(env, resource.Connection{}, connConfig(null, null)); got != (Target{}) {
		t.Errorf("TargetFor without a cluster = %+v, want the default", got)
	}
}
