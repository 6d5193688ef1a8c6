package simulated

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// DefaultKubeconfig is where kind merges its context: the first path of
// $KUBECONFIG, else ~/.kube/config.
func DefaultKubeconfig() string {
	if env := os.Getenv("KUBECONFIG"); env != "" {
		for _, p := range filepath.SplitList(env) {
			if p != "" {
				return p
			}
		}
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".kube", "config")
}

// componentKubeconfig is a standalone kubeconfig for one component,
// written under the cluster directory.
func componentKubeconfig(server string, p pki, user string) *clientcmdapi.Config {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["simulated"] = &clientcmdapi.Cluster{Server: server, CertificateAuthority: p.path("ca.crt")}
	cfg.AuthInfos[user] = &clientcmdapi.AuthInfo{ClientCertificate: p.path(user + ".crt"), ClientKey: p.path(user + ".key")}
	cfg.Contexts["simulated"] = &clientcmdapi.Context{Cluster: "simulated", AuthInfo: user}
	cfg.CurrentContext = "simulated"
	return cfg
}

// mergeKubeconfig adds (or replaces) cluster, user and context named
// name in the kubeconfig at path with embedded credentials, as kind does,
// makes it current, and keeps every other entry.
func mergeKubeconfig(path, name, server string, p pki) error {
	ca, err := os.ReadFile(p.path("ca.crt"))
	if err != nil {
		return fmt.Errorf("merge kubeconfig: %w", err)
	}
	crt, err := os.ReadFile(p.path("admin.crt"))
	if err != nil {
		return fmt.Errorf("merge kubeconfig: %w", err)
	}
	key, err := os.ReadFile(p.path("admin.key"))
	if err != nil {
		return fmt.Errorf("merge kubeconfig: %w", err)
	}
	return editKubeconfig(path, func(cfg *clientcmdapi.Config) {
		cfg.Clusters[name] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: ca}
		cfg.AuthInfos[name] = &clientcmdapi.AuthInfo{ClientCertificateData: crt, ClientKeyData: key}
		cfg.Contexts[name] = &clientcmdapi.Context{Cluster: name, AuthInfo: name}
		cfg.CurrentContext = name
	})
}

// removeKubeconfig deletes the cluster, user and context named name and
// unsets current-context if it was that context, like `kind delete`.
func removeKubeconfig(path, name string) error {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return editKubeconfig(path, func(cfg *clientcmdapi.Config) {
		delete(cfg.Clusters, name)
		delete(cfg.AuthInfos, name)
		delete(cfg.Contexts, name)
		if cfg.CurrentContext == name {
			cfg.CurrentContext = ""
		}
	})
}

// kubeconfigHas reports whether path has the context name pointing at server.
func kubeconfigHas(path, name, server string) bool {
	return server != "" && contextServer(path, name) == server
}

// contextServer is the server of context name in the kubeconfig at path,
// or "" when there is none.
func contextServer(path, name string) string {
	cfg, err := clientcmd.LoadFromFile(path)
	if err != nil {
		return ""
	}
	c, ok := cfg.Contexts[name]
	if !ok {
		return ""
	}
	cl, ok := cfg.Clusters[c.Cluster]
	if !ok {
		return ""
	}
	return cl.Server
}

// editKubeconfig loads, edits and atomically rewrites a kubeconfig (0600)
// while holding "<path>.lock", the lock file kubectl and kind also use.
func editKubeconfig(path string, edit func(*clientcmdapi.Config)) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("kubeconfig %s: %w", path, err)
	}
	unlock, err := lockFile(path + ".lock")
	if err != nil {
		return fmt.Errorf("kubeconfig %s: %w", path, err)
	}
	defer unlock()
	cfg, err := clientcmd.LoadFromFile(path)
	if errors.Is(err, os.ErrNotExist) {
		cfg, err = clientcmdapi.NewConfig(), nil
	}
	if err != nil {
		return fmt.Errorf("kubeconfig %s cannot be read: %w (fix or move it; lab will not overwrite it)", path, err)
	}
	edit(cfg)
	data, err := clientcmd.Write(*cfg)
	if err != nil {
		return fmt.Errorf("kubeconfig %s: %w", path, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".kubeconfig-*")
	if err != nil {
		return fmt.Errorf("kubeconfig %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o600)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("write kubeconfig %s: %w", path, err)
	}
	return nil
}

// lockFile takes an O_EXCL lock file, waiting up to 10 s. A lock older
// than a minute is left over from a crashed writer and is broken.
func lockFile(path string) (func(), error) {
	deadline := time.Now().Add(10 * time.Second)
	for {
		f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err == nil {
			f.Close()
			return func() { os.Remove(path) }, nil
		}
		if !errors.Is(err, os.ErrExist) {
			return nil, err
		}
		if fi, err := os.Stat(path); err == nil && time.Since(fi.ModTime()) > time.Minute {
			os.Remove(path)
			continue
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("lock %s is held by another writer (remove it if no kubectl/kind/lab is running)", path)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
