package kube

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"syscall"
	"time"

	"k8s.io/client-go/rest"
)

// RequestTimeout bounds one request to the API server, so a cluster that
// accepts connections but never answers gives an error, not a hang.
const RequestTimeout = 30 * time.Second

const (
	firstDelay = 200 * time.Millisecond
	maxDelay   = 4 * time.Second
)

// Resilient makes requests through cfg ride out a restarting API server:
// transient failures are retried with exponential backoff for k.RetryFor.
// Only what is safe to send twice is retried: a request that never
// reached the server (connection refused), and for methods other than
// POST also one whose answer was lost or was a 5xx. A POST answered 500
// may have been carried out, so it is not repeated.
func (k *Connections) Resilient(cfg *rest.Config) {
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper { return &retrier{next: rt, k: k} })
}

type retrier struct {
	next http.RoundTripper
	k    *Connections
}

func (r *retrier) RoundTrip(req *http.Request) (*http.Response, error) {
	start := time.Now()
	delay := firstDelay
	for attempt := 1; ; attempt++ {
		resp, err := r.next.RoundTrip(req)
		if err == nil {
			r.k.answered.Store(req.URL.Host, true)
		}
		why := transient(req, resp, err)
		if why == "" {
			if err != nil && errors.Is(req.Context().Err(), context.DeadlineExceeded) {
				err = fmt.Errorf("%w (the API server at %s did not answer within %s)", err, req.URL.Host, time.Since(start).Round(time.Second))
			}
			return resp, err
		}
		ctx := req.Context()
		if ctx.Err() != nil || time.Since(start)+delay > r.k.budget(req.URL.Host) || (req.Body != nil && req.Body != http.NoBody && req.GetBody == nil) {
			if err != nil && attempt > 1 {
				err = &RetryError{Err: err, Attempts: attempt, Over: time.Since(start), Host: req.URL.Host}
			}
			return resp, err
		}
		if resp != nil {
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
			_ = resp.Body.Close()
		}
		if !sleep(ctx, delay) {
			return nil, ctx.Err()
		}
		delay = min(delay*2, maxDelay)
		if req.GetBody != nil {
			body, gerr := req.GetBody()
			if gerr != nil {
				return nil, gerr
			}
			req = req.Clone(ctx)
			req.Body = body
		}
	}
}

// budget is how long a request to host may be retried.
func (k *Connections) budget(host string) time.Duration {
	if _, ok := k.answered.Load(host); !ok {
		return min(k.RetryFor, k.FirstContactRetry)
	}
	return k.RetryFor
}

// CancelRequest passes a cancellation on, for client-go's transports that
// still cancel that way.
func (r *retrier) CancelRequest(req *http.Request) {
	if c, ok := r.next.(interface{ CancelRequest(*http.Request) }); ok {
		c.CancelRequest(req)
	}
}

func (r *retrier) WrappedRoundTripper() http.RoundTripper { return r.next }

// RetryError is a transient failure that outlasted the retries.
type RetryError struct {
	Err      error
	Attempts int
	Over     time.Duration
	Host     string
}

func (e *RetryError) Error() string {
	return fmt.Sprintf("%v (the API server at %s did not answer: tried %d times over %s)", e.Err, e.Host, e.Attempts, e.Over.Round(time.Second))
}

func (e *RetryError) Unwrap() error { return e.Err }

// transient says why a request may be sent again, or "" when it may not.
func transient(req *http.Request, resp *http.Response, err error) string {
	idempotent := req.Method != http.MethodPost
	if err != nil {
		if req.Context().Err() != nil {
			return ""
		}
		var op *net.OpError
		if errors.Is(err, syscall.ECONNREFUSED) || (errors.As(err, &op) && op.Op == "dial") {
			return "connection refused" // never reached the server
		}
		if !idempotent {
			return ""
		}
		var ne net.Error
		switch {
		case errors.Is(err, syscall.ECONNRESET), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
			return "connection lost"
		case errors.As(err, &ne) && ne.Timeout():
			return "timeout"
		}
		return ""
	}
	switch resp.StatusCode {
	case http.StatusServiceUnavailable:
		return "unavailable" // not serving yet: nothing was done
	case http.StatusInternalServerError, http.StatusBadGateway, http.StatusGatewayTimeout:
		if idempotent {
			return resp.Status // e.g. "etcdserver: leader changed"
		}
	}
	return ""
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
