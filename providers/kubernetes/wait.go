package kubernetes

import (
	"context"
	"fmt"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"

	"labs.dev/lab/lab/resource"
	"labs.dev/lab/providers/kube"
	"labs.dev/lab/providers/kube/blocker"
)

// readiness is kstatus's verdict on one object.
type readiness struct {
	status  status.Status
	message string
}

func assess(u *unstructured.Unstructured) readiness {
	res, err := status.Compute(u)
	if err != nil {
		return readiness{status.UnknownStatus, err.Error()}
	}
	return readiness{res.Status, res.Message}
}

// explainEvery is how often a wait asks why objects are not ready: the
// reason shows within seconds, and a wait over in a second never asks.
const explainEvery = time.Second

// maxExplained bounds the objects explained in one round, each round
// costing a few LISTs per namespace.
const maxExplained = 10

// waitReady polls the objects, with backoff, until kstatus calls each of
// them Current or timeout passes. The apply responses are assessed first,
// so objects that are ready at once (ConfigMaps, Services) cost nothing.
// While it waits it says which object blocks and why (blocker), and
// once, prominently, when a reason has held for blocker.StallAfter with
// nothing becoming ready; only the timeout fails.
func waitReady(ctx context.Context, env resource.Env, addr resource.Addr, c *kube.Client, objs []*applied, timeout time.Duration, word string) error {
	verdicts := make([]readiness, len(objs))
	var pending []int
	for i, x := range objs {
		verdicts[i] = assess(x.live)
		if verdicts[i].status != status.CurrentStatus {
			pending = append(pending, i)
		}
	}
	if len(pending) == 0 {
		return nil
	}
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var b backoff
	var said string
	var saidAt time.Time
	reasons := make([][]blocker.Reason, len(objs))
	lister := blocker.Lister{Dynamic: c.Dynamic}
	explained := time.Now()
	var stall blocker.Stall
	for {
		if time.Since(explained) >= explainEvery {
			explain(wctx, env, lister, objs, pending, reasons)
			explained = time.Now()
		}
		done := len(objs) - len(pending)
		p := resource.Progress{Addr: addr, Done: done, Total: len(objs)}
		key := ""
		if r := firstReason(pending, reasons); r != nil {
			b := r.Blocked()
			p.Blocked, key = &b, r.Key()
			p.Msg = fmt.Sprintf("waiting for %s to be %s: %s", count(len(pending), "object"), word, r)
		} else {
			x := objs[pending[0]]
			p.Msg = fmt.Sprintf("waiting for %s to be %s: %s: %s", count(len(pending), "object"), word, x.id, verdicts[pending[0]].message)
		}
		if p.Msg != said || time.Since(saidAt) > 5*time.Second {
			env.Progress(p)
			said, saidAt = p.Msg, time.Now()
		}
		if stall.Observe(time.Now(), key, done) {
			p.Stalled = true
			p.Msg = fmt.Sprintf("no progress for %s: %s (lab waits until the timeout of %s)", blocker.StallAfter, p.Blocked, timeout)
			env.Progress(p)
		}
		if err := b.wait(wctx); err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("%s: stopped waiting for objects to be %s: %w", addr, word, ctx.Err())
			}
			// One last look, so the error says why as of now.
			lctx, cancel := context.WithTimeout(ctx, kube.RequestTimeout)
			explain(lctx, env, lister, objs, pending, reasons)
			cancel()
			return timedOut(addr, timeout, word, objs, pending, verdicts, reasons)
		}
		_ = forEach(wctx, len(pending), func(ctx context.Context, k int) error {
			i := pending[k]
			u, err := objs[i].resourceIn(c).Get(ctx, objs[i].id.Name, metav1.GetOptions{})
			switch {
			case apierrors.IsNotFound(err):
				verdicts[i] = readiness{status.NotFoundStatus, "deleted while lab waited for it"}
			case err != nil:
				verdicts[i] = readiness{status.UnknownStatus, err.Error()}
			default:
				verdicts[i] = assess(u)
				objs[i].live = u
			}
			return nil
		})
		still := pending[:0]
		for _, i := range pending {
			if verdicts[i].status != status.CurrentStatus {
				still = append(still, i)
			}
		}
		if pending = still; len(pending) == 0 {
			return nil
		}
	}
}

// explain asks why the first pending objects blocker knows are not
// ready. A failure to list only costs the reason, so it is logged.
func explain(ctx context.Context, env resource.Env, l blocker.Lister, objs []*applied, pending []int, reasons [][]blocker.Reason) {
	var idx []int
	var lives []*unstructured.Unstructured
	for _, i := range pending {
		if len(idx) == maxExplained {
			break
		}
		if objs[i].live != nil && blocker.Explains(objs[i].live.GroupVersionKind().GroupKind()) {
			idx = append(idx, i)
			lives = append(lives, objs[i].live)
		}
	}
	if len(idx) == 0 {
		return
	}
	out, err := l.Explain(ctx, lives)
	if err != nil {
		env.Log.Debug("cannot tell why objects are not ready", "error", err)
		return
	}
	for k, i := range idx {
		reasons[i] = out[k]
	}
}

// firstReason is the most likely cause of the first pending object that
// has one.
func firstReason(pending []int, reasons [][]blocker.Reason) *blocker.Reason {
	for _, i := range pending {
		if len(reasons[i]) > 0 {
			return &reasons[i][0]
		}
	}
	return nil
}

// timedOut is the error of a wait that ran out of time: what blocked
// it, one object or reason a line, typed so the run's summary can group
// failures that share a reason.
func timedOut(addr resource.Addr, timeout time.Duration, word string, objs []*applied, pending []int, verdicts []readiness, reasons [][]blocker.Reason) error {
	first := firstReason(pending, reasons)
	var lines []string
	for _, i := range pending {
		if len(reasons[i]) == 0 {
			lines = append(lines, fmt.Sprintf("%s (%s): %s: %s", objs[i].id, objs[i].doc(), verdicts[i].status, verdicts[i].message))
			continue
		}
		for _, r := range reasons[i] {
			// Where the object is declared, after its name.
			line := r.String()
			if rest, ok := strings.CutPrefix(line, r.Object); ok && r.Object == objs[i].id.String() {
				line = fmt.Sprintf("%s (%s)%s", r.Object, objs[i].doc(), rest)
			}
			lines = append(lines, line)
		}
	}
	if first == nil {
		return fmt.Errorf("%s", joinLines(fmt.Sprintf("%s: timed out after %s waiting for %s of %d to be %s:",
			addr, timeout, count(len(pending), "object"), len(objs), word), lines)+
			"\n`kubectl describe` and `kubectl get events` show why; raise timeout, or set wait = false to not wait")
	}
	var err error
	if len(lines) == 1 {
		err = fmt.Errorf("%s: %s\n(not %s after the timeout of %s; raise timeout, or set wait = false to not wait)", addr, lines[0], word, timeout)
	} else {
		err = fmt.Errorf("%s", joinLines(fmt.Sprintf("%s: timed out after %s waiting for %s of %d to be %s:",
			addr, timeout, count(len(pending), "object"), len(objs), word), lines)+
			"\nraise timeout, or set wait = false to not wait")
	}
	return &resource.BlockedError{Blocked: first.Blocked(), Err: err}
}
