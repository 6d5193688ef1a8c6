package kube

import (
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"k8s.io/client-go/rest"
)

// retrying returns connections of the test's own that retry for d.
func retrying(d time.Duration) *Connections {
	k := NewConnections()
	k.RetryFor = d
	return k
}

func client(t *testing.T, k *Connections, url string) *http.Client {
	t.Helper()
	cfg := &rest.Config{Host: url, Timeout: 2 * time.Second}
	cfg.TLSClientConfig.Insecure = true
	k.Resilient(cfg)
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return hc
}

// A server that answers 503 while it starts, then serves, is waited for;
// the body of a PATCH is sent again whole.
func TestRetryRidesOutARestart(t *testing.T) {
	k := retrying(10 * time.Second)
	var calls atomic.Int32
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if calls.Add(1) <= 2 {
			http.Error(w, "starting", http.StatusServiceUnavailable)
			return
		}
		if r.Method == http.MethodPatch && string(b) != "the-body" {
			http.Error(w, "body was "+string(b), http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	req, _ := http.NewRequest(http.MethodPatch, srv.URL+"/api", strings.NewReader("the-body"))
	resp, err := client(t, k, srv.URL).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || calls.Load() != 3 {
		t.Errorf("status %d after %d calls, want 200 after 3", resp.StatusCode, calls.Load())
	}
}

// A POST answered 500 may have been carried out: it is not repeated.
func TestRetryDoesNotRepeatAPostTheServerMayHaveDone(t *testing.T) {
	k := retrying(5 * time.Second)
	var calls atomic.Int32
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		http.Error(w, "etcdserver: leader changed", http.StatusInternalServerError)
	}))
	defer srv.Close()
	resp, err := client(t, k, srv.URL).Post(srv.URL+"/api/v1/namespaces", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if calls.Load() != 1 {
		t.Errorf("POST sent %d times, want once", calls.Load())
	}
}

// Nothing listening: the error comes after RetryFor and says what was
// tried.
func TestRetryGivesUpOnAnUnreachableServer(t *testing.T) {
	k := retrying(2 * time.Second)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "https://" + l.Addr().String()
	l.Close()
	start := time.Now()
	_, err = client(t, k, url).Get(url + "/api")
	var re *RetryError
	if !errors.As(err, &re) || !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("error %v, want a RetryError around connection refused", err)
	}
	if re.Attempts < 3 || !strings.Contains(err.Error(), "did not answer: tried") {
		t.Errorf("error %q after %d attempts in %s", err, re.Attempts, time.Since(start))
	}
}

// A server that never answered this process is given up on after
// FirstContactRetry; one that answered before gets all of RetryFor.
func TestRetryGivesUpSoonerOnAServerThatNeverAnswered(t *testing.T) {
	k := retrying(time.Minute)
	k.FirstContactRetry = 500 * time.Millisecond

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "https://" + l.Addr().String()
	l.Close()
	_, err = client(t, k, url).Get(url + "/api")
	var re *RetryError
	if !errors.As(err, &re) {
		t.Fatalf("error %v, want a RetryError", err)
	}
	// Backoff 0.2 s then 0.4 s fits in 0.5 s only as far as the second
	// wait: three attempts at most, where RetryFor would allow many more.
	if re.Attempts > 3 {
		t.Errorf("%d attempts against a server that never answered; want at most 3", re.Attempts)
	}
	if got := k.budget(l.Addr().String()); got != k.FirstContactRetry {
		t.Errorf("budget %s for a server never heard from, want %s", got, k.FirstContactRetry)
	}
	k.answered.Store(l.Addr().String(), true)
	if got := k.budget(l.Addr().String()); got != k.RetryFor {
		t.Errorf("budget %s for a server that answered before, want %s", got, k.RetryFor)
	}
	// Another command's connections have heard nothing from it.
	if got := NewConnections().budget(l.Addr().String()); got != DefaultFirstContactRetry {
		t.Errorf("fresh connections give a server another command heard from %s, want %s", got, DefaultFirstContactRetry)
	}
}

// A server that accepts and never answers ends in the request timeout,
// not a hang.
func TestRequestTimeoutEndsAHungServer(t *testing.T) {
	k := retrying(time.Second)
	hang := make(chan struct{})
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-hang }))
	defer srv.Close()
	defer close(hang)
	done := make(chan error, 1)
	go func() {
		_, err := client(t, k, srv.URL).Get(srv.URL + "/api")
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "Timeout") && !strings.Contains(err.Error(), "did not answer within") {
			t.Errorf("error %v, want the client timeout", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("request to a hung server did not end")
	}
}

func TestLoadSetsTimeoutAndRetries(t *testing.T) {
	dir := t.TempDir()
	path := dir + "/config"
	kc := `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: u, user: {token: x}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
`
	if err := writeFile(path, kc); err != nil {
		t.Fatal(err)
	}
	cfg, err := NewConnections().RESTConfig(Target{Kubeconfig: path})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Timeout != RequestTimeout || cfg.WrapTransport == nil {
		t.Errorf("timeout %s, wrapped %v: want %s and the retrier", cfg.Timeout, cfg.WrapTransport != nil, RequestTimeout)
	}
}

func writeFile(path, s string) error { return os.WriteFile(path, []byte(s), 0o600) }
