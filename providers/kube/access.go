package kube

import (
	"context"
	"fmt"
	"strings"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var (
	selfSubjectAccessReviews = schema.GroupVersionResource{Group: "authorization.k8s.io", Version: "v1", Resource: "selfsubjectaccessreviews"}
	selfSubjectReviews       = schema.GroupVersionResource{Group: "authentication.k8s.io", Version: "v1", Resource: "selfsubjectreviews"}
)

// Access is a question kubectl auth can-i asks: may these credentials
// do Verb to Resource (in Namespace, "" for cluster-wide)?
type Access struct {
	Verb        string
	Resource    schema.GroupVersionResource
	Subresource string // e.g. "token" of serviceaccounts
	Namespace   string
}

func (a Access) String() string {
	what := a.Resource.Resource
	if a.Subresource != "" {
		what += "/" + a.Subresource
	}
	if a.Resource.Group != "" {
		what += "." + a.Resource.Group
	}
	if a.Namespace != "" {
		return fmt.Sprintf("%s %s in namespace %s", a.Verb, what, a.Namespace)
	}
	return fmt.Sprintf("%s %s", a.Verb, what)
}

// DeniedError says the credentials of a cluster's connection may not do
// something a plan needs.
type DeniedError struct {
	Access Access
	Target Target
	User   string // "" when the cluster would not say
	Reason string // the authorizer's, when it gave one
}

func (e *DeniedError) Error() string {
	who := "the credentials of " + e.Target.String()
	if e.User != "" {
		who += " (user " + e.User + ")"
	}
	msg := fmt.Sprintf("cannot %s: forbidden for %s", e.Access, who)
	if e.Reason != "" {
		msg += ": " + e.Reason
	}
	return msg + "; ask the cluster's administrator to allow it (kubectl auth can-i " + canI(e.Access) + " says yes once it is), or use a context that may"
}

func canI(a Access) string {
	s := a.Verb + " " + a.Resource.Resource
	if a.Subresource != "" {
		s += " --subresource " + a.Subresource
	}
	if a.Resource.Group != "" {
		s += "." + a.Resource.Group
	}
	if a.Namespace != "" {
		s += " -n " + a.Namespace
	}
	return s
}

// everything is every verb on every resource of every group, cluster
// wide: what cluster-admin may do.
var everything = Access{Verb: "*", Resource: schema.GroupVersionResource{Group: "*", Resource: "*"}}

// access caches a client's answers: a plan asks the same question for
// every object of a kind.
type access struct {
	mu      sync.Mutex
	answers map[Access]*answer
	user    *answer
}

type answer struct {
	done    chan struct{}
	allowed bool
	reason  string
	user    string
	err     error
}

// Can asks the cluster, once per client and question, whether the
// credentials may do a (SelfSubjectAccessReview). A cluster that cannot
// answer (the review not served or not allowed) is taken as yes: the
// request itself then fails with the server's own words.
func (c *Client) Can(ctx context.Context, a Access) (bool, string, error) {
	if a != everything {
		// An instructor's admin credentials answer every question with
		// one review; 50 learners' namespaces would otherwise ask
		// hundreds.
		if ok, _, err := c.Can(ctx, everything); err == nil && ok {
			return true, "", nil
		}
	}
	c.access.mu.Lock()
	if c.access.answers == nil {
		c.access.answers = map[Access]*answer{}
	}
	ans, asked := c.access.answers[a]
	if !asked {
		ans = &answer{done: make(chan struct{})}
		c.access.answers[a] = ans
	}
	c.access.mu.Unlock()
	if !asked {
		ans.allowed, ans.reason, ans.err = c.review(ctx, a)
		if ans.err != nil {
			// Not cached: the next caller asks again.
			c.access.mu.Lock()
			delete(c.access.answers, a)
			c.access.mu.Unlock()
		}
		close(ans.done)
	}
	select {
	case <-ans.done:
	case <-ctx.Done():
		return false, "", ctx.Err()
	}
	return ans.allowed, ans.reason, ans.err
}

func (c *Client) review(ctx context.Context, a Access) (bool, string, error) {
	attrs := map[string]any{"verb": a.Verb, "group": a.Resource.Group, "resource": a.Resource.Resource}
	if a.Subresource != "" {
		attrs["subresource"] = a.Subresource
	}
	if a.Namespace != "" {
		attrs["namespace"] = a.Namespace
	}
	req := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "authorization.k8s.io/v1",
		"kind":       "SelfSubjectAccessReview",
		"spec":       map[string]any{"resourceAttributes": attrs},
	}}
	out, err := c.Dynamic.Resource(selfSubjectAccessReviews).Create(ctx, req, metav1.CreateOptions{})
	if apierrors.IsNotFound(err) || apierrors.IsForbidden(err) || apierrors.IsMethodNotSupported(err) {
		return true, "", nil
	}
	if err != nil {
		return false, "", err
	}
	allowed, _, _ := unstructured.NestedBool(out.Object, "status", "allowed")
	reason, _, _ := unstructured.NestedString(out.Object, "status", "reason")
	return allowed, reason, nil
}

// Require is Can as an error: a *DeniedError when the credentials may
// not do a, naming who they are.
func (c *Client) Require(ctx context.Context, a Access) error {
	ok, reason, err := c.Can(ctx, a)
	if err != nil {
		return fmt.Errorf("ask whether %s may %s: %w", c.Target, a, err)
	}
	if ok {
		return nil
	}
	return &DeniedError{Access: a, Target: c.Target, User: c.User(ctx), Reason: reason}
}

// User is who the cluster says the credentials are
// (SelfSubjectReview), "" when it will not say.
func (c *Client) User(ctx context.Context) string {
	c.access.mu.Lock()
	ans := c.access.user
	asked := ans != nil
	if !asked {
		ans = &answer{done: make(chan struct{})}
		c.access.user = ans
	}
	c.access.mu.Unlock()
	if !asked {
		req := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}}
		if out, err := c.Dynamic.Resource(selfSubjectReviews).Create(ctx, req, metav1.CreateOptions{}); err == nil {
			ans.user, _, _ = unstructured.NestedString(out.Object, "status", "userInfo", "username")
		}
		close(ans.done)
	}
	select {
	case <-ans.done:
		return ans.user
	case <-ctx.Done():
		return ""
	}
}

// RequireAll asks every question (in parallel, each once) and returns
// every denial, one per line.
func (c *Client) RequireAll(ctx context.Context, all []Access) error {
	var as []Access
	seen := map[Access]bool{}
	for _, a := range all {
		if !seen[a] {
			seen[a] = true
			as = append(as, a)
		}
	}
	errs := make([]error, len(as))
	var wg sync.WaitGroup
	for i, a := range as {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = c.Require(ctx, a)
		}()
	}
	wg.Wait()
	var lines []string
	var first error
	for _, err := range errs {
		if err != nil {
			if first == nil {
				first = err
			}
			lines = append(lines, err.Error())
		}
	}
	switch len(lines) {
	case 0:
		return nil
	case 1:
		return first
	}
	return &deniedAll{first: first, text: strings.Join(lines, "\n  ")}
}

type deniedAll struct {
	first error
	text  string
}

func (e *deniedAll) Error() string { return e.text }
func (e *deniedAll) Unwrap() error { return e.first }
