package worker

import (
	"sync"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/resource"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/openapi/cached"
	"k8s.io/client-go/rest"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"
	"k8s.io/kubectl/pkg/validation"

	"helm.sh/helm/v3/pkg/kube"

	labkube "labs.dev/lab/providers/kube"
)

// Clients are what the releases served by one lab-helm -serve process
// share per cluster: the discovery cache, the REST mapper and the
// OpenAPI schemas helm's kube client validates with. Read once per
// cluster rather than once per release, fifty releases at once cost one
// schema in memory, not fifty.
type Clients struct {
	mu sync.Mutex
	by map[clientKey]*shared
}

type clientKey struct{ kubeconfig, context, cacheDir string }

type shared struct {
	flags   *genericclioptions.ConfigFlags
	factory *factory
	// conns hold the cluster's labkube client, whose answers to access
	// questions every release of the cluster reuses.
	conns *labkube.Connections
}

// factory is kubectl's, with one validator per field-validation
// directive: kubectl makes a new one per call, and each then parses the
// cluster's OpenAPI v3 document again to learn whether the server
// validates fields itself (half a release's CPU, measured).
type factory struct {
	cmdutil.Factory
	mu         sync.Mutex
	validators map[string]validation.Schema
}

// Validator is kubectl's (factoryImpl.Validator), built once per
// directive, whose check for server-side field validation asks once per
// kind even when many releases ask at the same time.
func (f *factory) Validator(directive string) (validation.Schema, error) {
	if directive == metav1.FieldValidationIgnore {
		return validation.NullSchema{}, nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if v, ok := f.validators[directive]; ok {
		return v, nil
	}
	dyn, err := f.DynamicClient()
	if err != nil {
		return nil, err
	}
	dc, err := f.ToDiscoveryClient()
	if err != nil {
		return nil, err
	}
	conj := validation.ConjunctiveSchema{validation.NewSchemaValidation(f.Factory), validation.NoDoubleKeySchema{}}
	primary := &onceVerifier{next: resource.NewQueryParamVerifierV3(dyn, cached.NewClient(dc.OpenAPIV3()), resource.QueryParamFieldValidation), done: map[schema.GroupVersionKind]*verdict{}}
	secondary := resource.NewQueryParamVerifier(dyn, dc, resource.QueryParamFieldValidation)
	v := validation.NewParamVerifyingSchema(conj, resource.NewFallbackQueryParamVerifier(primary, secondary), directive)
	f.validators[directive] = v
	return v, nil
}

// onceVerifier asks next once per kind; callers that ask meanwhile wait
// for that answer.
type onceVerifier struct {
	next resource.Verifier
	mu   sync.Mutex
	done map[schema.GroupVersionKind]*verdict
}

type verdict struct {
	once sync.Once
	err  error
}

func (v *onceVerifier) HasSupport(gvk schema.GroupVersionKind) error {
	v.mu.Lock()
	d := v.done[gvk]
	if d == nil {
		d = &verdict{}
		v.done[gvk] = d
	}
	v.mu.Unlock()
	d.once.Do(func() { d.err = v.next.HasSupport(gvk) })
	return d.err
}

// NewClients returns an empty cache.
func NewClients() *Clients { return &Clients{by: map[clientKey]*shared{}} }

func (c *Clients) get(kubeconfig, context, cacheDir string) *shared {
	k := clientKey{kubeconfig, context, cacheDir}
	c.mu.Lock()
	defer c.mu.Unlock()
	if s := c.by[k]; s != nil {
		return s
	}
	flags := genericclioptions.NewConfigFlags(true)
	flags.KubeConfig, flags.Context = &k.kubeconfig, &k.context
	if cacheDir != "" {
		flags.CacheDir = &k.cacheDir
	}
	conns := labkube.NewConnections()
	flags.WrapConfigFn = func(r *rest.Config) *rest.Config {
		r.QPS, r.Burst, r.UserAgent = -1, -1, "lab-helm"
		conns.Resilient(r)
		labkube.CountWrites(r)
		return r
	}
	s := &shared{flags: flags, factory: &factory{Factory: cmdutil.NewFactory(flags), validators: map[string]validation.Schema{}}, conns: conns}
	c.by[k] = s
	return s
}

// getter is a release's own REST config (its warnings go to its own
// events) with the discovery and mapper its cluster shares.
type getter struct {
	*genericclioptions.ConfigFlags
	shared *shared
}

func (g getter) ToDiscoveryClient() (discovery.CachedDiscoveryInterface, error) {
	return g.shared.flags.ToDiscoveryClient()
}

func (g getter) ToRESTMapper() (meta.RESTMapper, error) { return g.shared.flags.ToRESTMapper() }

// share points w's helm configuration at the shared clients.
func (w *worker) share(c *Clients, flags *genericclioptions.ConfigFlags) {
	s := c.get(w.req.Kubeconfig, w.req.Context, w.req.CacheDir)
	w.cfg.RESTClientGetter = getter{ConfigFlags: flags, shared: s}
	w.cfg.KubeClient = &kube.Client{Factory: s.factory, Log: w.helmLog, Namespace: w.req.Namespace}
	w.conns = s.conns
}
