package worker

import (
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/release"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"labs.dev/lab/providers/helm/wire"
)

func TestNeeds(t *testing.T) {
	mapper := meta.NewDefaultRESTMapper(nil)
	mapper.Add(schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}, meta.RESTScopeNamespace)
	mapper.Add(schema.GroupVersionKind{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "ClusterRole"}, meta.RESTScopeRoot)
	mapper.Add(schema.GroupVersionKind{Version: "v1", Kind: "Pod"}, meta.RESTScopeNamespace)
	rendered := &release.Release{
		Manifest: "---\n# Source: c/templates/a.yaml\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: a\n" +
			"---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: b\n  namespace: other\n" +
			"---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: r\n" +
			"---\napiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\n",
		Hooks: []*release.Hook{{Manifest: "apiVersion: v1\nkind: Pod\nmetadata:\n  name: test\n"}},
	}
	w := &worker{req: wire.Request{Namespace: "ns", CreateNamespace: true, Labels: map[string]string{"app.kubernetes.io/managed-by": "lab"}}}
	str := func(last *release.Release) string {
		var lines []string
		for _, a := range w.needs(rendered, last, mapper) {
			lines = append(lines, a.String())
		}
		return strings.Join(lines, "\n")
	}
	objects := `get deployments.apps in namespace ns
create deployments.apps in namespace ns
patch deployments.apps in namespace ns
get deployments.apps in namespace other
create deployments.apps in namespace other
patch deployments.apps in namespace other
get clusterroles.rbac.authorization.k8s.io
create clusterroles.rbac.authorization.k8s.io
patch clusterroles.rbac.authorization.k8s.io
create pods in namespace ns`
	records := "list secrets in namespace ns\ncreate secrets in namespace ns\nupdate secrets in namespace ns\n"
	if got, want := str(nil), records+"create namespaces\n"+objects; got != want {
		t.Errorf("install needs:\n%s\nwant:\n%s", got, want)
	}
	last := &release.Release{Version: 3, Info: &release.Info{Status: release.StatusDeployed}}
	if got, want := str(last), records+objects; got != want {
		t.Errorf("upgrade needs:\n%s\nwant:\n%s", got, want)
	}
	last.Version = maxHistory
	if got, want := str(last), records+"get secrets in namespace ns\ndelete secrets in namespace ns\n"+objects; got != want {
		t.Errorf("upgrade at %d revisions needs:\n%s\nwant:\n%s", maxHistory, got, want)
	}
}

func TestChanging(t *testing.T) {
	deployed := func(vals map[string]any) *release.Release {
		return &release.Release{Info: &release.Info{Status: release.StatusDeployed}, Config: vals}
	}
	same := &wire.Response{Chart: &wire.Chart{Name: "fleet", Version: "0.1.0", Digest: "d1"}, Release: &wire.Release{ChartName: "fleet", ChartVersion: "0.1.0", ChartDigest: "d1"}}
	with := func(f func(r *wire.Response)) *wire.Response {
		c := *same
		ch, rel := *same.Chart, *same.Release
		c.Chart, c.Release = &ch, &rel
		f(&c)
		return &c
	}
	for _, c := range []struct {
		name   string
		rel    *release.Release
		resp   *wire.Response
		values map[string]any
		want   bool
	}{
		{"no release: install", nil, &wire.Response{Chart: same.Chart}, nil, true},
		{"failed release: retried", &release.Release{Info: &release.Info{Status: release.StatusFailed}}, same, nil, true},
		{"nothing differs", deployed(map[string]any{"replicas": float64(2)}), same, map[string]any{"replicas": float64(2)}, false},
		{"no values either side", deployed(nil), same, map[string]any{}, false},
		{"values differ", deployed(map[string]any{"replicas": float64(2)}), same, map[string]any{"replicas": float64(3)}, true},
		{"chart files differ", deployed(nil), with(func(r *wire.Response) { r.Chart.Digest = "d2" }), nil, true},
		{"chart version differs", deployed(nil), with(func(r *wire.Response) { r.Chart.Version = "0.2.0" }), nil, true},
		{"live objects drifted", deployed(nil), with(func(r *wire.Response) {
			r.Drift = []wire.ObjectDrift{{Kind: "Deployment", Name: "fleet", Missing: true}}
		}), nil, true},
	} {
		if got := changing(c.rel, c.resp, c.values); got != c.want {
			t.Errorf("%s: changing = %v, want %v", c.name, got, c.want)
		}
	}
}
