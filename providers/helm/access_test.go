package helm

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"labs.dev/lab/lab/resource"
	"labs.dev/lab/providers/simulated/simtest"
)

// A learner's credentials that may keep helm's records but not make the
// chart's objects fail at plan, naming each missing permission, rather
// than halfway through apply; what plan asks is enough for apply.
func TestPlanNamesMissingPermissions(t *testing.T) {
	admin := newHarness(t, "helm-access-admin")
	if c := admin.plan(); c.Action != resource.Create {
		t.Fatalf("admin plan: %+v", c)
	}

	h := newHarness(t, "helm-access")
	kc := serviceAccountKubeconfig(t, h, "learner")
	h.attrs["kubeconfig"] = cty.StringVal(kc)
	h.attrs["create_namespace"] = cty.False
	h.attrs["wait"] = cty.False // waiting reads pods, which is not the point here
	user := "system:serviceaccount:" + h.ns + ":learner"
	records := rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"get", "list", "create", "update"}}
	role := func(rules ...rbacv1.PolicyRule) {
		t.Helper()
		r := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "learner", Namespace: h.ns}, Rules: rules}
		roles := h.cs.RbacV1().Roles(h.ns)
		if _, err := roles.Update(h.ctx(), r, metav1.UpdateOptions{}); err != nil {
			if _, err := roles.Create(h.ctx(), r, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	role(records)
	rb := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "learner", Namespace: h.ns},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "learner"},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: "learner", Namespace: h.ns}},
	}
	if _, err := h.cs.RbacV1().RoleBindings(h.ns).Create(h.ctx(), rb, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	planErr := func() error {
		t.Helper()
		_, err := Release().Plan(h.ctx(), resource.PlanRequest{Env: h.env, Addr: h.addr, Config: h.config(), Prior: h.prior})
		return err
	}
	err := planErr()
	if err == nil {
		t.Fatal("plan of an install by credentials that may not create deployments passed")
	}
	if !strings.HasPrefix(err.Error(), h.addr.String()+": cannot ") {
		t.Errorf("plan error does not start with the address:\n%v", err)
	}
	for _, want := range []string{
		"cannot get deployments.apps in namespace " + h.ns + ": forbidden",
		"cannot create deployments.apps in namespace " + h.ns + ": forbidden",
		"cannot create services in namespace " + h.ns + ": forbidden",
		"(user " + user + ")",
		"kubectl auth can-i create deployments.apps -n " + h.ns,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("plan error lacks %q:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "secrets") {
		t.Errorf("plan error names secrets, which the role allows:\n%v", err)
	}

	objects := rbacv1.PolicyRule{APIGroups: []string{"", "apps"}, Resources: []string{"services", "deployments"}, Verbs: []string{"get", "create", "patch"}}
	role(records, objects)
	c := h.plan()
	if c.Action != resource.Create {
		t.Fatalf("plan with the chart's kinds allowed: %+v", c)
	}
	h.mustApply(c)
	if c := h.plan(); c.Action != resource.NoOp {
		t.Fatalf("plan after install: %+v\n%s", c, fields(c))
	}

	// Without patch on deployments nothing changes: plan passes; an
	// upgrade would patch, so its plan names it.
	role(records, rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"services"}, Verbs: []string{"get", "create", "patch"}},
		rbacv1.PolicyRule{APIGroups: []string{"apps"}, Resources: []string{"deployments"}, Verbs: []string{"get", "create"}})
	if c := h.plan(); c.Action != resource.NoOp {
		t.Fatalf("plan with nothing to do: %+v\n%s", c, fields(c))
	}
	h.attrs["values"] = cty.ObjectVal(map[string]cty.Value{"replicas": cty.NumberIntVal(3)})
	err = planErr()
	if want := h.addr.String() + ": cannot patch deployments.apps in namespace " + h.ns + ": forbidden"; err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("plan of an upgrade without patch: %v\nwant %q", err, want)
	}
	if strings.Contains(err.Error(), "services") || strings.Contains(err.Error(), "create deployments") {
		t.Errorf("plan error names what the role allows:\n%v", err)
	}
}

// serviceAccountKubeconfig makes the harness's namespace, a
// ServiceAccount in it and a kubeconfig that signs in with its token.
func serviceAccountKubeconfig(t *testing.T, h *harness, name string) string {
	t.Helper()
	c := simtest.Get(t)
	if _, err := h.cs.CoreV1().Namespaces().Create(h.ctx(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: h.ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: h.ns}}
	if _, err := h.cs.CoreV1().ServiceAccounts(h.ns).Create(h.ctx(), sa, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	hour := int64(3600)
	tr, err := h.cs.CoreV1().ServiceAccounts(h.ns).CreateToken(h.ctx(), name, &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &hour}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if tr.Status.Token == "" {
		t.Fatalf("TokenRequest gave no token: %+v", tr.Status)
	}
	raw, err := clientcmd.LoadFromFile(c.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	raw.AuthInfos = map[string]*clientcmdapi.AuthInfo{name: {Token: tr.Status.Token}}
	raw.Contexts[c.Context].AuthInfo = name
	p := filepath.Join(t.TempDir(), name+".kubeconfig")
	if err := clientcmd.WriteToFile(*raw, p); err != nil {
		t.Fatal(err)
	}
	return p
}
