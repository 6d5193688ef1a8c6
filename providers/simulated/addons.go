package simulated

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"text/template"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/dynamic"
)

//go:embed addons/*.yaml
var addonFS embed.FS

//go:embed kwok-stages.yaml
var kwokStages []byte

// fieldManager owns the add-ons' fields in server-side apply.
const fieldManager = "lab-simulated"

type nodeSpec struct {
	Name         string
	ControlPlane bool
}

type staticPod struct {
	Component string
	Image     string
	Command   []string
	CPU       string
}

// Hash stands in for the kubelet's hash of the static pod's manifest.
func (s staticPod) Hash() string {
	h := sha256.Sum256([]byte(strings.Join(append([]string{s.Component, s.Image}, s.Command...), "\x00")))
	return hex.EncodeToString(h[:16])
}

type addonData struct {
	Name            string
	ControlPlane    string
	ControlPlaneUID string
	Nodes           []nodeSpec
	Workers         bool
	StaticPods      []staticPod
}

func nodeNames(name string, n int) []nodeSpec {
	nodes := []nodeSpec{{Name: name + "-control-plane", ControlPlane: true}}
	for i := 1; i < n; i++ {
		w := name + "-worker"
		if i > 1 {
			w += fmt.Sprint(i)
		}
		nodes = append(nodes, nodeSpec{Name: w})
	}
	return nodes
}

func newAddonData(name string, nodes int) addonData {
	cp := name + "-control-plane"
	return addonData{
		Name:         name,
		ControlPlane: cp,
		Nodes:        nodeNames(name, nodes),
		Workers:      nodes > 1,
		StaticPods: []staticPod{
			{"etcd", "k8s.gcr.io/etcd:3.4.13-0", []string{"etcd", "--advertise-client-urls=https://172.18.0.2:2379", "--data-dir=/var/lib/etcd", "--listen-client-urls=https://127.0.0.1:2379,https://172.18.0.2:2379", "--name=" + cp}, "100m"},
			{"kube-apiserver", "k8s.gcr.io/kube-apiserver:v1.21.1", []string{"kube-apiserver", "--advertise-address=172.18.0.2", "--allow-privileged=true", "--authorization-mode=Node,RBAC", "--secure-port=6443", "--service-cluster-ip-range=10.96.0.0/16"}, "250m"},
			{"kube-controller-manager", "k8s.gcr.io/kube-controller-manager:v1.21.1", []string{"kube-controller-manager", "--allocate-node-cidrs=true", "--cluster-cidr=10.244.0.0/16", "--cluster-name=" + name, "--leader-elect=true"}, "200m"},
			{"kube-scheduler", "k8s.gcr.io/kube-scheduler:v1.21.1", []string{"kube-scheduler", "--kubeconfig=/etc/kubernetes/scheduler.conf", "--leader-elect=true"}, "100m"},
		},
	}
}

var gvrs = map[schema.GroupVersionKind]schema.GroupVersionResource{
	{Version: "v1", Kind: "Namespace"}:                                              {Version: "v1", Resource: "namespaces"},
	{Version: "v1", Kind: "ServiceAccount"}:                                         {Version: "v1", Resource: "serviceaccounts"},
	{Version: "v1", Kind: "ConfigMap"}:                                              {Version: "v1", Resource: "configmaps"},
	{Version: "v1", Kind: "Service"}:                                                {Version: "v1", Resource: "services"},
	{Version: "v1", Kind: "Node"}:                                                   {Version: "v1", Resource: "nodes"},
	{Version: "v1", Kind: "Pod"}:                                                    {Version: "v1", Resource: "pods"},
	{Group: "apps", Version: "v1", Kind: "DaemonSet"}:                               {Group: "apps", Version: "v1", Resource: "daemonsets"},
	{Group: "apps", Version: "v1", Kind: "Deployment"}:                              {Group: "apps", Version: "v1", Resource: "deployments"},
	{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "ClusterRole"}:        {Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "clusterroles"},
	{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "ClusterRoleBinding"}: {Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "clusterrolebindings"},
}

// renderAddons renders the embedded manifests whose file name starts
// with prefix, in file order.
func renderAddons(prefix string, data addonData) ([]*unstructured.Unstructured, error) {
	names, err := fs.Glob(addonFS, "addons/"+prefix+"*.yaml")
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	var objs []*unstructured.Unstructured
	for _, n := range names {
		raw, err := addonFS.ReadFile(n)
		if err != nil {
			return nil, err
		}
		tmpl, err := template.New(n).Option("missingkey=error").Parse(string(raw))
		if err != nil {
			return nil, fmt.Errorf("add-on %s: %w", n, err)
		}
		var buf bytes.Buffer
		if err := tmpl.Execute(&buf, data); err != nil {
			return nil, fmt.Errorf("add-on %s: %w", n, err)
		}
		dec := utilyaml.NewYAMLOrJSONDecoder(&buf, 4096)
		for {
			var m map[string]any
			if err := dec.Decode(&m); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				return nil, fmt.Errorf("add-on %s: %w", n, err)
			}
			if len(m) == 0 {
				continue
			}
			objs = append(objs, &unstructured.Unstructured{Object: m})
		}
	}
	return objs, nil
}

// applyAll server-side applies objs in order. Early in a cluster's life
// some fail for a moment (kube-system not created yet, a pod's service
// account not yet there), so each is retried until ctx ends.
func applyAll(ctx context.Context, log *slog.Logger, dyn dynamic.Interface, objs []*unstructured.Unstructured) error {
	for _, o := range objs {
		began, tries := time.Now(), 0
		gvr, ok := gvrs[o.GroupVersionKind()]
		if !ok {
			return fmt.Errorf("add-on %s %s: no resource mapping (add it to gvrs)", o.GetKind(), o.GetName())
		}
		var ri dynamic.ResourceInterface = dyn.Resource(gvr)
		if ns := o.GetNamespace(); ns != "" {
			ri = dyn.Resource(gvr).Namespace(ns)
		}
		for {
			_, err := ri.Apply(ctx, o.GetName(), o, metav1.ApplyOptions{FieldManager: fieldManager, Force: true})
			if err == nil {
				log.Debug("applied add-on", "kind", o.GetKind(), "name", o.GetName(), "took", time.Since(began), "retries", tries)
				break
			}
			tries++
			if !retriable(err) || ctx.Err() != nil {
				return fmt.Errorf("apply add-on %s %s/%s: %w", o.GetKind(), o.GetNamespace(), o.GetName(), err)
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("apply add-on %s %s/%s: %w", o.GetKind(), o.GetNamespace(), o.GetName(), err)
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	return nil
}

func retriable(err error) bool {
	return apierrors.IsNotFound(err) || apierrors.IsForbidden(err) || apierrors.IsServerTimeout(err) ||
		apierrors.IsServiceUnavailable(err) || apierrors.IsTooManyRequests(err) || apierrors.IsInternalError(err) ||
		apierrors.IsTimeout(err) || isConnErr(err)
}

// applyNodeStatus gives a node what a kind node reports about itself:
// this machine's CPUs, memory and kernel (kind nodes share the host's),
// the kubelet version of the control plane and kind's node OS. kwok's
// node-initialize stage keeps values that are already there.
func applyNodeStatus(ctx context.Context, dyn dynamic.Interface, name string) error {
	kernel, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	resources := map[string]any{
		"cpu":               strconv.Itoa(runtime.NumCPU()),
		"memory":            memTotal(),
		"pods":              "110",
		"ephemeral-storage": "100Gi",
		"hugepages-2Mi":     "0",
	}
	obj := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1",
		"kind":       "Node",
		"metadata":   map[string]any{"name": name},
		"status": map[string]any{
			"capacity":    resources,
			"allocatable": resources,
			"nodeInfo": map[string]any{
				"architecture":            runtime.GOARCH,
				"bootID":                  "",
				"containerRuntimeVersion": "containerd://2.1.4",
				"kernelVersion":           strings.TrimSpace(string(kernel)),
				"kubeProxyVersion":        kubeVersion,
				"kubeletVersion":          kubeVersion,
				"machineID":               "",
				"operatingSystem":         "linux",
				"osImage":                 "Debian GNU/Linux 12 (bookworm)",
				"systemUUID":              "",
			},
		},
	}}
	nodes := gvrs[schema.GroupVersionKind{Version: "v1", Kind: "Node"}]
	if _, err := dyn.Resource(nodes).ApplyStatus(ctx, name, obj, metav1.ApplyOptions{FieldManager: fieldManager, Force: true}); err != nil {
		return fmt.Errorf("set status of node %s: %w", name, err)
	}
	return nil
}

// kubeVersion is the pinned Kubernetes version of BinKey.
var kubeVersion = strings.TrimPrefix(strings.Split(BinKey, "_")[0], "k8s-")

// memTotal is this machine's memory as a Kubernetes quantity.
func memTotal() string {
	b, err := os.ReadFile("/proc/meminfo")
	if err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "MemTotal:" {
				return f[1] + "Ki"
			}
		}
	}
	return "8Gi"
}
