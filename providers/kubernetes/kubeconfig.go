package kubernetes

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/zclconf/go-cty/cty"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"labs.dev/lab/lab/resource"
	"labs.dev/lab/providers/kube"
)

var serviceAccounts = schema.GroupVersionResource{Version: "v1", Resource: "serviceaccounts"}

type kubeconfigFile struct{ inCluster }

// KubeconfigFile is the `kubeconfig_file` kind: a kubeconfig file,
// written 0600 inside the lab directory, that reaches the cluster as a
// ServiceAccount with a token of bounded lifetime (TokenRequest), for an
// instructor to hand to a learner. lab up writes a new token once half
// of the old one's lifetime has passed; the token ends with its
// lifetime, or at once when its ServiceAccount is deleted.
func KubeconfigFile(k *kube.Connections) resource.Kind { return kubeconfigFile{inCluster{k}} }

func (kubeconfigFile) Type() string { return "kubeconfig_file" }

func (kubeconfigFile) Schema() hcldec.Spec {
	spec := hcldec.ObjectSpec{
		"path":              &hcldec.AttrSpec{Name: "path", Type: cty.String, Required: true},
		"service_account":   &hcldec.AttrSpec{Name: "service_account", Type: cty.String, Required: true},
		"namespace":         &hcldec.AttrSpec{Name: "namespace", Type: cty.String, Required: true},
		"expiration":        &hcldec.AttrSpec{Name: "expiration", Type: cty.String},
		"context_name":      &hcldec.AttrSpec{Name: "context_name", Type: cty.String},
		"default_namespace": &hcldec.AttrSpec{Name: "default_namespace", Type: cty.String},
		"server":            &hcldec.AttrSpec{Name: "server", Type: cty.String},
	}
	for k, v := range kube.ConnectionSpec() {
		spec[k] = v
	}
	return &spec
}

// Computed: when the token ends, and a digest of the file, so a file
// edited or removed by hand is written again. The token itself is never
// in state.
func (kubeconfigFile) Computed() map[string]cty.Type {
	return map[string]cty.Type{"expires_at": cty.String, "file_digest": cty.String}
}

// Token lifetimes: the API server refuses less than ten minutes, and a
// workshop token should not outlive the event by long.
const (
	minTokenLifetime     = 10 * time.Minute
	maxTokenLifetime     = 7 * 24 * time.Hour
	defaultTokenLifetime = 8 * time.Hour
)

type kcConfig struct {
	path, abs                  string
	sa, namespace, contextName string
	defaultNamespace, server   string
	lifetime                   time.Duration
}

func readKC(env resource.Env, v cty.Value) (kcConfig, error) {
	c := kcConfig{
		path:             resource.StringAttr(v, "path"),
		sa:               resource.StringAttr(v, "service_account"),
		namespace:        resource.StringAttr(v, "namespace"),
		contextName:      resource.StringAttr(v, "context_name"),
		defaultNamespace: resource.StringAttr(v, "default_namespace"),
		server:           resource.StringAttr(v, "server"),
		lifetime:         defaultTokenLifetime,
	}
	if c.contextName == "" {
		c.contextName = c.sa
	}
	if c.defaultNamespace == "" && !resource.Unknown(v, "default_namespace") {
		c.defaultNamespace = c.namespace
	}
	var errs []error
	lifetimeKnown := !resource.Unknown(v, "expiration")
	if e := resource.StringAttr(v, "expiration"); lifetimeKnown && e != "" {
		d, err := time.ParseDuration(e)
		if err != nil {
			errs = append(errs, resource.ArgErrorf("expiration", "expiration %q is not a duration; write it like \"8h\" or \"90m\"", e))
			lifetimeKnown = false
		}
		c.lifetime = d
	}
	if lifetimeKnown && (c.lifetime < minTokenLifetime || c.lifetime > maxTokenLifetime) {
		errs = append(errs, resource.ArgErrorf("expiration", "expiration %s is outside %s to %s: the API server gives no shorter token, and a workshop token should not outlive the week", c.lifetime, minTokenLifetime, "168h"))
	}
	if !resource.Unknown(v, "service_account") {
		if msgs := validation.IsDNS1123Subdomain(c.sa); len(msgs) > 0 {
			errs = append(errs, resource.ArgErrorf("service_account", "service_account %q is not a valid ServiceAccount name: %s", c.sa, msgs[0]))
		}
	}
	// default_namespace is checked only where written: unset, it is
	// namespace, already checked.
	for _, a := range []struct{ arg, ns string }{{"namespace", c.namespace}, {"default_namespace", resource.StringAttr(v, "default_namespace")}} {
		if resource.Unknown(v, a.arg) || (a.arg == "default_namespace" && a.ns == "") {
			continue
		}
		if msgs := validation.IsDNS1123Label(a.ns); len(msgs) > 0 {
			errs = append(errs, resource.ArgErrorf(a.arg, "%s %q is not a valid namespace name: %s", a.arg, a.ns, msgs[0]))
		}
	}
	if !resource.Unknown(v, "path") {
		abs, err := insideDir(env.Dir, c.path)
		if err != nil {
			errs = append(errs, &resource.ArgError{Arg: "path", Err: fmt.Errorf("path %w", err)})
		}
		c.abs = abs
	}
	return c, errors.Join(errs...)
}

// insideDir resolves a file to write relative to dir and refuses one
// outside it, also through a symlinked directory: a lab file must not
// write over files elsewhere on the instructor's machine.
func insideDir(dir, p string) (string, error) {
	if p == "" {
		return "", errors.New("is empty; name a file inside the lab directory, like learners/alice.kubeconfig")
	}
	abs := p
	if !filepath.IsAbs(abs) {
		abs = filepath.Join(dir, abs)
	}
	abs = filepath.Clean(abs)
	root, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return "", fmt.Errorf("%q: lab directory: %w", p, err)
	}
	// The deepest part of the path that exists must resolve inside.
	existing := abs
	for {
		if _, err := os.Lstat(existing); err == nil || existing == filepath.Dir(existing) {
			break
		}
		existing = filepath.Dir(existing)
	}
	real, err := filepath.EvalSymlinks(existing)
	if err != nil {
		return "", fmt.Errorf("%q: %w", p, err)
	}
	rel, err := filepath.Rel(root, filepath.Join(real, mustRel(existing, abs)))
	if err != nil || rel == "." || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", fmt.Errorf("%q is outside the lab directory %s; write learners' kubeconfigs inside it (like learners/alice.kubeconfig)", p, dir)
	}
	if info, err := os.Lstat(abs); err == nil && !info.Mode().IsRegular() {
		return "", fmt.Errorf("%q exists and is not a regular file (a directory or a symlink); lab writes only files it can replace", p)
	}
	return abs, nil
}

func mustRel(base, p string) string {
	rel, err := filepath.Rel(base, p)
	if err != nil {
		return "."
	}
	return rel
}

// Validate checks the arguments as Plan will, without a cluster.
func (kubeconfigFile) Validate(env resource.Env, addr resource.Addr, v cty.Value) error {
	_, err := readKC(env, v)
	return err
}

func fileDigest(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func (k kubeconfigFile) Plan(ctx context.Context, req resource.PlanRequest) (*resource.Change, error) {
	cfg, err := readKC(req.Env, req.Config)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", req.Addr, err)
	}
	c, err := k.connect(req.Env, req.Cluster, req.Config)
	if err != nil {
		return nil, err
	}
	if err := c.Require(ctx, kube.Access{Verb: "create", Resource: serviceAccounts, Subresource: "token", Namespace: cfg.namespace}); err != nil {
		return nil, fmt.Errorf("%s: %w", req.Addr, err)
	}
	inState := req.Prior != cty.NilVal && !req.Prior.IsNull()
	if !inState {
		return &resource.Change{Action: resource.Create, Reason: fmt.Sprintf("a token for ServiceAccount %s/%s that ends %s after apply", cfg.namespace, cfg.sa, cfg.lifetime)}, nil
	}
	var fields []resource.FieldDiff
	for _, a := range []string{"path", "service_account", "namespace", "expiration", "context_name", "default_namespace", "server"} {
		if old, now := resource.StringAttr(req.Prior, a), resource.StringAttr(req.Config, a); old != now {
			fields = append(fields, resource.FieldDiff{Path: a, Old: old, New: now})
		}
	}
	b, err := os.ReadFile(cfg.abs)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return &resource.Change{Action: resource.Create, Drift: true, Reason: "the file was deleted outside lab", Fields: fields}, nil
	case err != nil:
		return nil, fmt.Errorf("%s: read %s: %w", req.Addr, cfg.path, err)
	case fileDigest(b) != resource.StringAttr(req.Prior, "file_digest"):
		return &resource.Change{Action: resource.Update, Drift: true, Reason: "the file was changed outside lab; lab writes it again", Fields: fields}, nil
	}
	if len(fields) > 0 {
		return &resource.Change{Action: resource.Update, Fields: fields}, nil
	}
	expires, err := time.Parse(time.RFC3339, resource.StringAttr(req.Prior, "expires_at"))
	if err != nil || time.Until(expires) < cfg.lifetime/2 {
		return &resource.Change{Action: resource.Update, Reason: fmt.Sprintf("its token ends at %s; lab writes one that ends %s after apply", resource.StringAttr(req.Prior, "expires_at"), cfg.lifetime),
			Fields: []resource.FieldDiff{{Path: "expires_at", Old: resource.StringAttr(req.Prior, "expires_at"), New: "(known after apply)"}}}, nil
	}
	// Ask about the ServiceAccount, so a plan says when the token of
	// the file would no longer work.
	if _, listed := c.Listed(ctx, serviceAccounts, cfg.namespace, cfg.sa, req.Owner.Selector()); listed {
		return &resource.Change{Action: resource.NoOp}, nil
	}
	if _, err := c.Dynamic.Resource(serviceAccounts).Namespace(cfg.namespace).Get(ctx, cfg.sa, metav1.GetOptions{}); apierrors.IsNotFound(err) {
		return &resource.Change{Action: resource.Update, Drift: true, Reason: fmt.Sprintf("ServiceAccount %s/%s was deleted, so the file's token no longer works", cfg.namespace, cfg.sa)}, nil
	}
	return &resource.Change{Action: resource.NoOp}, nil
}

func (k kubeconfigFile) Apply(ctx context.Context, req resource.ApplyRequest) (cty.Value, error) {
	cfg, err := readKC(req.Env, req.Config)
	if err != nil {
		return cty.NilVal, fmt.Errorf("%s: %w", req.Addr, err)
	}
	c, err := k.connect(req.Env, req.Cluster, req.Config)
	if err != nil {
		return cty.NilVal, err
	}
	token, expires, err := requestToken(ctx, c, cfg.namespace, cfg.sa, cfg.lifetime)
	if err != nil {
		return cty.NilVal, fmt.Errorf("%s: %w", req.Addr, err)
	}
	b, err := learnerKubeconfig(c, cfg, token)
	if err != nil {
		return cty.NilVal, fmt.Errorf("%s: %w", req.Addr, err)
	}
	if err := writePrivate(cfg.abs, b); err != nil {
		return cty.NilVal, fmt.Errorf("%s: write %s: %w", req.Addr, cfg.path, err)
	}
	return resource.WithAttrs(req.Config, map[string]cty.Value{
		"expires_at":  cty.StringVal(expires.UTC().Format(time.RFC3339)),
		"file_digest": cty.StringVal(fileDigest(b)),
	}), nil
}

// requestToken asks for a token of the ServiceAccount (TokenRequest),
// waiting briefly for one created in the same run to appear.
func requestToken(ctx context.Context, c *kube.Client, ns, sa string, lifetime time.Duration) (string, time.Time, error) {
	secs := int64(lifetime.Seconds())
	body := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "authentication.k8s.io/v1",
		"kind":       "TokenRequest",
		"metadata":   map[string]any{"name": sa},
		"spec":       map[string]any{"expirationSeconds": secs},
	}}
	ri := c.Dynamic.Resource(serviceAccounts).Namespace(ns)
	var b backoff
	for i := 0; ; i++ {
		out, err := ri.Create(ctx, body, metav1.CreateOptions{}, "token")
		if apierrors.IsNotFound(err) && i < 10 {
			if werr := b.wait(ctx); werr == nil {
				continue
			}
		}
		if apierrors.IsNotFound(err) {
			return "", time.Time{}, fmt.Errorf("ServiceAccount %s/%s does not exist; create it (a manifest this block depends on) before its kubeconfig", ns, sa)
		}
		if err != nil {
			return "", time.Time{}, reach(c, fmt.Sprintf("request a token for ServiceAccount %s/%s", ns, sa), err)
		}
		token, _, _ := unstructured.NestedString(out.Object, "status", "token")
		ts, _, _ := unstructured.NestedString(out.Object, "status", "expirationTimestamp")
		exp, perr := time.Parse(time.RFC3339, ts)
		if token == "" || perr != nil {
			return "", time.Time{}, fmt.Errorf("the cluster answered the token request for ServiceAccount %s/%s without a token or its end", ns, sa)
		}
		return token, exp, nil
	}
}

// learnerKubeconfig is a kubeconfig with one cluster, user and context:
// the server and CA as lab reaches the cluster (or server), the token.
func learnerKubeconfig(c *kube.Client, cfg kcConfig, token string) ([]byte, error) {
	server := cfg.server
	if server == "" {
		server = c.Config.Host
	}
	ca := c.Config.TLSClientConfig.CAData
	if len(ca) == 0 && c.Config.TLSClientConfig.CAFile != "" {
		b, err := os.ReadFile(c.Config.TLSClientConfig.CAFile)
		if err != nil {
			return nil, fmt.Errorf("read the cluster's CA certificate: %w", err)
		}
		ca = b
	}
	kc := clientcmdapi.NewConfig()
	kc.Clusters[cfg.contextName] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: ca, InsecureSkipTLSVerify: c.Config.TLSClientConfig.Insecure, TLSServerName: c.Config.TLSClientConfig.ServerName}
	kc.AuthInfos[cfg.contextName] = &clientcmdapi.AuthInfo{Token: token}
	kc.Contexts[cfg.contextName] = &clientcmdapi.Context{Cluster: cfg.contextName, AuthInfo: cfg.contextName, Namespace: cfg.defaultNamespace}
	kc.CurrentContext = cfg.contextName
	return clientcmd.Write(*kc)
}

// writePrivate writes b to path, readable by its owner only, replacing
// the file whole (a reader never sees half a kubeconfig).
func writePrivate(path string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// Delete removes the file when it is as lab wrote it. Its token cannot
// be taken back; it ends with its lifetime or its ServiceAccount.
func (kubeconfigFile) Delete(_ context.Context, req resource.DeleteRequest) error {
	p, err := insideDir(req.Dir, resource.StringAttr(req.Prior, "path"))
	if err != nil {
		return nil // nothing lab could have written
	}
	b, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%s: read %s: %w", req.Addr, p, err)
	}
	if fileDigest(b) != resource.StringAttr(req.Prior, "file_digest") {
		req.Log.Info("kubeconfig file changed since lab wrote it: kept", "addr", req.Addr.String(), "path", p)
		return nil
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("%s: remove %s: %w", req.Addr, p, err)
	}
	return nil
}
