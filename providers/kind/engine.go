package kind

import (
	"context"
	"fmt"
	"log/slog"
	"os/exec"
	"slices"
	"time"

	"sigs.k8s.io/kind/pkg/apis/config/v1alpha4"
	"sigs.k8s.io/kind/pkg/cluster"
	kindlog "sigs.k8s.io/kind/pkg/log"
)

// engine is what lab needs of kind for one container engine. kindEngine
// is the real one; tests use a fake, so the decisions around it are
// tested without Docker.
type engine interface {
	List() ([]string, error)
	Create(name string, cfg *v1alpha4.Cluster, wait time.Duration, kubeconfig string) error
	ExportKubeConfig(name, kubeconfig string) error
	Delete(name, kubeconfig string) error
}

type kindEngine struct{ p *cluster.Provider }

func newKindEngine(backend string, log *slog.Logger) engine {
	opt := cluster.ProviderWithDocker()
	if backend == Podman {
		opt = cluster.ProviderWithPodman()
	}
	return kindEngine{cluster.NewProvider(opt, cluster.ProviderWithLogger(kindLogger{log}))}
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

func (k kindEngine) Delete(name, kubeconfig string) error { return k.p.Delete(name, kubeconfig) }

// answers reports whether the container engine's daemon (not just its
// CLI) responds within two seconds.
func answers(ctx context.Context, backend string) bool {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	// `info` fails when the daemon is unreachable; output is not needed.
	return exec.CommandContext(ctx, backend, "info").Run() == nil
}

func contains(list []string, name string) bool { return slices.Contains(list, name) }

// kindLogger sends kind's output to lab's debug log.
type kindLogger struct{ l *slog.Logger }

func (k kindLogger) Warn(m string)                      { k.l.Warn(m) }
func (k kindLogger) Warnf(f string, a ...any)           { k.l.Warn(fmt.Sprintf(f, a...)) }
func (k kindLogger) Error(m string)                     { k.l.Error(m) }
func (k kindLogger) Errorf(f string, a ...any)          { k.l.Error(fmt.Sprintf(f, a...)) }
func (k kindLogger) V(kindlog.Level) kindlog.InfoLogger { return k }
func (k kindLogger) Info(m string)                      { k.l.Debug(m) }
func (k kindLogger) Infof(f string, a ...any)           { k.l.Debug(fmt.Sprintf(f, a...)) }
func (k kindLogger) Enabled() bool                      { return true }
