package host

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// CgroupV1Patch is the kubeadm patch lab adds on a cgroup v1 host:
// kubelet 1.35 and later refuse cgroup v1 unless told not to.
const CgroupV1Patch = "kind: KubeletConfiguration\napiVersion: kubelet.config.k8s.io/v1beta1\nfailCgroupV1: false\n"

// CgroupV1 reports whether the engine runs containers on cgroup v1: as
// the engine said, else as the host's /sys/fs/cgroup shows.
func (h Host) CgroupV1(e Engine) bool {
	switch e.Cgroup {
	case "1":
		return true
	case "2":
		return false
	}
	_, err := os.Stat(filepath.Join(h.Root, "sys/fs/cgroup/cgroup.controllers"))
	return err != nil
}

// CheckCgroup says which cgroup version the nodes get. v1 is a note, not
// a failure: lab adds CgroupV1Patch itself.
func (h Host) CheckCgroup(e Engine) Finding {
	f := Finding{Check: "cgroup", Engine: e.Name, Status: OK, Message: "cgroup v2"}
	if h.CgroupV1(e) {
		f.Status = Note
		f.Message = "cgroup v1 (as on Amazon Linux 2): kubelet 1.35+ refuses it by default, so lab sets failCgroupV1: false in the kubelet configuration"
		f.Fix = "none needed; to move to cgroup v2, boot with systemd.unified_cgroup_hierarchy=1"
	}
	return f
}

// CheckModules looks for /lib/modules, which kind mounts into every node.
func (h Host) CheckModules(engine string) Finding {
	f := Finding{Check: "modules", Engine: engine, Status: OK, Message: "/lib/modules is there"}
	if _, err := os.Stat(filepath.Join(h.Root, "lib/modules")); err == nil {
		return f
	}
	f.Fix = "sudo mkdir -p /lib/modules"
	if engine == "docker" {
		// docker run -v creates a missing source directory.
		f.Status = Note
		f.Message = "/lib/modules does not exist; docker creates it empty when kind mounts it"
		return f
	}
	f.Status = Fail
	f.Message = "/lib/modules does not exist, and " + engine + " refuses to mount a missing directory into the node (kind always mounts it)"
	return f
}

// Disk thresholds on the engine's storage: a node image takes about 1 GiB
// unpacked; the workloads' images, etcd and logs take the rest.
const (
	MinFreeDisk  = 3 << 29 // 1.5 GiB: below this the node image alone may not fit
	WantFreeDisk = 4 << 30 // 4 GiB: below this kubelet may start evicting pods
)

// CheckDisk measures free space where the engine keeps its containers.
func (h Host) CheckDisk(e Engine) Finding {
	f := Finding{Check: "disk", Engine: e.Name}
	path := e.Storage
	if path == "" {
		path = "/var/lib/" + e.Name
	}
	// The directory may not exist yet on a fresh install (or lives in a
	// VM): measure the nearest directory that does.
	at := filepath.Join(h.Root, path)
	for {
		if _, err := os.Stat(at); err == nil || at == filepath.Dir(at) {
			break
		}
		at = filepath.Dir(at)
	}
	n, err := h.Free(at)
	if err != nil {
		f.Status = Warn
		f.Message = fmt.Sprintf("free space on %s's storage (%s) cannot be read: %v", e.Name, path, err)
		f.Fix = "df -h " + path
		return f
	}
	free := fmt.Sprintf("%.1f GiB free on %s's storage (%s)", float64(n)/(1<<30), e.Name, path)
	switch {
	case n < MinFreeDisk:
		f.Status = Fail
		f.Message = free + ", under the 1.5 GiB a node image needs"
	case n < WantFreeDisk:
		f.Status = Warn
		f.Message = free + ", under 4 GiB: pods may be evicted once images and logs grow"
	default:
		f.Status = OK
		f.Message = free
		return f
	}
	f.Fix = e.Name + " system prune (removes stopped containers and unused images), or grow the disk"
	return f
}

// kind's known-issues page asks for these inotify limits.
const (
	WantInotifyWatches   = 524288
	WantInotifyInstances = 512
)

// CheckInotify compares the inotify limits with kind's advice: too low,
// and pods fail with "too many open files".
func (h Host) CheckInotify() Finding {
	f := Finding{Check: "inotify", Status: OK}
	read := func(name string) (int, error) {
		b, err := os.ReadFile(filepath.Join(h.Root, "proc/sys/fs/inotify", name))
		if err != nil {
			return 0, err
		}
		return strconv.Atoi(strings.TrimSpace(string(b)))
	}
	watches, err1 := read("max_user_watches")
	instances, err2 := read("max_user_instances")
	if err := errors.Join(err1, err2); err != nil {
		f.Status = Warn
		f.Message = "inotify limits cannot be read: " + firstLine(err)
		f.Fix = "sysctl fs.inotify"
		return f
	}
	f.Message = fmt.Sprintf("inotify limits: max_user_watches %d, max_user_instances %d", watches, instances)
	if watches >= WantInotifyWatches && instances >= WantInotifyInstances {
		return f
	}
	f.Status = Warn
	f.Message += fmt.Sprintf(", under kind's %d and %d: pods may fail with \"too many open files\"", WantInotifyWatches, WantInotifyInstances)
	f.Fix = fmt.Sprintf("sudo sysctl fs.inotify.max_user_watches=%d fs.inotify.max_user_instances=%d (and add both to /etc/sysctl.conf)", WantInotifyWatches, WantInotifyInstances)
	return f
}

// Port is a host port a node will publish.
type Port struct {
	Address  string // "" or "0.0.0.0" for every address
	Port     int32
	Protocol string // TCP, UDP or SCTP
	// What names it in the lab file, e.g. "extra_port_mappings[0].host_port".
	What string
}

// CheckPorts binds each port for a moment: one another program holds
// makes the node fail to start.
func (h Host) CheckPorts(engine string, ports []Port) []Finding {
	var out []Finding
	for _, p := range ports {
		if p.Port == 0 || strings.EqualFold(p.Protocol, "SCTP") {
			continue // 0 is picked free by kind; SCTP cannot be probed portably
		}
		network := strings.ToLower(p.Protocol)
		if network == "" {
			network = "tcp"
		}
		addr := p.Address
		if addr == "" {
			addr = "0.0.0.0"
		}
		name := fmt.Sprintf("port %s:%d/%s (%s)", addr, p.Port, network, p.What)
		f := Finding{Check: "port", Engine: engine, Status: OK, Message: name + " is free"}
		if err := h.Bind(network, joinHostPort(addr, p.Port)); err != nil {
			f.Status = Fail
			ss := "-ltnp"
			if network == "udp" {
				ss = "-lunp"
			}
			switch {
			case errors.Is(err, syscall.EADDRINUSE):
				f.Message = name + " is taken by another program"
			case errors.Is(err, syscall.EACCES):
				f.Message = name + " needs privileges to bind"
			case errors.Is(err, syscall.EADDRNOTAVAIL):
				f.Message = name + ": " + addr + " is not an address of this machine"
			default:
				f.Message = fmt.Sprintf("%s cannot be bound: %s", name, firstLine(err))
			}
			f.Fix = fmt.Sprintf("sudo ss %s 'sport = :%d' names the program; stop it, or choose another port", ss, p.Port)
		}
		out = append(out, f)
	}
	return out
}

func joinHostPort(addr string, port int32) string {
	if strings.Contains(addr, ":") && !strings.HasPrefix(addr, "[") {
		addr = "[" + addr + "]"
	}
	return addr + ":" + strconv.Itoa(int(port))
}
