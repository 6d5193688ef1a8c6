package main

import (
	"fmt"
	"os"
	"path/filepath"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"labs.dev/lab/lab/config"
	"labs.dev/lab/providers/kube"
)

// labKubeconfig finds the lab's cluster the way verify does
// (clusterTarget) and reads the kubeconfig that holds its context: the
// target, the kubeconfig's path as a shell would name it, and the
// merged config.
func (a *app) labKubeconfig(cfg *config.Config) (kube.Target, string, *clientcmdapi.Config, error) {
	t := a.clusterTarget(cfg, a.known)
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
