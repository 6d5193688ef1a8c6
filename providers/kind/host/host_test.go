package host

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// fake is a machine made of answers: commands by their first words,
// files under a temporary root, ports taken, free bytes, registries up.
type fake struct {
	answers map[string]answer // "docker info", "podman inspect"...
	images  map[string]bool   // "podman localhost/lab/kind-node:v1.35.4"
	taken   map[string]error  // "tcp 0.0.0.0:8080"
	free    uint64
	online  bool
	ran     []string
}

type answer struct {
	out string
	err error
}

func newFake() *fake {
	return &fake{answers: map[string]answer{}, images: map[string]bool{}, taken: map[string]error{}, free: 100 << 30}
}

func (f *fake) host(t *testing.T) Host {
	root := t.TempDir()
	return Host{
		Root: root,
		Run: func(ctx context.Context, name string, args ...string) ([]byte, error) {
			f.ran = append(f.ran, name+" "+strings.Join(args, " "))
			if len(args) > 0 && args[0] == "inspect" {
				if f.images[name+" "+args[len(args)-1]] {
					return []byte("[{}]"), nil
				}
				return nil, errors.New("exit status 125: Error: " + args[len(args)-1] + ": image not known")
			}
			a, ok := f.answers[name+" "+args[0]]
			if !ok {
				return nil, fmt.Errorf("exec: %q: %w", name, exec.ErrNotFound)
			}
			return []byte(a.out), a.err
		},
		Bind: func(network, address string) error { return f.taken[network+" "+address] },
		Free: func(string) (uint64, error) { return f.free, nil },
		Reach: func(context.Context, string) error {
			if f.online {
				return nil
			}
			return errors.New("dial tcp: lookup registry-1.docker.io: no such host")
		},
	}
}

func write(t *testing.T, root, path, content string) {
	t.Helper()
	p := filepath.Join(root, path)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestCheckEngine(t *testing.T) {
	for _, tc := range []struct {
		name     string
		answer   *answer
		status   Status
		message  string
		fix      string
		cgroup   string
		rootless bool
	}{
		{name: "not installed", status: Fail, message: "docker is not installed", fix: "apt-get install docker.io"},
		{name: "not running", answer: &answer{err: errors.New("exit status 1: Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?")},
			status: Fail, message: "docker is installed but not running: exit status 1: Cannot connect", fix: "sudo systemctl start docker"},
		{name: "permission denied", answer: &answer{err: errors.New("exit status 1: permission denied while trying to connect to the Docker daemon socket at unix:///var/run/docker.sock: Get \"http://%2Fvar%2Frun%2Fdocker.sock/v1.24/info\": dial unix /var/run/docker.sock: connect: permission denied")},
			status: Fail, message: "docker's socket refuses you (permission denied)", fix: "sudo usermod -aG docker $USER"},
		{name: "answers", answer: &answer{out: "20.10.24|1|/var/lib/docker|name=seccomp,profile=default,\n"},
			status: OK, message: "docker 20.10.24 answers", cgroup: "1"},
		{name: "rootless", answer: &answer{out: "28.2.2|2|/home/u/.local/share/docker|name=seccomp,name=rootless,cgroupns,\n"},
			status: OK, message: "docker 28.2.2 answers (rootless)", cgroup: "2", rootless: true},
		{name: "client without server", answer: &answer{out: "|||\n"}, status: Fail, message: "without a server version"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake()
			if tc.answer != nil {
				f.answers["docker info"] = *tc.answer
			}
			e, got := f.host(t).CheckEngine(context.Background(), "docker")
			if got.Status != tc.status || !strings.Contains(got.Message, tc.message) || !strings.Contains(got.Fix, tc.fix) || got.Check != "engine" {
				t.Errorf("finding = %+v, want %s with %q and fix %q", got, tc.status, tc.message, tc.fix)
			}
			if got.Status == Fail && got.Fix == "" {
				t.Errorf("a failure without a fix: %+v", got)
			}
			if e.Cgroup != tc.cgroup || e.Rootless != tc.rootless {
				t.Errorf("engine = %+v", e)
			}
		})
	}
	// podman answers in its own format.
	f := newFake()
	f.answers["podman info"] = answer{out: "4.3.1|v1|/var/lib/containers/storage|false\n"}
	e, got := f.host(t).CheckEngine(context.Background(), "podman")
	if got.Status != OK || e != (Engine{Name: "podman", Version: "4.3.1", Cgroup: "1", Storage: "/var/lib/containers/storage"}) {
		t.Errorf("podman: %+v, %+v", e, got)
	}
	if !strings.Contains(f.ran[0], "{{.Host.CgroupsVersion}}") {
		t.Errorf("podman was asked %q", f.ran[0])
	}
}

func TestCheckCgroup(t *testing.T) {
	f := newFake()
	h := f.host(t)
	if got := h.CheckCgroup(Engine{Name: "podman", Cgroup: "1"}); got.Status != Note || !strings.Contains(got.Message, "failCgroupV1: false") {
		t.Errorf("cgroup v1 = %+v, want a note that lab patches the kubelet", got)
	}
	if got := h.CheckCgroup(Engine{Name: "podman", Cgroup: "2"}); got.Status != OK {
		t.Errorf("cgroup v2 = %+v", got)
	}
	// The engine did not say: the host's cgroup mount decides.
	if !h.CgroupV1(Engine{Name: "docker"}) {
		t.Error("a host without /sys/fs/cgroup/cgroup.controllers is cgroup v1")
	}
	write(t, h.Root, "sys/fs/cgroup/cgroup.controllers", "cpu memory pids\n")
	if h.CgroupV1(Engine{Name: "docker"}) {
		t.Error("a host with cgroup.controllers is cgroup v2")
	}
}

func TestCheckModules(t *testing.T) {
	h := newFake().host(t)
	if got := h.CheckModules("podman"); got.Status != Fail || got.Fix != "sudo mkdir -p /lib/modules" {
		t.Errorf("podman without /lib/modules = %+v", got)
	}
	if got := h.CheckModules("docker"); got.Status != Note {
		t.Errorf("docker without /lib/modules = %+v, want a note (docker creates it)", got)
	}
	if err := os.MkdirAll(filepath.Join(h.Root, "lib/modules"), 0o755); err != nil {
		t.Fatal(err)
	}
	if got := h.CheckModules("podman"); got.Status != OK {
		t.Errorf("with /lib/modules = %+v", got)
	}
}

func TestCheckDisk(t *testing.T) {
	f := newFake()
	h := f.host(t)
	var at string
	h.Free = func(p string) (uint64, error) { at = p; return f.free, nil }
	e := Engine{Name: "docker", Storage: "/var/lib/docker"}
	for _, tc := range []struct {
		free   uint64
		status Status
		want   string
	}{
		{100 << 30, OK, "100.0 GiB free on docker's storage (/var/lib/docker)"},
		{3 << 30, Warn, "under 4 GiB"},
		{1 << 30, Fail, "under the 1.5 GiB"},
	} {
		f.free = tc.free
		got := h.CheckDisk(e)
		if got.Status != tc.status || !strings.Contains(got.Message, tc.want) {
			t.Errorf("%d bytes free: %+v", tc.free, got)
		}
		if tc.status != OK && !strings.Contains(got.Fix, "docker system prune") {
			t.Errorf("fix = %q", got.Fix)
		}
	}
	// /var/lib/docker does not exist under the fake root: the nearest
	// directory that does is measured.
	if at != h.Root {
		t.Errorf("measured %s, want the root %s", at, h.Root)
	}
	h.Free = func(string) (uint64, error) { return 0, syscall.ENOSYS }
	if got := h.CheckDisk(e); got.Status != Warn || !strings.Contains(got.Message, "cannot be read") {
		t.Errorf("unreadable disk = %+v", got)
	}
}

func TestCheckInotify(t *testing.T) {
	h := newFake().host(t)
	if got := h.CheckInotify(); got.Status != Warn || !strings.Contains(got.Message, "cannot be read") {
		t.Errorf("no /proc: %+v", got)
	}
	write(t, h.Root, "proc/sys/fs/inotify/max_user_watches", "192530\n")
	write(t, h.Root, "proc/sys/fs/inotify/max_user_instances", "128\n")
	got := h.CheckInotify()
	if got.Status != Warn || !strings.Contains(got.Message, "max_user_watches 192530, max_user_instances 128") ||
		got.Fix != "sudo sysctl fs.inotify.max_user_watches=524288 fs.inotify.max_user_instances=512 (and add both to /etc/sysctl.conf)" {
		t.Errorf("low limits: %+v", got)
	}
	write(t, h.Root, "proc/sys/fs/inotify/max_user_watches", "524288\n")
	write(t, h.Root, "proc/sys/fs/inotify/max_user_instances", "8192\n")
	if got := h.CheckInotify(); got.Status != OK {
		t.Errorf("kind's limits: %+v", got)
	}
}

func TestCheckPorts(t *testing.T) {
	f := newFake()
	f.taken["tcp 0.0.0.0:8080"] = &os.SyscallError{Syscall: "bind", Err: syscall.EADDRINUSE}
	f.taken["udp 127.0.0.1:5353"] = &os.SyscallError{Syscall: "bind", Err: syscall.EADDRINUSE}
	got := f.host(t).CheckPorts("docker", []Port{
		{Port: 8080, Protocol: "TCP", What: "extra_port_mappings[0].host_port"},
		{Address: "127.0.0.1", Port: 5353, Protocol: "UDP", What: "extra_port_mappings[1].host_port"},
		{Address: "127.0.0.1", Port: 6443, Protocol: "TCP", What: "api_server_port"},
		{Port: 0, Protocol: "TCP", What: "picked by kind"},
	})
	if len(got) != 3 {
		t.Fatalf("findings = %+v, want three (port 0 is not checked)", got)
	}
	if got[0].Status != Fail || got[0].Message != "port 0.0.0.0:8080/tcp (extra_port_mappings[0].host_port) is taken by another program" ||
		got[0].Fix != "sudo ss -ltnp 'sport = :8080' names the program; stop it, or choose another port" {
		t.Errorf("taken TCP port: %+v", got[0])
	}
	if got[1].Status != Fail || !strings.Contains(got[1].Fix, "ss -lunp") {
		t.Errorf("taken UDP port: %+v", got[1])
	}
	if got[2].Status != OK {
		t.Errorf("free port: %+v", got[2])
	}
}

// A real port held by a real listener is found taken by the real Bind.
func TestBindFindsARealListener(t *testing.T) {
	h := Real()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	got := h.CheckPorts("podman", []Port{{Address: "127.0.0.1", Port: int32(port), Protocol: "TCP", What: "api_server_port"}})
	if len(got) != 1 || got[0].Status != Fail || !strings.Contains(got[0].Message, "taken by another program") {
		t.Errorf("findings = %+v", got)
	}
}

func TestResolveImage(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name       string
		configured string
		images     []string
		online     bool
		ref        string
		source     string
		status     Status
		message    string
	}{
		{name: "published present", images: []string{PublishedImage, OfflineImage}, ref: PublishedImage, source: FromPublished, status: OK, message: "present"},
		{name: "published pullable", online: true, images: []string{OfflineImage}, ref: PublishedImage, source: FromPublished, status: OK, message: "pulled on first use"},
		{name: "offline", images: []string{OfflineImage}, ref: OfflineImage, source: FromOffline, status: OK, message: "registry-1.docker.io cannot be reached"},
		{name: "none", status: Fail, message: "no node image: podman has neither kind's " + PublishedImage + " nor lab's offline " + OfflineImage + ", and registry-1.docker.io cannot be reached"},
		{name: "configured present", configured: "example.com/node:v1", images: []string{"example.com/node:v1"}, ref: "example.com/node:v1", source: FromConfig, status: OK},
		{name: "configured pullable", configured: "example.com/node:v1", online: true, ref: "example.com/node:v1", source: FromConfig, status: OK},
		{name: "configured local, missing", configured: OfflineImage, online: true, ref: OfflineImage, source: FromConfig, status: Fail, message: "is a local name"},
		{name: "configured offline", configured: "example.com/node:v1", ref: "example.com/node:v1", source: FromConfig, status: Fail, message: "example.com cannot be reached"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake()
			f.online = tc.online
			for _, i := range tc.images {
				f.images["podman "+i] = true
			}
			img, got := f.host(t).ResolveImage(ctx, "podman", tc.configured)
			if img.Ref != tc.ref || (tc.ref != "" && img.Source != tc.source) || got.Status != tc.status || !strings.Contains(got.Message, tc.message) {
				t.Errorf("image %+v, finding %+v", img, got)
			}
			if got.Status == Fail && !strings.Contains(got.Fix, "make node-image") {
				t.Errorf("fix = %q, want it to name make node-image", got.Fix)
			}
		})
	}
}

func TestRegistry(t *testing.T) {
	for ref, want := range map[string]string{
		PublishedImage:                "registry-1.docker.io",
		"busybox":                     "registry-1.docker.io",
		"docker.io/kindest/node:v1":   "registry-1.docker.io",
		"registry.k8s.io/pause:3.10":  "registry.k8s.io",
		"localhost:5000/node:v1":      "",
		OfflineImage:                  "",
		"myregistry:5000/kind/node:1": "myregistry:5000",
	} {
		if got := Registry(ref); got != want {
			t.Errorf("Registry(%q) = %q, want %q", ref, got, want)
		}
	}
}
