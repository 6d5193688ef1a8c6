package verify

import (
	"context"
	"errors"
	"fmt"
	"net"
	"syscall"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	utilnet "k8s.io/apimachinery/pkg/util/net"
	"k8s.io/client-go/tools/clientcmd"

	"labs.dev/lab/providers/kube"
)

// Why a check could not judge the learner's work (a CheckResult's Err).
// They stay typed until rendered: the CLI tells an unreachable cluster
// from a mistake in labs.hcl with errors.As, not by reading messages.

// UnreachableError says the API server did not answer: the connection
// was refused or reset, or no answer came in time.
type UnreachableError struct {
	Host, Context string
	Err           error
}

func (e *UnreachableError) Error() string {
	where := e.Host
	if e.Context != "" {
		where += " (context " + e.Context + ")"
	}
	return fmt.Sprintf("cannot reach the cluster at %s: %s — is it up? run `lab up`", where, reason(e.Err))
}

func (e *UnreachableError) Unwrap() error { return e.Err }

// NotServedError says the cluster has no such kind.
type NotServedError struct{ APIVersion, Kind string }

func (e *NotServedError) Error() string {
	return fmt.Sprintf("the cluster does not serve kind %s in apiVersion %s (a CRD not installed, or a typo in the lab's select block)", e.Kind, e.APIVersion)
}

// DeniedError says the cluster did not let lab read: its credentials were
// refused (Unauthorized) or lack the right to list (Forbidden).
type DeniedError struct {
	// Host is the API server; Resource and Where say what was listed
	// ("deployments", "in namespace dev").
	Host, Resource, Where string
	Err                   error
}

func (e *DeniedError) Error() string {
	if apierrors.IsUnauthorized(e.Err) {
		return fmt.Sprintf("the cluster at %s refused lab's credentials (%s); check the kubeconfig context", e.Host, apiMessage(e.Err))
	}
	return fmt.Sprintf("not allowed to list %s %s: %s (lab verify only reads; ask for the view role)", e.Resource, e.Where, apiMessage(e.Err))
}

func (e *DeniedError) Unwrap() error { return e.Err }

// AuthorError is a mistake in the check itself, such as a condition that
// is not true or false: the learner's work cannot be judged by it, and
// only the lab's author can fix it.
type AuthorError struct {
	Source  string // where the assertion is written, labs.hcl:42
	Problem string
}

func (e *AuthorError) Error() string {
	return fmt.Sprintf("the check itself is wrong (%s): %s; the lab's author must fix labs.hcl", e.Source, e.Problem)
}

// SelectError is a selection that could not be listed for a reason
// other than an unreachable cluster.
type SelectError struct {
	Label, What string // the select block's label and what it looks for
	Err         error
}

func (e *SelectError) Error() string {
	return fmt.Sprintf("select %q (%s): %s", e.Label, e.What, e.Err)
}

func (e *SelectError) Unwrap() error { return e.Err }

// InterruptedError is a check stopped (Ctrl-C) before it could finish.
type InterruptedError struct{ Err error }

func (e *InterruptedError) Error() string { return "interrupted before the check could finish" }

func (e *InterruptedError) Unwrap() error { return e.Err }

// Reach types an error from a request through c: an *UnreachableError
// when the API server did not answer, otherwise err as it is. lab test
// and lab reset use it for their own requests.
func Reach(c *kube.Client, err error) error {
	return unreachable(err, c.Config.Host, c.Target.Context, c.Target.Kubeconfig)
}

// unreachable is Reach from parts; context "" is read from the
// kubeconfig, on this error path only.
func unreachable(err error, host, context, kubeconfig string) error {
	if err == nil || !isUnreachable(err) {
		return err
	}
	var u *UnreachableError
	if errors.As(err, &u) {
		return err
	}
	if context == "" {
		context = currentContext(kubeconfig)
	}
	return &UnreachableError{Host: host, Context: context, Err: err}
}

// isUnreachable reports whether err is a transport failure: no
// connection, a connection lost, or no answer in time.
func isUnreachable(err error) bool {
	var opErr *net.OpError
	var dnsErr *net.DNSError
	var netErr net.Error
	var retry *kube.RetryError
	return utilnet.IsConnectionRefused(err) || errors.Is(err, syscall.ECONNREFUSED) || errors.As(err, &opErr) || errors.As(err, &dnsErr) ||
		utilnet.IsProbableEOF(err) || utilnet.IsConnectionReset(err) || errors.As(err, &retry) ||
		(errors.As(err, &netErr) && netErr.Timeout()) || errors.Is(err, context.DeadlineExceeded)
}

func reason(err error) string {
	switch {
	case errors.Is(err, syscall.ECONNREFUSED) || utilnet.IsConnectionRefused(err):
		return "connection refused"
	case errors.Is(err, context.DeadlineExceeded):
		return "timed out"
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return "cannot resolve " + dnsErr.Name
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Err != nil {
		return opErr.Err.Error()
	}
	return err.Error()
}

// currentContext names the kubeconfig's current context, for messages
// only; it is read on the error path, never before a check.
func currentContext(kubeconfig string) string {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if kubeconfig != "" {
		rules.ExplicitPath = kubeconfig
	}
	raw, err := rules.Load()
	if err != nil || raw == nil {
		return ""
	}
	return raw.CurrentContext
}

func apiMessage(err error) string {
	var s apierrors.APIStatus
	if errors.As(err, &s) {
		return s.Status().Message
	}
	return err.Error()
}
