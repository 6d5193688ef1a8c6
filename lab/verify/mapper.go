package verify

import (
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// builtin is a RESTMapper of the kinds every API server serves, so a lab
// about them is checked with one LIST per kind and namespace and no
// discovery round trip first (kubectl gets the same from its disk cache).
// Resource names follow apimachinery's own rule (DefaultRESTMapper.Add);
// every other kind goes to the connection's discovery-backed mapper.
var builtin = func() *meta.DefaultRESTMapper {
	m := meta.NewDefaultRESTMapper(nil)
	add := func(group, version string, scope meta.RESTScope, kinds ...string) {
		for _, k := range kinds {
			m.Add(schema.GroupVersionKind{Group: group, Version: version, Kind: k}, scope)
		}
	}
	ns, cluster := meta.RESTScopeNamespace, meta.RESTScopeRoot
	add("", "v1", ns, "Pod", "Service", "ConfigMap", "Secret", "ServiceAccount", "PersistentVolumeClaim", "Endpoints",
		"Event", "LimitRange", "ResourceQuota", "ReplicationController", "PodTemplate")
	add("", "v1", cluster, "Namespace", "Node", "PersistentVolume")
	add("apps", "v1", ns, "Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "ControllerRevision")
	add("batch", "v1", ns, "Job", "CronJob")
	add("autoscaling", "v2", ns, "HorizontalPodAutoscaler")
	add("autoscaling", "v1", ns, "HorizontalPodAutoscaler")
	add("policy", "v1", ns, "PodDisruptionBudget")
	add("networking.k8s.io", "v1", ns, "Ingress", "NetworkPolicy")
	add("networking.k8s.io", "v1", cluster, "IngressClass")
	add("discovery.k8s.io", "v1", ns, "EndpointSlice")
	add("coordination.k8s.io", "v1", ns, "Lease")
	add("events.k8s.io", "v1", ns, "Event")
	add("rbac.authorization.k8s.io", "v1", ns, "Role", "RoleBinding")
	add("rbac.authorization.k8s.io", "v1", cluster, "ClusterRole", "ClusterRoleBinding")
	add("storage.k8s.io", "v1", cluster, "StorageClass")
	add("scheduling.k8s.io", "v1", cluster, "PriorityClass")
	add("apiextensions.k8s.io", "v1", cluster, "CustomResourceDefinition")
	return m
}()

// mapping finds where apiVersion/kind is served: the built-in kinds
// first, then discovered (nil: built-in kinds only).
func mapping(discovered meta.RESTMapper, apiVersion, kind string) (*meta.RESTMapping, error) {
	gv, err := schema.ParseGroupVersion(apiVersion)
	if err != nil {
		return nil, err
	}
	gk := gv.WithKind(kind).GroupKind()
	if m, err := builtin.RESTMapping(gk, gv.Version); err == nil {
		return m, nil
	}
	if discovered == nil {
		return nil, &NotServedError{APIVersion: apiVersion, Kind: kind}
	}
	m, err := discovered.RESTMapping(gk, gv.Version)
	if meta.IsNoMatchError(err) {
		return nil, &NotServedError{APIVersion: apiVersion, Kind: kind}
	}
	return m, err
}
