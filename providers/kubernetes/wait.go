package kubernetes

import (
	"context"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"

	"labs.dev/lab/lab/resource"
	"labs.dev/lab/providers/kube"
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

// waitReady polls the objects, with backoff, until kstatus calls each of
// them Current or timeout passes. The apply responses are assessed first,
// so objects that are ready at once (ConfigMaps, Services) cost nothing.
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
	for {
		x := objs[pending[0]]
		msg := fmt.Sprintf("waiting for %s to be %s: %s: %s", count(len(pending), "object"), word, x.id, verdicts[pending[0]].message)
		if msg != said || time.Since(saidAt) > 5*time.Second {
			env.Progress(resource.Progress{Addr: addr, Msg: msg, Done: len(objs) - len(pending), Total: len(objs)})
			said, saidAt = msg, time.Now()
		}
		if err := b.wait(wctx); err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("%s: stopped waiting for objects to be %s: %w", addr, word, ctx.Err())
			}
			lines := make([]string, len(pending))
			for k, i := range pending {
				lines[k] = fmt.Sprintf("%s (%s): %s: %s", objs[i].id, objs[i].doc(), verdicts[i].status, verdicts[i].message)
			}
			return fmt.Errorf("%s", joinLines(fmt.Sprintf("%s: timed out after %s waiting for %s of %d to be %s:",
				addr, timeout, count(len(pending), "object"), len(objs), word), lines)+
				"\n`kubectl describe` and `kubectl get events` show why; raise timeout, or set wait = false to not wait")
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
