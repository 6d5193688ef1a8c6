package simtest_test

import (
	"context"
	"os"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"labs.dev/lab/providers/simulated"
	"labs.dev/lab/providers/simulated/simtest"
)

func TestMain(m *testing.M) { os.Exit(simtest.Main(m)) }

func TestClusterIsUsable(t *testing.T) {
	c := simtest.Get(t)
	if os.Getenv("KUBECONFIG") != c.Kubeconfig {
		t.Errorf("KUBECONFIG = %q, want the test kubeconfig %q", os.Getenv("KUBECONFIG"), c.Kubeconfig)
	}
	cs, err := kubernetes.NewForConfig(c.Config)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CoreV1().ServiceAccounts("default").Get(context.Background(), "default", metav1.GetOptions{}); err != nil {
		t.Fatalf("default ServiceAccount: %v", err)
	}
	st, err := simulated.Status(c.Dir)
	if err != nil || st.State != simulated.Running {
		t.Fatalf("Status = %+v, %v; want running", st, err)
	}
}
