package kubernetes

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/zclconf/go-cty/cty"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"

	"labs.dev/lab/lab/resource"
	"labs.dev/lab/providers/kube"
)

// fieldManager owns every field lab applies.
const fieldManager = "lab"

// parallel bounds concurrent requests to one cluster: enough to hide
// round trips, few enough not to starve a small API server.
const parallel = 16

// inCluster is what the Kubernetes kinds share: the command's
// connections, and how a block names its cluster (resource.InCluster).
type inCluster struct{ kube *kube.Connections }

// OwnConnection reads the kubeconfig and context arguments.
func (inCluster) OwnConnection(env resource.Env, config cty.Value) (resource.Connection, bool) {
	return kube.OwnConnection(env, config)
}

// connect returns the client of the cluster config lives in: the one it
// states, else cluster, the one the engine connected it to.
func (k inCluster) connect(env resource.Env, cluster resource.Connection, config cty.Value) (*kube.Client, error) {
	return k.kube.Connect(kube.TargetFor(env, cluster, config))
}

// reach explains a failed request in terms of the cluster it went to.
func reach(c *kube.Client, what string, err error) error {
	if err == nil {
		return nil
	}
	if apierrors.IsForbidden(err) || apierrors.IsUnauthorized(err) {
		return fmt.Errorf("%s: %w (the credentials of %s lack permission)", what, err, c.Target)
	}
	if _, ok := err.(apierrors.APIStatus); ok || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return fmt.Errorf("%s: %w", what, err)
	}
	return fmt.Errorf("%s: %w (is the cluster of %s running? `lab up` creates it)", what, err, c.Target)
}

// apply server-side applies obj with lab's field manager. It forces
// (takes over fields another manager holds, only fields obj sets) when
// force says the conflict was planned; otherwise a conflict is a
// *ConflictError naming the fields and their managers.
func apply(ctx context.Context, ri dynamic.ResourceInterface, obj *unstructured.Unstructured, what string, force func([]fieldConflict) bool) (*unstructured.Unstructured, error) {
	return applyAs(ctx, ri, obj, fieldManager, what, force)
}

// applyAs is apply with another field manager.
func applyAs(ctx context.Context, ri dynamic.ResourceInterface, obj *unstructured.Unstructured, manager, what string, force func([]fieldConflict) bool) (*unstructured.Unstructured, error) {
	body, err := json.Marshal(obj.Object)
	if err != nil {
		return nil, err
	}
	opts := metav1.PatchOptions{FieldManager: manager, FieldValidation: metav1.FieldValidationStrict}
	out, err := ri.Patch(ctx, obj.GetName(), types.ApplyPatchType, body, opts)
	cs := conflictsOf(err)
	if cs == nil {
		return out, err
	}
	if force == nil || !force(cs) {
		return nil, &ConflictError{Object: what, Conflicts: cs}
	}
	yes := true
	opts.Force = &yes
	return ri.Patch(ctx, obj.GetName(), types.ApplyPatchType, body, opts)
}

// always forces: lab's own bookkeeping fields.
func always([]fieldConflict) bool { return true }

// withOwner adds lab's annotations to obj, and its owner labels when lab
// creates the object or made it before: an object someone else made is
// adopted without them, so destroy leaves it in place.
func withOwner(obj *unstructured.Unstructured, owner resource.Owner, addr resource.Addr, labels bool) *unstructured.Unstructured {
	out := obj.DeepCopy()
	if labels {
		l := out.GetLabels()
		if l == nil {
			l = map[string]string{}
		}
		for k, v := range owner.Labels() {
			l[k] = v
		}
		out.SetLabels(l)
	}
	a := out.GetAnnotations()
	if a == nil {
		a = map[string]string{}
	}
	for k, v := range owner.Annotations(addr) {
		a[k] = v
	}
	out.SetAnnotations(a)
	return out
}

// backoff yields growing pauses for polling, from 100ms to 2s.
type backoff struct{ d time.Duration }

func (b *backoff) wait(ctx context.Context) error {
	if b.d == 0 {
		b.d = 100 * time.Millisecond
	} else if b.d = b.d * 3 / 2; b.d > 2*time.Second {
		b.d = 2 * time.Second
	}
	t := time.NewTimer(b.d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// forEach runs fn for 0..n-1 with at most parallel at once and returns
// every error, joined in index order.
func forEach(ctx context.Context, n int, fn func(ctx context.Context, i int) error) error {
	errs := make([]error, n)
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			errs[i] = ctx.Err()
			continue
		}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			errs[i] = fn(ctx, i)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// joinLines renders errors one per line under a heading.
func joinLines(head string, lines []string) string {
	return head + "\n  " + strings.Join(lines, "\n  ")
}
