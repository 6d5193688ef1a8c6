package kube

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// Reviews (who am I, may I) are POSTs that change nothing, so they leave
// a plan's shared LISTs usable; anything else that is not a read counts.
func TestCountWritesSkipsReviews(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	t.Cleanup(srv.Close)
	rt := countWrites{http.DefaultTransport}
	for _, tc := range []struct {
		method, path string
		counts       bool
	}{
		{"GET", "/api/v1/namespaces/dev/configmaps", false},
		{"POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", false},
		{"POST", "/apis/authorization.k8s.io/v1/namespaces/dev/localsubjectaccessreviews", false},
		{"POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews", false},
		{"POST", "/k8s/clusters/c-1/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", false},
		{"PATCH", "/api/v1/namespaces/dev/configmaps/x", true},
		{"POST", "/api/v1/namespaces/dev/serviceaccounts/learner/token", true},
		{"DELETE", "/api/v1/namespaces/dev", true},
	} {
		before := writes.Load()
		req, err := http.NewRequest(tc.method, srv.URL+tc.path, strings.NewReader(""))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := rt.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := writes.Load() != before; got != tc.counts {
			t.Errorf("%s %s counted as a write: %v, want %v", tc.method, tc.path, got, tc.counts)
		}
	}
}
