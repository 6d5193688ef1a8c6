package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/zclconf/go-cty/cty"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"labs.dev/lab/lab/config"
	"labs.dev/lab/lab/reset"
	"labs.dev/lab/lab/resource"
	"labs.dev/lab/providers/kube"
)

// The cluster of the commands that have no resource of their own (verify,
// test, reset, env, doc test): config.Connection, the lab file's first
// cluster as recorded in state or declared.

// readOnlyRetry is how long verify, test and reset retry an API server
// that does not answer.
const readOnlyRetry = 3 * time.Second

func (a *app) clusterTarget(cfg *config.Config) kube.Target {
	return kube.Target(cfg.Connection(a.known))
}

// connectReadOnly connects to the lab's cluster for commands a learner
// runs to check work: a cluster that is down should be said so in
// seconds, not after the retries that ride out a restart mid-apply.
func (a *app) connectReadOnly(cfg *config.Config) (*kube.Client, error) {
	a.kube.RetryFor = readOnlyRetry
	return a.kube.Connect(a.clusterTarget(cfg))
}

// cluster connects as connectReadOnly does, for commands that check the
// work (verify, lab test), saying what to do when it is down.
func (a *app) cluster(cfg *config.Config) (*kube.Client, error) {
	c, err := a.connectReadOnly(cfg)
	if err != nil {
		return nil, fmt.Errorf("%w — is the cluster up? run `lab up`", err)
	}
	return c, nil
}

// reachable says, in seconds, when the lab's cluster does not answer.
func (a *app) reachable(ctx context.Context, cfg *config.Config) error {
	c, err := a.cluster(cfg)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := c.Discovery.RESTClient().Get().AbsPath("/version").DoRaw(ctx); err != nil {
		return fmt.Errorf("cannot reach the lab's cluster at %s (%s): %v. Is it up? Run `lab up`", c.Config.Host, c.Target, err)
	}
	return nil
}

// labKubeconfig reads the kubeconfig that holds the lab's cluster: the
// target, the kubeconfig's path as a shell would name it, and the merged
// config.
func (a *app) labKubeconfig(cfg *config.Config) (kube.Target, string, *clientcmdapi.Config, error) {
	t := a.clusterTarget(cfg)
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	path := os.Getenv("KUBECONFIG")
	if path == "" {
		path = clientcmd.RecommendedHomeFile
	}
	if t.Kubeconfig != "" {
		rules.ExplicitPath = t.Kubeconfig
		path = t.Kubeconfig
	}
	raw, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{}).RawConfig()
	if err != nil {
		return t, path, nil, fmt.Errorf("cannot read the kubeconfig of %s: %w", t, err)
	}
	name := t.Context
	if name == "" {
		name = raw.CurrentContext
	}
	if _, ok := raw.Contexts[name]; !ok || name == "" {
		return t, path, nil, fmt.Errorf("the lab's cluster (%s) is not in the kubeconfig: is it up? run `lab up`", t)
	}
	if t.Kubeconfig != "" && !filepath.IsAbs(path) {
		if abs, err := filepath.Abs(path); err == nil {
			path = abs
		}
	}
	return t, path, &raw, nil
}

// writeContextKubeconfig writes a kubeconfig holding only the lab's
// context, made current, with its credentials inlined: commands run
// with it reach the lab's cluster whatever the learner's current
// context is, and nothing they do changes the learner's kubeconfig.
func writeContextKubeconfig(raw *clientcmdapi.Config, context, path string) error {
	c := raw.DeepCopy()
	if context != "" {
		c.CurrentContext = context
	}
	if err := clientcmdapi.MinifyConfig(c); err != nil {
		return err
	}
	if err := clientcmdapi.FlattenConfig(c); err != nil {
		return err
	}
	return clientcmd.WriteToFile(*c, path)
}

// resetOptions tells reset what the lab file made, for lab reset and for
// lab test's look for a used environment.
func (a *app) resetOptions(cfg *config.Config, dryRun bool) reset.Options {
	return reset.Options{Owner: resource.NewOwner(cfg.File), HelmReleases: helmReleases(cfg, a.known), DryRun: dryRun}
}

// helmReleases are the lab file's helm release names and namespaces (""
// when not applied yet), so reset keeps their objects and storage.
func helmReleases(cfg *config.Config, known map[resource.Addr]cty.Value) map[string]string {
	out := map[string]string{}
	ctx, _ := cfg.EvalContext(known)
	for _, r := range cfg.Resources {
		hr, ok := r.Kind.(resource.HelmRelease)
		if !ok {
			continue
		}
		v, diags := r.Decode(ctx)
		if diags.HasErrors() {
			continue
		}
		v, _ = v.UnmarkDeep()
		if name, ns := hr.Release(v); name != "" {
			out[name] = ns
		}
	}
	return out
}
