package reset_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"labs.dev/lab/lab/reset"
	"labs.dev/lab/lab/resource"
	"labs.dev/lab/lab/verify"
	vt "labs.dev/lab/lab/verify/verifytest"
	"labs.dev/lab/providers/simulated/simtest"
)

func TestMain(m *testing.M) { os.Exit(simtest.Main(m)) }

func TestReset(t *testing.T) {
	e := vt.NewEnv(t)
	cfg, labs := vt.ShippedLabs(t)
	ctx := context.Background()
	owner := resource.NewOwner(cfg.File)
	labLabels := func() string {
		return fmt.Sprintf("\n  labels:\n    %s: %q\n    %s: %q", resource.LabelManagedBy, resource.ManagedBy, resource.LabelInstance, owner.Instance)
	}
	// The learner's work.
	e.Apply(vt.FleetSpec{}.YAML())
	e.Apply("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: notes\n  namespace: dev\ndata:\n  a: b\n")
	// Lab's own objects, a helm release of the lab file, and a same-named
	// object outside the lab's namespaces.
	e.Apply("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: lab-config\n  namespace: dev" + labLabels() + "\ndata:\n  a: b\n")
	e.Apply(`apiVersion: v1
kind: Secret
metadata:
  name: sh.helm.release.v1.tools.v1
  namespace: dev
  labels:
    owner: helm
    name: tools
type: helm.sh/release.v1
`)
	e.Apply(`apiVersion: v1
kind: ConfigMap
metadata:
  name: tools-settings
  namespace: dev
  annotations:
    meta.helm.sh/release-name: tools
    meta.helm.sh/release-namespace: dev
`)
	e.Apply("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: notes\n  namespace: other\n")
	// The learner's copy of a helm object of the lab (made in staging),
	// labels and all, is the learner's.
	e.Apply("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: copied\n  namespace: dev" + labLabels() + "\n  annotations:\n    meta.helm.sh/release-name: fleet\n    meta.helm.sh/release-namespace: staging\n")
	// A helm release that is not the lab's is the learner's.
	e.Apply("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: theirs\n  namespace: dev\n  annotations:\n    meta.helm.sh/release-name: theirs\n")

	res, err := reset.Run(ctx, labs[0], e.Client, reset.Options{Owner: owner, HelmReleases: map[string]string{"tools": ""}, DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	want := "ConfigMap dev/copied, ConfigMap dev/notes, ConfigMap dev/theirs, Deployment dev/fleet"
	if got := refsString(res.Deleted); got != want {
		t.Errorf("dry run would delete %s, want %s", got, want)
	}
	if _, err := e.Clientset.AppsV1().Deployments("dev").Get(ctx, "fleet", metav1.GetOptions{}); err != nil {
		t.Fatalf("dry run deleted: %v", err)
	}

	res, err = reset.Run(ctx, labs[0], e.Client, reset.Options{Owner: owner, HelmReleases: map[string]string{"tools": ""}})
	if err != nil {
		t.Fatal(err)
	}
	if got := refsString(res.Deleted); got != want {
		t.Errorf("deleted %s, want %s", got, want)
	}
	for _, gone := range []string{"notes", "theirs"} {
		if _, err := e.Clientset.CoreV1().ConfigMaps("dev").Get(ctx, gone, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("ConfigMap dev/%s still there: %v", gone, err)
		}
	}
	if _, err := e.Clientset.AppsV1().Deployments("dev").Get(ctx, "fleet", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("Deployment dev/fleet still there: %v", err)
	}
	for _, kept := range []struct{ kind, ns, name string }{
		{"ConfigMap", "dev", "lab-config"}, {"ConfigMap", "dev", "tools-settings"}, {"ConfigMap", "dev", "kube-root-ca.crt"},
		{"ConfigMap", "other", "notes"}, {"Secret", "dev", "sh.helm.release.v1.tools.v1"}, {"ServiceAccount", "dev", "default"},
	} {
		var err error
		switch kept.kind {
		case "ConfigMap":
			_, err = e.Clientset.CoreV1().ConfigMaps(kept.ns).Get(ctx, kept.name, metav1.GetOptions{})
		case "Secret":
			_, err = e.Clientset.CoreV1().Secrets(kept.ns).Get(ctx, kept.name, metav1.GetOptions{})
		case "ServiceAccount":
			_, err = e.Clientset.CoreV1().ServiceAccounts(kept.ns).Get(ctx, kept.name, metav1.GetOptions{})
		}
		if err != nil {
			t.Errorf("%s %s/%s was not kept: %v", kept.kind, kept.ns, kept.name, err)
		}
	}
	_ = e.Clientset.CoreV1().Secrets("dev").Delete(ctx, "sh.helm.release.v1.tools.v1", metav1.DeleteOptions{})
}

func refsString(refs []verify.ObjectRef) string {
	var s []string
	for _, r := range refs {
		s = append(s, r.String())
	}
	return strings.Join(s, ", ")
}
