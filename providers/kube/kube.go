// Package kube connects Kubernetes resource kinds to a cluster named by a
// kubeconfig file and context, the way kubectl would. A command builds
// one Connections and shares it: one client per cluster per command.
package kube

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/zclconf/go-cty/cty"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/clientcmd"

	"labs.dev/lab/lab/resource"
)

// ConnectionSpec are the arguments by which a Kubernetes resource kind's
// block states its connection itself: the kubeconfig file (default
// $KUBECONFIG or ~/.kube/config) and the context in it (default its
// current context). A block that sets neither lives in the lab file's
// cluster (resource.InCluster).
func ConnectionSpec() map[string]hcldec.Spec {
	return map[string]hcldec.Spec{
		"kubeconfig": &hcldec.AttrSpec{Name: "kubeconfig", Type: cty.String},
		"context":    &hcldec.AttrSpec{Name: "context", Type: cty.String},
	}
}

// Target names a cluster: a kubeconfig path and a context, either may be "".
type Target resource.Connection

// OwnConnection reads the ConnectionSpec arguments of config, for the
// kinds' resource.InCluster: false when neither is set.
func OwnConnection(env resource.Env, config cty.Value) (resource.Connection, bool) {
	if !stated(config, "kubeconfig") && !stated(config, "context") {
		return resource.Connection{}, false
	}
	return resource.Connection{
		Kubeconfig: KubeconfigPath(env.Dir, resource.StringAttr(config, "kubeconfig")),
		Context:    resource.StringAttr(config, "context"),
	}, true
}

// stated reports whether config sets name, to a value known or not.
func stated(config cty.Value, name string) bool {
	if config != cty.NilVal {
		config, _ = config.Unmark()
	}
	if config == cty.NilVal || !config.IsKnown() || config.IsNull() || !config.Type().IsObjectType() || !config.Type().HasAttribute(name) {
		return false
	}
	v, _ := config.GetAttr(name).Unmark()
	return !v.IsNull()
}

// TargetFor is the cluster a resource of a Kubernetes kind connects to:
// the one its config states, else cluster, the one the engine connected
// it to (zero: the default kubeconfig's current context).
func TargetFor(env resource.Env, cluster resource.Connection, config cty.Value) Target {
	if own, ok := OwnConnection(env, config); ok {
		return Target(own)
	}
	return Target{Kubeconfig: KubeconfigPath(env.Dir, cluster.Kubeconfig), Context: cluster.Context}
}

// KubeconfigPath is the file a kubeconfig path written in a lab file
// names: "~/..." is under the home directory, and a relative path is
// relative to dir, the lab file's directory, whatever the working
// directory (lab -chdir, lab -f sub/labs.hcl). "" stays "": the default
// kubeconfig.
func KubeconfigPath(dir, p string) string {
	if p == "" {
		return ""
	}
	if p == "~" || strings.HasPrefix(p, "~/") {
		if home, err := os.UserHomeDir(); err == nil {
			p = filepath.Join(home, p[1:])
		}
	}
	if !filepath.IsAbs(p) && dir != "" {
		p = filepath.Join(dir, p)
	}
	return p
}

func (t Target) String() string {
	ctx := t.Context
	if ctx == "" {
		ctx = "(current context)"
	}
	return fmt.Sprintf("context %s in %s", ctx, t.File())
}

// File names the kubeconfig t reads, for messages: its path, else what
// clientcmd reads by default ($KUBECONFIG, else ~/.kube/config).
func (t Target) File() string {
	if t.Kubeconfig != "" {
		return t.Kubeconfig
	}
	if env := os.Getenv("KUBECONFIG"); env != "" {
		return env + " ($KUBECONFIG)"
	}
	return "~/.kube/config"
}

// Client is a connection to one cluster.
type Client struct {
	Target  Target
	Config  *rest.Config
	Dynamic dynamic.Interface
	// Namespace is the context's namespace ("default" when it names none),
	// for namespaced objects that name none, as kubectl does.
	Namespace string
	// Mapper maps kinds to resources; it asks the server lazily, once.
	Mapper    meta.ResettableRESTMapper
	Discovery discovery.CachedDiscoveryInterface

	access access

	listMu sync.Mutex
	lists  map[listingKey]*listing
}

// Connections are one command's connections to its clusters, built once
// per command and handed to every kind that talks to a cluster (as helm's
// action.Configuration is to each action): one client per cluster, the
// retry budgets, and the API servers that have answered.
type Connections struct {
	// RetryFor is how long a request is retried while the API server is
	// unreachable or answers that it cannot serve yet (restarting, etcd
	// leader change), before its last error is returned. Set it before
	// the first Connect.
	RetryFor time.Duration
	// FirstContactRetry bounds the retries for a server that has not
	// answered these connections yet: one that was never up (a stopped
	// or wrong cluster) is reported in seconds, while a server lab was
	// just talking to, and that is restarting, gets all of RetryFor.
	FirstContactRetry time.Duration

	mu      sync.Mutex
	clients map[Target]*Client
	// answered holds the hosts that have answered.
	answered sync.Map
}

// Default retry budgets. A restarting simulated API server is back
// within ≈ 5 s; a fresh process (the helm worker) may meet a restart
// already under way.
const (
	DefaultRetryFor          = 30 * time.Second
	DefaultFirstContactRetry = 10 * time.Second
)

// NewConnections returns connections with the default retry budgets.
func NewConnections() *Connections {
	return &Connections{RetryFor: DefaultRetryFor, FirstContactRetry: DefaultFirstContactRetry, clients: map[Target]*Client{}}
}

// Connect returns the shared client for t, creating it on first use.
// It does not talk to the server.
func (k *Connections) Connect(t Target) (*Client, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if c, ok := k.clients[t]; ok {
		return c, nil
	}
	cfg, ns, err := k.load(t)
	if err != nil {
		return nil, err
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", t, err)
	}
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", t, err)
	}
	cached := memory.NewMemCacheClient(dc)
	c := &Client{
		Target:    t,
		Config:    cfg,
		Namespace: ns,
		Dynamic:   dyn,
		Discovery: cached,
		Mapper:    restmapper.NewDeferredDiscoveryRESTMapper(cached),
	}
	if k.clients == nil {
		k.clients = map[Target]*Client{}
	}
	k.clients[t] = c
	return c, nil
}

// Forget drops the shared client for t, e.g. after its cluster was
// recreated with new certificates.
func (k *Connections) Forget(t Target) {
	k.mu.Lock()
	defer k.mu.Unlock()
	delete(k.clients, t)
}

// RESTConfig loads t like kubectl does. Client-side rate limiting is off:
// lab talks to one cluster it usually owns, and kubectl's default of
// 5 requests a second would make a 200-object apply take 40 s. Each
// request ends after RequestTimeout, and transient failures are retried
// (Resilient).
func (k *Connections) RESTConfig(t Target) (*rest.Config, error) {
	cfg, _, err := k.load(t)
	return cfg, err
}

func (k *Connections) load(t Target) (*rest.Config, string, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if t.Kubeconfig != "" {
		rules.ExplicitPath = t.Kubeconfig
	}
	overrides := &clientcmd.ConfigOverrides{CurrentContext: t.Context}
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides)
	cfg, err := cc.ClientConfig()
	if err != nil {
		return nil, "", fmt.Errorf("cannot load %s: %w (check the kubeconfig path and context name; `kubectl config get-contexts` lists them)", t, err)
	}
	ns, _, err := cc.Namespace()
	if err != nil || ns == "" {
		ns = "default"
	}
	cfg.QPS = -1
	cfg.Burst = -1
	cfg.UserAgent = "lab"
	// lab's own clients make only short requests (no watches), so one
	// timeout fits them all.
	cfg.Timeout = RequestTimeout
	k.Resilient(cfg)
	CountWrites(cfg)
	return cfg, ns, nil
}
