package verify

import (
	"testing"

	"github.com/zclconf/go-cty/cty"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func TestWritten(t *testing.T) {
	obj := map[string]any{
		"apiVersion": "apps/v1", "kind": "Deployment",
		"metadata": map[string]any{"name": "fleet", "namespace": "dev", "uid": "u1", "finalizers": []any{"a", "b"}},
		"spec": map[string]any{
			"strategy": map[string]any{"type": "RollingUpdate", "rollingUpdate": map[string]any{"maxSurge": "25%", "maxUnavailable": "25%"}},
			"template": map[string]any{"spec": map[string]any{"containers": []any{
				map[string]any{"name": "sidecar", "image": "busybox"},
				map[string]any{"name": "web", "image": "nginx", "args": []any{"-v"}},
			}}},
		},
	}
	f := func(kv ...any) map[string]any {
		m := map[string]any{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	leaf := map[string]any{}
	entry := func(op, manager string, fields map[string]any) any {
		return map[string]any{"operation": op, "manager": manager, "fieldsV1": fields}
	}
	applied := entry("Apply", "kubectl", f("f:spec", f(
		"f:strategy", f("f:rollingUpdate", leaf), // rollingUpdate: {} written, maxSurge not
		"f:template", f("f:spec", f("f:containers", f(`k:{"name":"web"}`, f(".", leaf, "f:image", leaf, "f:args", leaf))))),
		"f:metadata", f("f:finalizers", f(`v:"b"`, leaf))))
	created := entry("Update", "kubectl-create", f("f:spec", f("f:strategy", f("f:rollingUpdate", f("f:maxSurge", leaf, "f:maxUnavailable", leaf)))))

	o := NewObject(obj)
	o.ManagedFields = []any{applied}
	for _, tc := range []struct {
		path string
		want bool
	}{
		{"spec.template.spec.containers.1.image", true}, // the item keyed name=web
		{"spec.template.spec.containers.0.image", false},
		{"spec.template.spec.containers.1.args", true},
		{"spec.strategy.rollingUpdate.maxSurge", false},
		{"spec.strategy.rollingUpdate", true},
		{"metadata.finalizers.1", true},
		{"metadata.finalizers.0", false},
		{"spec.nope", false},
		{"spec.template.spec.containers.7.image", false},
	} {
		if got := written(o, splitPath(tc.path), cty.NilVal); got != tc.want {
			t.Errorf("server-side applied: written(%s) = %v, want %v", tc.path, got, tc.want)
		}
	}

	// An update records the defaults of the request that made the object:
	// only a value other than the named default proves a write.
	o.ManagedFields = []any{created}
	if !written(o, splitPath("spec.strategy.rollingUpdate.maxSurge"), cty.NilVal) {
		t.Error("an update's field without a default named is not counted as written")
	}
	if written(o, splitPath("spec.strategy.rollingUpdate.maxSurge"), cty.StringVal("25%")) {
		t.Error("an update's field holding the named default is counted as written")
	}
	if !written(o, splitPath("spec.strategy.rollingUpdate.maxSurge"), cty.NumberIntVal(1)) {
		t.Error("an update's field holding another value than the default is not counted as written")
	}

	// kubectl's client-side apply: the annotation says what it sent, not
	// its managedFields entry (which holds the create's defaults).
	obj["metadata"].(map[string]any)["annotations"] = map[string]any{lastApplied: `{"spec":{"template":{"spec":{"containers":[{"name":"sidecar"},{"name":"web","image":"nginx"}]}}}}`}
	o = NewObject(obj)
	o.ManagedFields = []any{entry("Update", clientSideApplier, f("f:spec", f("f:strategy", f("f:rollingUpdate", f("f:maxSurge", leaf)))))}
	for _, tc := range []struct {
		path string
		want bool
	}{
		{"spec.strategy.rollingUpdate.maxSurge", false},
		{"spec.template.spec.containers.1.image", true},
		{"spec.template.spec.containers.0.image", false},
	} {
		if got := written(o, splitPath(tc.path), cty.NilVal); got != tc.want {
			t.Errorf("client-side applied: written(%s) = %v, want %v", tc.path, got, tc.want)
		}
	}
	if !ownsNothing(t) {
		t.Error("a malformed managedFields entry is read as owning fields")
	}
}

// ownsNothing feeds written records that are not what the API server
// writes: nothing is owned, nothing panics.
func ownsNothing(t *testing.T) bool {
	o := NewObject(map[string]any{"metadata": map[string]any{"uid": "x", "annotations": map[string]any{lastApplied: "{not json"}}, "spec": map[string]any{"a": int64(1)}})
	o.ManagedFields = []any{"text", nil, map[string]any{"operation": "Apply", "fieldsV1": "no"}, map[string]any{"operation": "Apply", "fieldsV1": map[string]any{"f:spec": "x"}}}
	return !written(o, splitPath("spec.a"), cty.NilVal)
}

// noDiscovery is a RESTMapper that fails the test when asked.
type noDiscovery struct {
	meta.RESTMapper
	t *testing.T
}

func (m noDiscovery) RESTMapping(gk schema.GroupKind, versions ...string) (*meta.RESTMapping, error) {
	m.t.Errorf("discovery asked for %s %v", gk, versions)
	return nil, &meta.NoKindMatchError{GroupKind: gk}
}

// The kinds lessons check map without a discovery round trip.
func TestBuiltinKindsNeedNoDiscovery(t *testing.T) {
	for _, tc := range []struct{ apiVersion, kind, resource string }{
		{"v1", "Pod", "pods"}, {"apps/v1", "Deployment", "deployments"}, {"apps/v1", "ReplicaSet", "replicasets"},
		{"v1", "Endpoints", "endpoints"}, {"networking.k8s.io/v1", "Ingress", "ingresses"}, {"networking.k8s.io/v1", "NetworkPolicy", "networkpolicies"},
		{"v1", "Namespace", "namespaces"},
	} {
		m, err := mapping(noDiscovery{t: t}, tc.apiVersion, tc.kind)
		if err != nil || m.Resource.Resource != tc.resource {
			t.Errorf("%s %s: %v, %v; want resource %s", tc.apiVersion, tc.kind, m, err, tc.resource)
		}
	}
	if m, _ := mapping(nil, "v1", "Namespace"); m.Scope.Name() != meta.RESTScopeNameRoot {
		t.Error("Namespace is not cluster-scoped")
	}
}
