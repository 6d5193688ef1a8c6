package workshop

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// chromium is Debian's headless browser: installed here under CI=true,
// where a test never skips; elsewhere a test without it skips.
func chromium(t *testing.T) string {
	t.Helper()
	const bin = "/usr/bin/chromium"
	if _, err := os.Stat(bin); err == nil {
		return bin
	}
	if os.Getenv("CI") != "true" {
		t.Skip("no " + bin + ": apt-get install chromium (CI=true installs it)")
	}
	for _, args := range [][]string{{"update", "-qq"}, {"install", "-y", "-qq", "chromium"}} {
		cmd := exec.Command("apt-get", args...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("apt-get %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	return bin
}

// viewer writes a kubeconfig for a ServiceAccount bound to the view
// ClusterRole only: what an instructor's board needs, and no more.
func viewer(t *testing.T, w *workshop) string {
	t.Helper()
	ctx := context.Background()
	admin := w.admin()
	ns := "instructor-view"
	must := func(_ any, err error) {
		t.Helper()
		if err != nil && !strings.Contains(err.Error(), "already exists") {
			t.Fatal(err)
		}
	}
	must(admin.Resource(gvrNamespaces).Create(ctx, obj("v1", "Namespace", ns, nil), metav1.CreateOptions{}))
	must(admin.Resource(gvrServiceAccs).Namespace(ns).Create(ctx, obj("v1", "ServiceAccount", "board", nil), metav1.CreateOptions{}))
	must(admin.Resource(gvrCBindings).Create(ctx, obj("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "instructor-view", map[string]any{
		"roleRef":  map[string]any{"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
		"subjects": []any{map[string]any{"kind": "ServiceAccount", "name": "board", "namespace": ns}},
	}), metav1.CreateOptions{}))
	t.Cleanup(func() {
		_ = admin.Resource(gvrCBindings).Delete(context.Background(), "instructor-view", metav1.DeleteOptions{})
		_ = admin.Resource(gvrNamespaces).Delete(context.Background(), ns, metav1.DeleteOptions{})
	})
	tr := obj("authentication.k8s.io/v1", "TokenRequest", "board", map[string]any{"spec": map[string]any{"expirationSeconds": int64(3600)}})
	out, err := admin.Resource(schema.GroupVersionResource{Version: "v1", Resource: "serviceaccounts"}).Namespace(ns).Create(ctx, tr, metav1.CreateOptions{}, "token")
	if err != nil {
		t.Fatal(err)
	}
	token, _, _ := unstructured.NestedString(out.Object, "status", "token")
	adminKC, err := clientcmd.LoadFromFile(w.cl.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	kc := clientcmdapi.NewConfig()
	kc.Clusters["event"] = adminKC.Clusters[adminKC.Contexts[w.cl.Context].Cluster]
	kc.AuthInfos["board"] = &clientcmdapi.AuthInfo{Token: token}
	kc.Contexts["board"] = &clientcmdapi.Context{Cluster: "event", AuthInfo: "board"}
	kc.CurrentContext = "board"
	path := filepath.Join(t.TempDir(), "viewer.kubeconfig")
	if err := clientcmd.WriteToFile(*kc, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestBoardInChromium serves lab board with view-only credentials, loads
// it in headless Chromium, and watches alice's row turn from ✗ to ✓ once
// her solution is applied; then opens bob's failure and takes a
// screenshot (LAB_SCREENSHOT=path keeps it, e.g. docs/img/board.png).
func TestBoardInChromium(t *testing.T) {
	browser := chromium(t)
	w := newWorkshop(t)
	learners := []string{"alice", "bob", "carol"}
	w.must(learners, "up")
	t.Cleanup(func() { w.lab(learners, "down") })
	ctx := context.Background()
	_, carol := w.as("carol")
	wrong := deployment("fleet", 2)
	if _, err := carol.Resource(gvrDeployments).Namespace("carol-dev").Create(ctx, wrong, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	// The board runs where the instructor has only the lab file and
	// view-only credentials: no state, the cluster as declared.
	room := t.TempDir()
	if err := os.CopyFS(room, os.DirFS(".")); err != nil {
		t.Fatal(err)
	}
	os.RemoveAll(filepath.Join(room, ".lab"))
	q, _ := json.Marshal(learners)
	board := exec.Command(filepath.Join(w.bin, "lab"), "-o", "json", "board", "--addr", "127.0.0.1:0", "--every", "1s",
		"-var", "learners="+string(q), "-var", "kubeconfig="+viewer(t, w), "-var", "context=")
	board.Dir = room
	board.Env = append(os.Environ(), "NO_COLOR=1", "LAB_BIN_DIR="+w.bin)
	stderr, err := board.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := board.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = board.Process.Signal(syscall.SIGINT)
		_ = board.Wait()
	})
	url := ""
	lines := bufio.NewScanner(stderr)
	for url == "" && lines.Scan() {
		var ev struct{ Type, URL string }
		if json.Unmarshal(lines.Bytes(), &ev) == nil && ev.Type == "serving" {
			url = ev.URL
		} else {
			t.Log(lines.Text())
		}
	}
	if url == "" {
		t.Fatal("lab board never said where it serves")
	}
	go func() {
		for lines.Scan() {
			t.Log("lab board:", lines.Text())
		}
	}()

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(browser), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true), chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1200, 420))
	alloc, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	page, cancelPage := chromedp.NewContext(alloc)
	defer cancelPage()
	page, cancelTimeout := context.WithTimeout(page, 2*time.Minute)
	defer cancelTimeout()

	cell := func(learner, check, status string) chromedp.CSS {
		return chromedp.CSS(`td[data-learner="` + learner + `"][data-check="` + check + `"][data-status="` + status + `"]`)
	}
	count := func(sel string) int {
		n, err := chromedp.Run(page, chromedp.Evaluate[int](`document.querySelectorAll('`+sel+`').length`))
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	first, cancelFirst := context.WithTimeout(page, 30*time.Second)
	defer cancelFirst()
	if err := chromedp.Do(first, chromedp.Navigate(url), chromedp.WaitVisible(cell("alice", "deployment", "failed"))); err != nil {
		status, _ := chromedp.Run(page, chromedp.Evaluate[string](`document.getElementById("status").textContent`))
		body := ""
		if resp, err := http.Get(url + "results"); err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			body = string(b)
		}
		t.Fatalf("the board never showed alice's missing Deployment: %v\npage status: %s\n/results: %.2000s", err, status, body)
	}
	if n := count(`tr[data-learner]`); n != len(learners) {
		t.Errorf("%d rows, want one per learner (%d)", n, len(learners))
	}
	if n := count(`td[data-learner="alice"][data-status="passed"]`); n != 0 {
		t.Errorf("alice has %d checks passed before doing anything", n)
	}

	// Alice applies the solution with her own kubeconfig; the page, left
	// open, turns her row green on its own.
	_, alice := w.as("alice")
	if _, err := alice.Resource(gvrDeployments).Namespace("alice-dev").Create(ctx, deployment("fleet", 3), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(page, chromedp.WaitVisible(cell("alice", "managed-pods", "passed")), chromedp.WaitVisible(cell("alice", "available", "passed"))); err != nil {
		t.Fatalf("alice's row never turned to ✓: %v", err)
	}
	if n := count(`td[data-learner="alice"][data-status="passed"]`); n != 5 {
		t.Errorf("alice has %d of 5 checks passed after her solution", n)
	}
	if n := count(`td[data-learner="bob"][data-status="failed"]`); n != 5 {
		t.Errorf("bob, who did nothing, fails %d of 5 checks", n)
	}

	// A failed check shows its failure and hint on click.
	if err := chromedp.Do(page, chromedp.Click(cell("carol", "replicas", "failed")), chromedp.WaitVisible(chromedp.CSS(`#detail`))); err != nil {
		t.Fatal(err)
	}
	detail, err := chromedp.Run(page, chromedp.Text(chromedp.CSS(`#detail`)))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"carol · replicas", "fleet asks for 2 replica(s)", "hint: Set spec.replicas: 3"} {
		if !strings.Contains(detail, want) {
			t.Errorf("the detail of carol's replicas check does not say %q:\n%s", want, detail)
		}
	}
	png, err := chromedp.Run(page, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(t.TempDir(), "board.png")
	if p := os.Getenv("LAB_SCREENSHOT"); p != "" {
		shot = p
	}
	if err := os.WriteFile(shot, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s (%d bytes)", shot, len(png))
}
