package main

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// hungCluster is an API server that accepts requests and never answers,
// so a lab run against it stays busy (and holds the state lock) until
// its request timeout.
func hungCluster(t *testing.T) string {
	t.Helper()
	release := make(chan struct{})
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() { close(release); srv.Close() })
	return srv.URL
}

// closedPort is an address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return "https://" + l.Addr().String()
}

// silentPort accepts connections and never says a word, so a client
// waits out its TLS handshake timeout.
func silentPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	t.Cleanup(func() {
		l.Close()
		<-done
		for _, c := range conns {
			c.Close()
		}
	})
	return "https://" + l.Addr().String()
}

// labOnCluster is a lab file whose namespace lives on the cluster at
// server, through a kubeconfig of its own.
func labOnCluster(server string) map[string]string {
	return map[string]string{
		"labs.hcl": `
resource "namespace" "shared" {
  name       = "shared"
  kubeconfig = "cluster.kubeconfig"
  context    = "remote"
}
`,
		"cluster.kubeconfig": fmt.Sprintf(`apiVersion: v1
kind: Config
clusters: [{name: remote, cluster: {server: %q, insecure-skip-tls-verify: true}}]
users: [{name: remote, user: {token: t}}]
contexts: [{name: remote, context: {cluster: remote, user: remote}}]
current-context: remote
`, server),
	}
}

// waitLockHolder waits until the lock file names pid.
func (d *labDir) waitLockHolder(pid int) {
	d.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		b, _ := os.ReadFile(d.path(".lab", "state.lock"))
		if strings.Contains(string(b), fmt.Sprintf(`"pid": %d,`, pid)) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	d.t.Fatalf("pid %d did not take the state lock within 30s", pid)
}

// TestLockE2E runs lab processes against one lab directory at once: a
// second writer is refused naming the holder, a waiting one takes over
// once the holder is killed and says the holder died, and force-unlock
// frees a hung holder's lock only with its ID.
func TestLockE2E(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for lab processes")
	}
	d := newLabDir(t, helperBinaries(t), labOnCluster(hungCluster(t)))

	first := d.startText("up")
	pid := first.cmd.Process.Pid
	d.waitLockHolder(pid)

	// A second lab up is refused at once, naming the holder and the way out.
	_, errOut, code := d.run("up")
	if code != 1 {
		t.Errorf("second lab up exited %d, want 1", code)
	}
	for _, want := range []string{"state is locked by `lab up` (pid " + strconv.Itoa(pid), "-lock-timeout", "lab force-unlock "} {
		if !strings.Contains(errOut, want) {
			t.Errorf("second lab up: stderr lacks %q:\n%s", want, errOut)
		}
	}

	// A wrong ID frees nothing.
	if _, errOut, code := d.run("force-unlock", "not-the-id"); code != 1 || !strings.Contains(errOut, "does not match") {
		t.Errorf("force-unlock with a wrong ID exited %d:\n%s", code, errOut)
	}

	// lab down waiting for the lock takes over when the holder is killed,
	// and says that it died.
	waiter := d.startText("down", "-lock-timeout", "2m")
	time.Sleep(300 * time.Millisecond) // let it start waiting; it must not get in before the kill either way
	_ = syscall.Kill(pid, syscall.SIGKILL)
	first.wait(t)
	if code := waiter.wait(t); code != 0 {
		t.Errorf("lab down -lock-timeout exited %d after the holder was killed; stderr:\n%s", code, waiter.stderr)
	}
	errOut = waiter.stderr.String()
	for _, want := range []string{"Note: the previous `lab up` (pid " + strconv.Itoa(pid), "ended without releasing the state lock"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("lab down after the holder was killed: stderr lacks %q:\n%s", want, errOut)
		}
	}
	d.assertState()

	// A hung holder (alive, lock held) is only removed by force-unlock ID.
	hung := d.startText("up")
	d.waitLockHolder(hung.cmd.Process.Pid)
	_, errOut, code = d.run("down")
	id := regexp.MustCompile("lab force-unlock ([0-9a-f-]+)").FindStringSubmatch(errOut)
	if code != 1 || id == nil {
		t.Fatalf("lab down while a hung lab up holds the lock exited %d:\n%s", code, errOut)
	}
	if out, errOut, code := d.run("force-unlock", id[1]); code != 0 || !strings.Contains(out, "The state lock was removed.") {
		t.Fatalf("force-unlock %s exited %d:\n%s%s", id[1], code, out, errOut)
	}
	d.mustRun(0, "down")
	_ = syscall.Kill(hung.cmd.Process.Pid, syscall.SIGKILL)
	hung.wait(t)
}

// TestUnreachableCluster: a cluster that refuses connections, or accepts
// them and never answers, gives a clear error within the request timeout
// and the retries, never a hang.
func TestUnreachableCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("waits out lab's request timeout")
	}
	binDir := helperBinaries(t)
	for _, c := range []struct {
		name, server string
		want         []string
	}{
		{"refused", closedPort(t), []string{"connection refused", "did not answer: tried"}},
		{"hung", hungCluster(t), []string{"exceeded"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			d := newLabDir(t, binDir, labOnCluster(c.server))
			_, errOut, code := d.run("plan")
			if code != 1 {
				t.Errorf("lab plan exited %d, want 1", code)
			}
			for _, want := range append(c.want, "namespace.shared", c.server[len("https://"):]) {
				if !strings.Contains(errOut, want) {
					t.Errorf("lab plan: stderr lacks %q:\n%s", want, errOut)
				}
			}
		})
	}
}

// TestVerifyUnreachableCluster: lab verify on a cluster that refuses
// connections or never answers says plainly that it could not reach
// which cluster and what to do, and exits 2 (could not check).
func TestVerifyUnreachableCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("waits out lab's request timeout")
	}
	binDir := helperBinaries(t)
	for _, c := range []struct{ name, server string }{
		{"refused", closedPort(t)},
		{"hung", hungCluster(t)},
		{"silent", silentPort(t)},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			files := labOnCluster(c.server)
			files["labs.hcl"] += `
lab "task" {
  check "exists" {
    select "cm" {
      api_version = "v1"
      kind        = "ConfigMap"
      namespace   = "shared"
      name        = "settings"
    }
  }
}
`
			d := newLabDir(t, binDir, files)
			out, errOut, code := d.run("verify")
			if code != 2 {
				t.Errorf("lab verify exited %d, want 2\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
			}
			for _, want := range []string{"cannot reach the cluster at " + c.server, "lab up"} {
				if !strings.Contains(errOut, want) {
					t.Errorf("lab verify: stderr lacks %q:\n%s", want, errOut)
				}
			}
		})
	}
}
