package worker

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"helm.sh/helm/v3/pkg/kube"
	"helm.sh/helm/v3/pkg/release"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/cli-runtime/pkg/resource"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"labs.dev/lab/providers/helm/wire"
	labkube "labs.dev/lab/providers/kube"
	"labs.dev/lab/providers/kube/blocker"
)

// waitInterval is how often readiness is polled. helm's own Wait polls
// every 2 s, which on a fast cluster makes every install take over 2 s
// while the pods were ready after half a second.
const waitInterval = 200 * time.Millisecond

// explainEvery is how often the wait asks why objects are not ready: the
// reason shows within seconds, and a release ready in a second never asks.
const explainEvery = time.Second

// maxExplained bounds the objects explained in one round.
const maxExplained = 10

// waitReady waits until every object of the release is ready by helm's
// rules (kube.ReadyChecker, as helm's Wait uses; paused Deployments count
// as ready, Jobs are not waited for), reporting "k of n ready" as it goes
// and, while an object is not, which one and why (blocker); once,
// prominently, when a reason has held for blocker.StallAfter with
// nothing becoming ready. Only the timeout fails.
func (w *worker) waitReady(ctx context.Context, rel *release.Release, deadline time.Time) error {
	infos, err := w.cfg.KubeClient.Build(bytes.NewBufferString(rel.Manifest), false)
	if err != nil {
		return fmt.Errorf("read the objects of helm release %q: %w", rel.Name, err)
	}
	cs, err := w.cfg.KubernetesClientSet()
	if err != nil {
		return err
	}
	rc, err := w.cfg.RESTClientGetter.ToRESTConfig()
	if err != nil {
		return err
	}
	dyn, err := dynamic.NewForConfig(rc)
	if err != nil {
		return err
	}
	lister := blocker.Lister{Dynamic: dyn, Options: blocker.Options{Whose: "the chart's"}}
	debug := func(format string, args ...any) {
		w.emit(wire.Event{Level: wire.LevelDebug, Msg: fmt.Sprintf(format, args...)})
	}
	checker := kube.NewReadyChecker(cs, debug, kube.PausedAsReady(true), kube.CheckJobs(false))
	wctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()

	n := len(infos)
	w.emit(wire.Event{Level: wire.LevelProgress, Msg: fmt.Sprintf("waiting for %d resources to be ready", n), Total: n})
	said := ""
	explained := time.Now()
	var why *blocker.Reason
	var stall blocker.Stall
	tick := time.NewTicker(waitInterval)
	defer tick.Stop()
	// Each round asks only about the objects not yet seen ready; once all
	// have been, it asks again about those seen ready in earlier rounds,
	// so the release is ready when all are at once, as helm's Wait has
	// it. At 100 releases waiting, polling every object every round was
	// most of the API server's load, and slowed the controllers being
	// waited for.
	seen := make([]bool, n)
	for {
		var notReady []*resource.Info
		var lastErr error
		ask := func(skip func(i int) bool) {
			notReady, lastErr = notReady[:0], nil
			for i, info := range infos {
				if skip(i) {
					continue
				}
				ok, err := isReady(wctx, checker, cs, info)
				if err != nil {
					lastErr = err
				}
				seen[i] = ok
				if !ok {
					notReady = append(notReady, info)
				}
			}
		}
		earlier := slices.Clone(seen)
		ask(func(i int) bool { return earlier[i] })
		if len(notReady) == 0 {
			ask(func(i int) bool { return !earlier[i] })
		}
		done := n - len(notReady)
		if len(notReady) == 0 {
			if done != 0 && said != "" {
				w.emit(wire.Event{Level: wire.LevelProgress, Msg: fmt.Sprintf("%d of %d resources ready", done, n), Done: done, Total: n})
			}
			return nil
		}
		if time.Since(explained) >= explainEvery {
			why = w.explain(wctx, lister, dyn, notReady)
			explained = time.Now()
		}
		ev := wire.Event{Level: wire.LevelProgress, Msg: fmt.Sprintf("%d of %d resources ready", done, n), Done: done, Total: n}
		key := ""
		if why != nil {
			ev.Msg += ": " + why.String()
			ev.Blocked, key = toBlocked(why), why.Key()
		}
		if ev.Msg != said {
			w.emit(ev)
			said = ev.Msg
		}
		if stall.Observe(time.Now(), key, done) {
			ev.Stalled = true
			ev.Msg = fmt.Sprintf("no progress for %s: %s (lab waits until the timeout of %s)", blocker.StallAfter, why, w.timeout)
			w.emit(ev)
		}
		select {
		case <-wctx.Done():
			if ctx.Err() != nil {
				return fmt.Errorf("interrupted while waiting for: %s", ids(notReady))
			}
			// One last look, so the error says why as of now.
			lctx, cancel := context.WithTimeout(ctx, labkube.RequestTimeout)
			if r := w.explain(lctx, lister, dyn, notReady); r != nil {
				why = r
			}
			cancel()
			if why != nil {
				w.blocked = &blockedError{reason: *why, timeout: w.timeout}
				return w.blocked
			}
			err := fmt.Errorf("not ready within the timeout of %s: %s; `kubectl describe pods -n %s` shows why (e.g. Pending: no node fits), or raise timeout", w.timeout, ids(notReady), w.req.Namespace)
			if lastErr != nil {
				err = fmt.Errorf("%w (last error: %v)", err, lastErr)
			}
			return err
		case <-tick.C:
		}
	}
}

func ids(infos []*resource.Info) string {
	s := make([]string, len(infos))
	for i, info := range infos {
		s[i] = info.Mapping.GroupVersionKind.Kind + " " + info.Namespace + "/" + info.Name
	}
	return strings.Join(s, ", ")
}

// explain reads the objects that are not ready and returns the most
// likely cause of the first that has one. Failing to read only costs
// the reason, so it is logged.
func (w *worker) explain(ctx context.Context, l blocker.Lister, dyn dynamic.Interface, notReady []*resource.Info) *blocker.Reason {
	var lives []*unstructured.Unstructured
	for _, info := range notReady {
		if len(lives) == maxExplained {
			break
		}
		if !blocker.Explains(info.Mapping.GroupVersionKind.GroupKind()) {
			continue
		}
		var ri dynamic.ResourceInterface = dyn.Resource(info.Mapping.Resource)
		if info.Namespaced() {
			ri = dyn.Resource(info.Mapping.Resource).Namespace(info.Namespace)
		}
		u, err := ri.Get(ctx, info.Name, metav1.GetOptions{})
		if err != nil {
			w.emit(wire.Event{Level: wire.LevelDebug, Msg: fmt.Sprintf("cannot read %s %s to tell why it is not ready: %v", info.Mapping.GroupVersionKind.Kind, info.Name, err)})
			continue
		}
		lives = append(lives, u)
	}
	if len(lives) == 0 {
		return nil
	}
	out, err := l.Explain(ctx, lives)
	if err != nil {
		w.emit(wire.Event{Level: wire.LevelDebug, Msg: "cannot tell why objects are not ready: " + err.Error()})
		return nil
	}
	for _, rs := range out {
		if len(rs) > 0 {
			return &rs[0]
		}
	}
	return nil
}

func toBlocked(r *blocker.Reason) *wire.Blocked {
	return &wire.Blocked{Object: r.Object, Reason: string(r.Code), Summary: r.Summary, Message: r.Message, Hint: r.Hint, Group: r.Group()}
}

// blockedError is a wait that timed out while reason held. Serve puts
// the reason in the response (from worker.blocked, however the error was
// wrapped), so lab can say it first and group like failures.
type blockedError struct {
	reason  blocker.Reason
	timeout time.Duration
}

func (e *blockedError) Error() string {
	return fmt.Sprintf("not ready within the timeout of %s: %s", e.timeout, e.reason)
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

// isReady is helm's readiness check of one object, and for a
// Deployment also deploymentCaughtUp, asked first: it is one GET where
// helm's check is a GET and a LIST of ReplicaSets, and while a
// Deployment is rolling out it is the one that says no.
func isReady(ctx context.Context, checker kube.ReadyChecker, cs kubernetes.Interface, info *resource.Info) (bool, error) {
	if info.Mapping.GroupVersionKind.Kind == "Deployment" {
		if ok, err := deploymentCaughtUp(ctx, cs, info.Namespace, info.Name); !ok || err != nil {
			return false, err
		}
	}
	return checker.IsReady(ctx, info)
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
