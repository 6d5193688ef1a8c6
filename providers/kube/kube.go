// Package kube connects Kubernetes resource kinds to a cluster named by a
// kubeconfig file and context, the way kubectl would, and shares one
// connection per cluster within a run.
package kube

import (
	"fmt"
	"os"
	"sync"

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

// ConnectionSpec are the arguments every Kubernetes resource kind accepts:
// the kubeconfig file (default $KUBECONFIG or ~/.kube/config) and the
// context in it (default its current context). A labs.hcl sets them from
// a cluster: kubeconfig = kind_cluster.kind.kubeconfig.
func ConnectionSpec() map[string]hcldec.Spec {
	return map[string]hcldec.Spec{
		"kubeconfig": &hcldec.AttrSpec{Name: "kubeconfig", Type: cty.String},
		"context":    &hcldec.AttrSpec{Name: "context", Type: cty.String},
	}
}

// Target names a cluster: a kubeconfig path and a context, either may be "".
type Target struct {
	Kubeconfig string
	Context    string
}

// TargetOf reads the connection arguments from a decoded config object.
func TargetOf(config cty.Value) Target {
	return Target{Kubeconfig: resource.StringAttr(config, "kubeconfig"), Context: resource.StringAttr(config, "context")}
}

func (t Target) String() string {
	ctx := t.Context
	if ctx == "" {
		ctx = "(current context)"
	}
	file := t.Kubeconfig
	if file == "" {
		// What clientcmd reads: $KUBECONFIG, else ~/.kube/config.
		file = "~/.kube/config"
		if env := os.Getenv("KUBECONFIG"); env != "" {
			file = env + " ($KUBECONFIG)"
		}
	}
	return fmt.Sprintf("context %s in %s", ctx, file)
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
}

var (
	mu      sync.Mutex
	clients = map[Target]*Client{}
)

// Connect returns the shared client for t, creating it on first use.
// It does not talk to the server.
func Connect(t Target) (*Client, error) {
	mu.Lock()
	defer mu.Unlock()
	if c, ok := clients[t]; ok {
		return c, nil
	}
	cfg, ns, err := load(t)
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
	clients[t] = c
	return c, nil
}

// Forget drops the shared client for t, e.g. after its cluster was
// recreated with new certificates.
func Forget(t Target) {
	mu.Lock()
	defer mu.Unlock()
	delete(clients, t)
}

// RESTConfig loads t like kubectl does. Client-side rate limiting is off:
// lab talks to one cluster it usually owns, and kubectl's default of
// 5 requests a second would make a 200-object apply take 40 s. Each
// request ends after RequestTimeout, and transient failures are retried
// (Resilient).
func RESTConfig(t Target) (*rest.Config, error) {
	cfg, _, err := load(t)
	return cfg, err
}

func load(t Target) (*rest.Config, string, error) {
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
	Resilient(cfg)
	return cfg, ns, nil
}
