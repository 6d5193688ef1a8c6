package kube

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
)

// reviewer is an API server that answers SelfSubjectAccessReviews with
// allow, counting them.
func reviewer(t *testing.T, allow func(attrs map[string]string) bool) (*Client, *atomic.Int32) {
	t.Helper()
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews" {
			http.NotFound(w, r)
			return
		}
		n.Add(1)
		var req struct {
			Spec struct {
				ResourceAttributes map[string]string `json:"resourceAttributes"`
			} `json:"spec"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			t.Error(err)
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{
			"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
			"status": map[string]any{"allowed": allow(req.Spec.ResourceAttributes)},
		})
	}))
	t.Cleanup(srv.Close)
	dyn, err := dynamic.NewForConfig(&rest.Config{Host: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	return &Client{Dynamic: dyn}, &n
}

func TestCanAsksAnAdminOnce(t *testing.T) {
	deployments := schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
	questions := []Access{
		{Verb: "create", Resource: deployments, Namespace: "alice-dev"},
		{Verb: "patch", Resource: deployments, Namespace: "bob-dev"},
		{Verb: "create", Resource: schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}},
	}
	ctx := context.Background()

	admin, n := reviewer(t, func(a map[string]string) bool { return a["verb"] == "*" && a["resource"] == "*" && a["group"] == "*" })
	for _, q := range questions {
		if ok, _, err := admin.Can(ctx, q); !ok || err != nil {
			t.Errorf("admin: %s: %v %v, want allowed", q, ok, err)
		}
	}
	if got := n.Load(); got != 1 {
		t.Errorf("admin: %d reviews for %d questions, want 1", got, len(questions))
	}

	// Anyone else: the one question, then each of theirs, answered as
	// the cluster says.
	learner, n := reviewer(t, func(a map[string]string) bool { return a["namespace"] == "alice-dev" })
	for i, q := range questions {
		if ok, _, err := learner.Can(ctx, q); ok != (i == 0) || err != nil {
			t.Errorf("learner: %s: %v %v, want %v", q, ok, err, i == 0)
		}
	}
	if got, want := n.Load(), int32(1+len(questions)); got != want {
		t.Errorf("learner: %d reviews, want %d", got, want)
	}
}
