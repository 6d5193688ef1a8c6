package kind

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"

	"sigs.k8s.io/kind/pkg/apis/config/v1alpha4"
	"sigs.k8s.io/kind/pkg/cluster"
	"sigs.k8s.io/kind/pkg/cluster/nodeutils"
	kindlog "sigs.k8s.io/kind/pkg/log"

	"labs.dev/lab/providers/kind/host"
)

// engine is what lab needs of kind for one container engine. kindEngine
// is the real one; tests use a fake, so the decisions around it are
// tested without Docker.
type engine interface {
	List() ([]string, error)
	Create(name string, cfg *v1alpha4.Cluster, wait time.Duration, kubeconfig string) error
	ExportKubeConfig(name, kubeconfig string) error
	Delete(name, kubeconfig string) error
	// Nodes inspects the cluster's node containers, running or not.
	Nodes(ctx context.Context, name string) ([]node, error)
	// Start starts (or unpauses) node containers that are down. kind's
	// library has no restart: this is the engine's own start, as kind
	// itself runs the engine's CLI.
	Start(ctx context.Context, nodes []node) error
	// KubeVersion is the Kubernetes version the cluster's first
	// control-plane node runs (kind's /kind/version).
	KubeVersion(ctx context.Context, name string) (string, error)
}

type kindEngine struct {
	p   *cluster.Provider
	cli string // docker or podman
}

func newKindEngine(backend string, log *slog.Logger) engine {
	opt := cluster.ProviderWithDocker()
	if backend == Podman {
		opt = cluster.ProviderWithPodman()
	}
	return kindEngine{p: cluster.NewProvider(opt, cluster.ProviderWithLogger(kindLogger{log})), cli: backend}
}

func (k kindEngine) List() ([]string, error) { return k.p.List() }

func (k kindEngine) Create(name string, cfg *v1alpha4.Cluster, wait time.Duration, kubeconfig string) error {
	return k.p.Create(name,
		cluster.CreateWithV1Alpha4Config(cfg),
		cluster.CreateWithWaitForReady(wait),
		cluster.CreateWithKubeconfigPath(kubeconfig),
		cluster.CreateWithDisplayUsage(false),
		cluster.CreateWithDisplaySalutation(false),
	)
}

func (k kindEngine) ExportKubeConfig(name, kubeconfig string) error {
	return k.p.ExportKubeConfig(name, kubeconfig, false)
}

// Delete deletes the cluster, and kind's network when no container is
// left on it: kind makes the network on first create and never removes
// it, and lab down promises to leave nothing behind. The engine refuses
// to remove a network a container still uses, which keeps it for other
// clusters.
func (k kindEngine) Delete(name, kubeconfig string) error {
	if err := k.p.Delete(name, kubeconfig); err != nil {
		return err
	}
	network := "kind"
	if n := os.Getenv("KIND_EXPERIMENTAL_" + strings.ToUpper(k.cli) + "_NETWORK"); n != "" {
		network = n
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, _ = k.run(ctx, "network", "rm", network)
	return nil
}

// inspected is the part of `docker/podman inspect` lab reads; both
// engines write these fields alike (docker prefixes the name with /).
type inspected struct {
	Name  string
	State struct {
		Status     string
		ExitCode   int
		FinishedAt string
	}
	Config struct {
		Image  string
		Labels map[string]string
	}
	HostConfig struct {
		PortBindings map[string][]struct {
			HostIP   string `json:"HostIp"`
			HostPort string
		}
	}
}

// kind's label for a node's role.
const roleLabel = "io.x-k8s.kind.role"

func (k kindEngine) Nodes(ctx context.Context, name string) ([]node, error) {
	ns, err := k.p.ListNodes(name)
	if err != nil {
		return nil, err
	}
	if len(ns) == 0 {
		return nil, nil
	}
	args := []string{"inspect", "--type=container"}
	for _, n := range ns {
		args = append(args, n.String())
	}
	out, err := k.run(ctx, args...)
	if err != nil {
		return nil, err
	}
	return parseInspect(out)
}

func parseInspect(out []byte) ([]node, error) {
	var raw []inspected
	if err := json.Unmarshal(out, &raw); err != nil {
		return nil, fmt.Errorf("read inspect output: %w", err)
	}
	var nodes []node
	for _, r := range raw {
		n := node{Name: strings.TrimPrefix(r.Name, "/"), Role: r.Config.Labels[roleLabel], State: r.State.Status, Image: r.Config.Image}
		if n.State == "exited" || n.State == "stopped" {
			n.Exit = fmt.Sprintf("exit code %d", r.State.ExitCode)
			if t, err := time.Parse(time.RFC3339Nano, r.State.FinishedAt); err == nil && !t.IsZero() && t.Year() > 1 {
				n.Exit += " at " + t.Local().Format(time.DateTime)
			}
		}
		for spec, bindings := range r.HostConfig.PortBindings {
			proto := "TCP"
			if i := strings.IndexByte(spec, '/'); i >= 0 {
				proto = strings.ToUpper(spec[i+1:])
			}
			for _, b := range bindings {
				p, err := strconv.Atoi(b.HostPort)
				if err != nil || p == 0 {
					continue
				}
				n.Ports = append(n.Ports, host.Port{Address: b.HostIP, Port: int32(p), Protocol: proto, What: "published by node " + n.Name + " for " + spec})
			}
		}
		slices.SortFunc(n.Ports, func(a, b host.Port) int { return int(a.Port - b.Port) })
		nodes = append(nodes, n)
	}
	slices.SortFunc(nodes, func(a, b node) int { return strings.Compare(a.Name, b.Name) })
	return nodes, nil
}

func (k kindEngine) Start(ctx context.Context, nodes []node) error {
	var start, unpause []string
	for _, n := range nodes {
		if n.State == "paused" {
			unpause = append(unpause, n.Name)
		} else {
			start = append(start, n.Name)
		}
	}
	if len(unpause) > 0 {
		if _, err := k.run(ctx, append([]string{"unpause"}, unpause...)...); err != nil {
			return err
		}
	}
	if len(start) > 0 {
		if _, err := k.run(ctx, append([]string{"start"}, start...)...); err != nil {
			return err
		}
	}
	return nil
}

func (k kindEngine) KubeVersion(_ context.Context, name string) (string, error) {
	ns, err := k.p.ListNodes(name)
	if err != nil {
		return "", err
	}
	for _, n := range ns {
		if n.String() == name+"-control-plane" {
			return nodeutils.KubeVersion(n)
		}
	}
	return "", fmt.Errorf("no node container %s-control-plane", name)
}

func (k kindEngine) run(ctx context.Context, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, k.cli, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("%s %s: %w: %s", k.cli, args[0], err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

func contains(list []string, name string) bool { return slices.Contains(list, name) }

// kindLogger sends kind's output to lab's log: its warnings at info
// level (shown with LAB_LOG=debug), since lab's own checks say what
// matters and kind warns on every podman use ("experimental provider").
type kindLogger struct{ l *slog.Logger }

func (k kindLogger) Warn(m string)                      { k.l.Info(m) }
func (k kindLogger) Warnf(f string, a ...any)           { k.l.Info(fmt.Sprintf(f, a...)) }
func (k kindLogger) Error(m string)                     { k.l.Error(m) }
func (k kindLogger) Errorf(f string, a ...any)          { k.l.Error(fmt.Sprintf(f, a...)) }
func (k kindLogger) V(kindlog.Level) kindlog.InfoLogger { return k }
func (k kindLogger) Info(m string)                      { k.l.Debug(m) }
func (k kindLogger) Infof(f string, a ...any)           { k.l.Debug(fmt.Sprintf(f, a...)) }
func (k kindLogger) Enabled() bool                      { return true }
