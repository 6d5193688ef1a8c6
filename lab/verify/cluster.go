package verify

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/zclconf/go-cty/cty"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilnet "k8s.io/apimachinery/pkg/util/net"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/tools/clientcmd"

	"labs.dev/lab/providers/kube"
)

// Source lists the live objects a selection looks at.
type Source interface {
	// Objects returns every object of the selection's apiVersion and kind
	// in its namespace ("" all), as listed no earlier than notBefore, so
	// checks that start together share one list call.
	Objects(ctx context.Context, s *Selection, notBefore time.Time) ([]cty.Value, error)
}

// elsewhereFinder is a Source that can look for a missing object in
// other namespaces, to tell a learner where it went by mistake.
type elsewhereFinder interface {
	Elsewhere(ctx context.Context, s *Selection) []ObjectRef
}

// Mapping is where a kind is served.
type Mapping struct {
	Resource   schema.GroupVersionResource
	Namespaced bool
}

// builtin maps the kinds of the core API groups to their resources, so
// verifying a lab about them costs no discovery round trip.
var builtin = map[string]Mapping{}

func init() {
	add := func(gv, kind, res string, namespaced bool) {
		g, v, ok := strings.Cut(gv, "/")
		if !ok {
			g, v = "", gv
		}
		builtin[gv+"/"+kind] = Mapping{Resource: schema.GroupVersionResource{Group: g, Version: v, Resource: res}, Namespaced: namespaced}
	}
	for _, k := range []struct {
		gv, kind, res string
		ns            bool
	}{
		{"v1", "Pod", "pods", true}, {"v1", "Service", "services", true}, {"v1", "ConfigMap", "configmaps", true},
		{"v1", "Secret", "secrets", true}, {"v1", "ServiceAccount", "serviceaccounts", true},
		{"v1", "PersistentVolumeClaim", "persistentvolumeclaims", true}, {"v1", "Endpoints", "endpoints", true},
		{"v1", "Event", "events", true}, {"v1", "LimitRange", "limitranges", true}, {"v1", "ResourceQuota", "resourcequotas", true},
		{"v1", "ReplicationController", "replicationcontrollers", true}, {"v1", "PodTemplate", "podtemplates", true},
		{"v1", "Namespace", "namespaces", false}, {"v1", "Node", "nodes", false}, {"v1", "PersistentVolume", "persistentvolumes", false},
		{"apps/v1", "Deployment", "deployments", true}, {"apps/v1", "ReplicaSet", "replicasets", true},
		{"apps/v1", "StatefulSet", "statefulsets", true}, {"apps/v1", "DaemonSet", "daemonsets", true},
		{"apps/v1", "ControllerRevision", "controllerrevisions", true},
		{"batch/v1", "Job", "jobs", true}, {"batch/v1", "CronJob", "cronjobs", true},
		{"autoscaling/v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers", true},
		{"autoscaling/v1", "HorizontalPodAutoscaler", "horizontalpodautoscalers", true},
		{"policy/v1", "PodDisruptionBudget", "poddisruptionbudgets", true},
		{"networking.k8s.io/v1", "Ingress", "ingresses", true}, {"networking.k8s.io/v1", "NetworkPolicy", "networkpolicies", true},
		{"networking.k8s.io/v1", "IngressClass", "ingressclasses", false},
		{"discovery.k8s.io/v1", "EndpointSlice", "endpointslices", true},
		{"coordination.k8s.io/v1", "Lease", "leases", true},
		{"events.k8s.io/v1", "Event", "events", true},
		{"rbac.authorization.k8s.io/v1", "Role", "roles", true}, {"rbac.authorization.k8s.io/v1", "RoleBinding", "rolebindings", true},
		{"rbac.authorization.k8s.io/v1", "ClusterRole", "clusterroles", false},
		{"rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "clusterrolebindings", false},
		{"storage.k8s.io/v1", "StorageClass", "storageclasses", false},
		{"scheduling.k8s.io/v1", "PriorityClass", "priorityclasses", false},
		{"apiextensions.k8s.io/v1", "CustomResourceDefinition", "customresourcedefinitions", false},
	} {
		add(k.gv, k.kind, k.res, k.ns)
	}
}

// Cluster is a Source over a live API server. It lists each (kind,
// namespace) once per round of checks and never writes.
type Cluster struct {
	dyn    dynamic.Interface
	mapper meta.RESTMapper // only for kinds missing from builtin; may be nil
	// Host and Context name the cluster in errors.
	Host, Context string

	target kube.Target // to name the current context in errors

	mu    sync.Mutex
	lists map[string]*listing
	maps  map[string]Mapping
}

type listing struct {
	started time.Time
	done    chan struct{}
	items   []cty.Value
	err     error
}

// NewCluster reads through c.
func NewCluster(c *kube.Client) *Cluster {
	return &Cluster{dyn: c.Dynamic, mapper: c.Mapper, Host: c.Config.Host, Context: c.Target.Context, target: c.Target}
}

// NewClusterFrom is NewCluster from parts, for callers with their own
// clients.
func NewClusterFrom(dyn dynamic.Interface, mapper meta.RESTMapper, host, context string) *Cluster {
	return &Cluster{dyn: dyn, mapper: mapper, Host: host, Context: context}
}

// Mapping finds where apiVersion/kind is served: the builtin table
// first, discovery only for other kinds.
func (c *Cluster) Mapping(apiVersion, kind string) (Mapping, error) {
	if m, ok := builtin[apiVersion+"/"+kind]; ok {
		return m, nil
	}
	c.mu.Lock()
	m, ok := c.maps[apiVersion+"/"+kind]
	c.mu.Unlock()
	if ok {
		return m, nil
	}
	if c.mapper == nil {
		return Mapping{}, fmt.Errorf("kind %s (%s) is not known", kind, apiVersion)
	}
	gv, err := schema.ParseGroupVersion(apiVersion)
	if err != nil {
		return Mapping{}, fmt.Errorf("apiVersion %q: %w", apiVersion, err)
	}
	rm, err := c.mapper.RESTMapping(gv.WithKind(kind).GroupKind(), gv.Version)
	if err != nil {
		if meta.IsNoMatchError(err) {
			return Mapping{}, &NotServedError{APIVersion: apiVersion, Kind: kind}
		}
		return Mapping{}, c.wrap(err)
	}
	m = Mapping{Resource: rm.Resource, Namespaced: rm.Scope.Name() == meta.RESTScopeNameNamespace}
	c.mu.Lock()
	if c.maps == nil {
		c.maps = map[string]Mapping{}
	}
	c.maps[apiVersion+"/"+kind] = m
	c.mu.Unlock()
	return m, nil
}

// Objects implements Source.
func (c *Cluster) Objects(ctx context.Context, s *Selection, notBefore time.Time) ([]cty.Value, error) {
	m, err := c.Mapping(s.APIVersion, s.Kind)
	if err != nil {
		return nil, err
	}
	ns := s.Namespace
	if !m.Namespaced {
		ns = ""
	}
	key := m.Resource.String() + "|" + ns
	c.mu.Lock()
	if c.lists == nil {
		c.lists = map[string]*listing{}
	}
	l := c.lists[key]
	if l == nil || l.started.Before(notBefore) {
		l = &listing{started: time.Now(), done: make(chan struct{})}
		c.lists[key] = l
		go c.list(l, m, ns, s)
	}
	c.mu.Unlock()
	select {
	case <-l.done:
		return l.items, l.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (c *Cluster) list(l *listing, m Mapping, ns string, s *Selection) {
	defer close(l.done)
	// Bounded on its own: a listing is shared, so no one caller's
	// context may cancel it for the others.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	list, err := c.dyn.Resource(m.Resource).Namespace(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		l.err = c.listError(err, m, ns)
		return
	}
	l.items = make([]cty.Value, 0, len(list.Items))
	for i := range list.Items {
		obj := list.Items[i].Object
		if md, ok := obj["metadata"].(map[string]any); ok {
			delete(md, "managedFields") // large, and nothing a lesson asserts
		}
		if obj["apiVersion"] == nil {
			obj["apiVersion"] = s.APIVersion
		}
		if obj["kind"] == nil {
			obj["kind"] = s.Kind
		}
		l.items = append(l.items, objectValue(obj))
	}
}

// Elsewhere finds objects named like a missing one in other namespaces.
func (c *Cluster) Elsewhere(ctx context.Context, s *Selection) []ObjectRef {
	m, err := c.Mapping(s.APIVersion, s.Kind)
	if err != nil || !m.Namespaced || s.Name == "" {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	list, err := c.dyn.Resource(m.Resource).List(ctx, metav1.ListOptions{FieldSelector: "metadata.name=" + s.Name})
	if err != nil {
		return nil // only a courtesy; the failure already says what is missing
	}
	var out []ObjectRef
	for _, o := range list.Items {
		// Objects lab or helm made (a lab's sample fleets) are not the
		// learner's misplaced work.
		if m := o.GetLabels()["app.kubernetes.io/managed-by"]; m == "lab" || m == "Helm" {
			continue
		}
		if o.GetNamespace() != s.Namespace {
			out = append(out, ObjectRef{APIVersion: s.APIVersion, Kind: s.Kind, Namespace: o.GetNamespace(), Name: o.GetName()})
		}
	}
	return out
}

// UnreachableError says the API server did not answer.
type UnreachableError struct {
	Host, Context string
	Err           error
}

func (e *UnreachableError) Error() string {
	where := e.Host
	if e.Context != "" {
		where += " (context " + e.Context + ")"
	}
	return fmt.Sprintf("cannot reach the cluster at %s: %s — is it up? run `lab up`", where, reason(e.Err))
}

func (e *UnreachableError) Unwrap() error { return e.Err }

// NotServedError says the cluster has no such kind.
type NotServedError struct{ APIVersion, Kind string }

func (e *NotServedError) Error() string {
	return fmt.Sprintf("the cluster does not serve kind %s in apiVersion %s (a CRD not installed, or a typo in the lab's select block)", e.Kind, e.APIVersion)
}

func reason(err error) string {
	switch {
	case errors.Is(err, syscall.ECONNREFUSED) || utilnet.IsConnectionRefused(err):
		return "connection refused"
	case errors.Is(err, context.DeadlineExceeded):
		return "timed out"
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return "cannot resolve " + dnsErr.Name
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Err != nil {
		return opErr.Err.Error()
	}
	return err.Error()
}

func isUnreachable(err error) bool {
	var opErr *net.OpError
	var dnsErr *net.DNSError
	return utilnet.IsConnectionRefused(err) || errors.Is(err, syscall.ECONNREFUSED) || errors.As(err, &opErr) || errors.As(err, &dnsErr) ||
		utilnet.IsProbableEOF(err) || utilnet.IsConnectionReset(err)
}

func (c *Cluster) wrap(err error) error {
	if isUnreachable(err) {
		ctx := c.Context
		if ctx == "" {
			ctx = currentContext(c.target.Kubeconfig)
		}
		return &UnreachableError{Host: c.Host, Context: ctx, Err: err}
	}
	return err
}

func (c *Cluster) listError(err error, m Mapping, ns string) error {
	where := "across all namespaces"
	if ns != "" {
		where = "in namespace " + ns
	}
	switch {
	case apierrors.IsForbidden(err):
		return fmt.Errorf("not allowed to list %s %s: %s (lab verify only reads; ask for the view role)", m.Resource.Resource, where, apiMessage(err))
	case apierrors.IsUnauthorized(err):
		return fmt.Errorf("the cluster at %s refused lab's credentials (%s); check the kubeconfig context", c.Host, apiMessage(err))
	case apierrors.IsNotFound(err):
		return fmt.Errorf("the cluster does not serve %s (%s)", m.Resource.Resource, m.Resource.GroupVersion())
	}
	if w := c.wrap(err); w != err {
		return w
	}
	return fmt.Errorf("list %s %s: %w", m.Resource.Resource, where, err)
}

// currentContext names the kubeconfig's current context, for messages
// only; it is read on the error path, never before a check.
func currentContext(kubeconfig string) string {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if kubeconfig != "" {
		rules.ExplicitPath = kubeconfig
	}
	raw, err := rules.Load()
	if err != nil || raw == nil {
		return ""
	}
	return raw.CurrentContext
}

func apiMessage(err error) string {
	var s apierrors.APIStatus
	if errors.As(err, &s) {
		return s.Status().Message
	}
	return err.Error()
}
