package worker

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"time"

	"helm.sh/helm/v3/pkg/kube"
	"helm.sh/helm/v3/pkg/release"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"labs.dev/lab/providers/helm/wire"
)

// waitInterval is how often readiness is polled. helm's own Wait polls
// every 2 s, which on a fast cluster makes every install take over 2 s
// while the pods were ready after half a second.
const waitInterval = 200 * time.Millisecond

// waitReady waits until every object of the release is ready by helm's
// rules (kube.ReadyChecker, as helm's Wait uses; paused Deployments count
// as ready, Jobs are not waited for), reporting "k of n ready" as it goes.
func (w *worker) waitReady(ctx context.Context, rel *release.Release, deadline time.Time) error {
	infos, err := w.cfg.KubeClient.Build(bytes.NewBufferString(rel.Manifest), false)
	if err != nil {
		return fmt.Errorf("read the objects of helm release %q: %w", rel.Name, err)
	}
	cs, err := w.cfg.KubernetesClientSet()
	if err != nil {
		return err
	}
	debug := func(format string, args ...any) {
		w.emit(wire.Event{Level: wire.LevelDebug, Msg: fmt.Sprintf(format, args...)})
	}
	rc := kube.NewReadyChecker(cs, debug, kube.PausedAsReady(true), kube.CheckJobs(false))
	ctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()

	n := len(infos)
	w.emit(wire.Event{Level: wire.LevelProgress, Msg: fmt.Sprintf("waiting for %d resources to be ready", n), Total: n})
	last := -1
	tick := time.NewTicker(waitInterval)
	defer tick.Stop()
	for {
		var notReady []string
		var lastErr error
		for _, info := range infos {
			ok, err := rc.IsReady(ctx, info)
			if ok && err == nil && info.Mapping.GroupVersionKind.Kind == "Deployment" {
				ok, err = deploymentCaughtUp(ctx, cs, info.Namespace, info.Name)
			}
			if err != nil {
				lastErr = err
			}
			if !ok {
				notReady = append(notReady, info.Mapping.GroupVersionKind.Kind+" "+info.Namespace+"/"+info.Name)
			}
		}
		if done := n - len(notReady); done != last {
			last = done
			w.emit(wire.Event{Level: wire.LevelProgress, Msg: fmt.Sprintf("%d of %d resources ready", done, n), Done: done, Total: n})
		}
		if len(notReady) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			var msg string
			if ctx.Err() == context.DeadlineExceeded {
				msg = fmt.Sprintf("not ready within the timeout of %s", w.timeout)
			} else {
				msg = "interrupted while waiting for"
			}
			err := fmt.Errorf("%s: %s", msg, strings.Join(notReady, ", "))
			if ctx.Err() == context.DeadlineExceeded {
				err = fmt.Errorf("%w; `kubectl describe pods -n %s` shows why (e.g. Pending: no node fits), or raise timeout", err, w.req.Namespace)
			}
			if lastErr != nil && ctx.Err() == context.DeadlineExceeded {
				err = fmt.Errorf("%w (last error: %v)", err, lastErr)
			}
			return err
		case <-tick.C:
		}
	}
}

// wait waits for the release's objects with the release recorded as
// pending, as helm's own Wait would leave it: a worker killed while waiting
// leaves a pending release that the next plan retries, not a "deployed"
// one whose pods never became ready.
func (w *worker) wait(ctx context.Context, rel *release.Release, pending release.Status, deadline time.Time) error {
	status, desc := rel.Info.Status, rel.Info.Description
	rel.SetStatus(pending, "waiting for the release's objects to be ready")
	if err := w.cfg.Releases.Update(rel); err != nil {
		return fmt.Errorf("record helm release %q as waiting: %w", rel.Name, err)
	}
	if err := w.waitReady(ctx, rel, deadline); err != nil {
		w.markFailed(rel, err)
		return err
	}
	rel.SetStatus(status, desc)
	if err := w.cfg.Releases.Update(rel); err != nil {
		return fmt.Errorf("record helm release %q as %s: %w", rel.Name, status, err)
	}
	return nil
}

// markFailed records a release whose objects never became ready as
// failed, so the next plan retries it.
func (w *worker) markFailed(rel *release.Release, err error) {
	rel.SetStatus(release.StatusFailed, err.Error())
	if uerr := w.cfg.Releases.Update(rel); uerr != nil {
		debugf := fmt.Sprintf("could not mark release %s failed: %v", rel.Name, uerr)
		w.emit(wire.Event{Level: wire.LevelWarn, Msg: debugf})
	}
}

// deploymentCaughtUp adds to helm's check (the new ReplicaSet's pods are
// ready) that the Deployment's own status says so, so that `kubectl get
// deploy` right after lab returns shows the fleet READY, not 1/2.
func deploymentCaughtUp(ctx context.Context, cs kubernetes.Interface, ns, name string) (bool, error) {
	d, err := cs.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return false, err
	}
	if d.Spec.Paused {
		return true, nil
	}
	want := int32(1)
	if d.Spec.Replicas != nil {
		want = *d.Spec.Replicas
	}
	st := d.Status
	return st.ObservedGeneration >= d.Generation && st.UpdatedReplicas >= want && st.ReadyReplicas >= want && st.AvailableReplicas >= want, nil
}
