package worker

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chartutil"
	"sigs.k8s.io/yaml"
)

const fleetChart = "../../../charts/fleet"

// render renders a chart the way `helm template` does, through lab's
// post-renderer, at the Kubernetes version of the simulated runtime.
func renderChart(t *testing.T, dir string, vals map[string]any) (string, string) {
	t.Helper()
	ch, err := loadChart(dir)
	if err != nil {
		t.Fatal(err)
	}
	inst := action.NewInstall(&action.Configuration{})
	inst.DryRun = true
	inst.ClientOnly = true
	inst.ReleaseName = "fleet"
	inst.Namespace = "staging"
	inst.KubeVersion = &chartutil.KubeVersion{Version: "v1.35.4", Major: "1", Minor: "35"}
	inst.PostRenderer = ownerRenderer{
		labels:      map[string]string{"app.kubernetes.io/managed-by": "lab", "lab.dev/instance": "abc"},
		annotations: map[string]string{"lab.dev/resource": "helm_release.fleet"},
	}
	rel, err := inst.Run(ch, vals)
	if err != nil {
		t.Fatalf("render %s: %v", dir, err)
	}
	return rel.Manifest, rel.Info.Notes
}

func TestFleetChartRenders(t *testing.T) {
	manifest, notes := renderChart(t, fleetChart, map[string]any{"replicas": int64(3)})
	objs := map[string]map[string]any{}
	for _, doc := range docSep.Split(manifest, -1) {
		if strings.TrimSpace(doc) == "" {
			continue
		}
		var o map[string]any
		if err := yaml.Unmarshal([]byte(doc), &o); err != nil {
			t.Fatalf("rendered YAML: %v\n%s", err, doc)
		}
		objs[o["kind"].(string)] = o
	}
	dep, svc := objs["Deployment"], objs["Service"]
	if dep == nil || svc == nil || len(objs) != 2 {
		t.Fatalf("want a Deployment and a Service, got %v", manifest)
	}
	meta := dep["metadata"].(map[string]any)
	labels := meta["labels"].(map[string]any)
	if meta["name"] != "fleet" || labels["app.kubernetes.io/name"] != "fleet" || labels["app.kubernetes.io/managed-by"] != "lab" || labels["lab.dev/instance"] != "abc" {
		t.Errorf("deployment metadata = %v", meta)
	}
	if meta["annotations"].(map[string]any)["lab.dev/resource"] != "helm_release.fleet" {
		t.Errorf("deployment annotations = %v", meta["annotations"])
	}
	if svc["metadata"].(map[string]any)["labels"].(map[string]any)["lab.dev/instance"] != "abc" {
		t.Errorf("service not labelled: %v", svc["metadata"])
	}
	spec := dep["spec"].(map[string]any)
	if spec["replicas"] != float64(3) {
		t.Errorf("replicas = %v, want 3", spec["replicas"])
	}
	if s := spec["strategy"].(map[string]any); s["type"] != "RollingUpdate" {
		t.Errorf("strategy = %v", s)
	}
	c := spec["template"].(map[string]any)["spec"].(map[string]any)["containers"].([]any)[0].(map[string]any)
	if c["image"] != "nginx:1.27" {
		t.Errorf("image = %v", c["image"])
	}
	if req := c["resources"].(map[string]any)["requests"].(map[string]any); req["cpu"] == nil || req["memory"] == nil {
		t.Errorf("resource requests = %v", req)
	}
	if !strings.Contains(manifest, "# Source: fleet/templates/deployment.yaml") {
		t.Errorf("post-renderer dropped the # Source comments:\n%s", manifest)
	}
	if !strings.Contains(notes, "kubectl get deployment fleet -n staging") || !strings.Contains(notes, "3 pod(s)") {
		t.Errorf("NOTES.txt = %s", notes)
	}
}

func TestFleetChartMetadata(t *testing.T) {
	ch, err := loadChart(fleetChart)
	if err != nil {
		t.Fatal(err)
	}
	md := ch.Metadata
	if md.Name != "fleet" || md.Version != "0.1.0" || md.KubeVersion != ">=1.25.0-0" || md.APIVersion != "v2" {
		t.Errorf("Chart.yaml = %+v", md)
	}
	if !chartutil.IsCompatibleRange(md.KubeVersion, "v1.35.4") || chartutil.IsCompatibleRange(md.KubeVersion, "v1.24.0") {
		t.Errorf("kubeVersion %q: wrong range", md.KubeVersion)
	}
	if ch.Values["replicas"] != float64(2) {
		t.Errorf("default replicas = %v", ch.Values["replicas"])
	}
}

func TestTemplateErrorNamesFileAndLine(t *testing.T) {
	dir := t.TempDir()
	copyDir(t, fleetChart, dir)
	bad := filepath.Join(dir, "templates", "deployment.yaml")
	b, _ := os.ReadFile(bad)
	b = bytes.Replace(b, []byte("{{ .Values.replicas }}"), []byte("{{ .Values.replicas | nosuchfunc }}"), 1)
	os.WriteFile(bad, b, 0o644)
	ch, err := loadChart(dir)
	if err != nil {
		t.Fatal(err)
	}
	inst := action.NewInstall(&action.Configuration{})
	inst.DryRun, inst.ClientOnly, inst.ReleaseName, inst.Namespace = true, true, "fleet", "staging"
	inst.KubeVersion = &chartutil.KubeVersion{Version: "v1.35.4", Major: "1", Minor: "35"}
	_, err = inst.Run(ch, nil)
	if err == nil || !strings.Contains(err.Error(), "fleet/templates/deployment.yaml:8") {
		t.Fatalf("want an error naming deployment.yaml:8, got %v", err)
	}
}

func TestChartDigest(t *testing.T) {
	dir := t.TempDir()
	copyDir(t, fleetChart, dir)
	a, _ := loadChart(fleetChart)
	b, _ := loadChart(dir)
	if chartDigest(a) != chartDigest(b) || len(chartDigest(a)) > 63 {
		t.Fatalf("copies digest differently: %s %s", chartDigest(a), chartDigest(b))
	}
	os.WriteFile(filepath.Join(dir, "templates", "NOTES.txt"), []byte("changed"), 0o644)
	c, _ := loadChart(dir)
	if chartDigest(a) == chartDigest(c) {
		t.Fatal("edited chart digests the same")
	}
	// .helmignore'd files are not the chart's
	os.WriteFile(filepath.Join(dir, "x.swp"), []byte("junk"), 0o644)
	d, _ := loadChart(dir)
	if chartDigest(c) != chartDigest(d) {
		t.Fatal("an ignored file changed the digest")
	}
}

func TestLoadChartErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ path, want string }{
		{filepath.Join(dir, "nope"), "no such file"},
		{dir, "Chart.yaml"},
	} {
		if _, err := loadChart(tc.path); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("loadChart(%s) = %v, want %q", tc.path, err, tc.want)
		}
	}
}

func TestOwnerRendererRejectsBadMetadata(t *testing.T) {
	r := ownerRenderer{labels: map[string]string{"a": "b"}}
	if _, err := r.Run(bytes.NewBufferString("---\nkind: X\nmetadata:\n  labels: [1]\n")); err == nil || !strings.Contains(err.Error(), "metadata.labels is not a map") {
		t.Fatalf("got %v", err)
	}
	out, err := r.Run(bytes.NewBufferString("---\n# only a comment\n---\nkind: X\n"))
	if err != nil || !strings.Contains(out.String(), "a: b") {
		t.Fatalf("got %v %q", err, out)
	}
}

func copyDir(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.Walk(from, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		dst := filepath.Join(to, rel)
		if fi.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}
