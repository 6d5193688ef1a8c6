package simulated

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// runningElsewhere refuses to start a second control plane for a cluster
// whose processes still run from another place: another lab directory
// with a cluster of the same name, this one's before .lab was removed,
// or this one before it was moved. Starting anyway would leave the first
// running, unknown to any `lab down`, and take over its kubeconfig
// context, as kind refuses to do for a name in use.
//
// server is the address to look at: the recorded API server of a
// stopped cluster, or else the one the kind-<name> context names. Only a
// simulated control plane (kube-apiserver or etcd) there counts: any
// other program may have taken a port after a reboot, and a restart
// picks a new one.
func runningElsewhere(o Options, server string) error {
	recorded := server != ""
	if !recorded {
		server = contextServer(o.Kubeconfig, "kind-"+o.Name)
	}
	u, err := url.Parse(server)
	if server == "" || err != nil || (u.Hostname() != "127.0.0.1" && u.Hostname() != "localhost") {
		return nil
	}
	conn, err := net.DialTimeout("tcp", u.Host, 500*time.Millisecond)
	if err != nil {
		return nil // nothing answers: a stale context, safe to replace
	}
	conn.Close()
	port, _ := strconv.Atoi(u.Port())
	var who []string
	controlPlane := false
	for _, pid := range listeners(port) {
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if len(cmdline) == 0 {
			continue // exiting: its socket goes with it
		}
		if names(cmdline, o.Dir) {
			return nil // ours after all
		}
		args := strings.Split(string(bytes.TrimRight(cmdline, "\x00")), "\x00")
		switch filepath.Base(args[0]) {
		case "kube-apiserver", "etcd":
			controlPlane = true
		}
		desc := fmt.Sprintf("process %d (%s", pid, filepath.Base(args[0]))
		for _, a := range args {
			if v, ok := strings.CutPrefix(a, "--data-dir="); ok {
				desc += ", data in " + v
			}
			if v, ok := strings.CutPrefix(a, "--cert-dir="); ok {
				desc += ", certificates in " + v
			}
		}
		who = append(who, desc+")")
	}
	// Only what can be named is refused: a port that answers for a
	// moment after its process was killed is not a cluster.
	if len(who) == 0 || !controlPlane {
		return nil
	}
	msg := fmt.Sprintf("the kubeconfig context kind-%s points at a cluster that is already running at %s, and not from %s: another lab directory's cluster of the same name, or this one's before .lab was removed or the directory was moved", o.Name, server, o.Dir)
	if recorded {
		msg = fmt.Sprintf("cluster %q last ran at %s, where a simulated control plane is running now, and not from %s: this directory was moved (or copied) while its cluster ran", o.Name, server, o.Dir)
	}
	msg += "; it is " + strings.Join(who, ", ")
	return fmt.Errorf("%s. Run `lab down` where it was made (move the directory back first if you moved it), or give this cluster another name; if its directory is gone, stop its processes by PID (the whole simulated cluster is five processes: etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok)", msg)
}

// listeners returns the PIDs with a TCP socket listening on port.
func listeners(port int) []int {
	inodes := map[string]bool{}
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			// sl local_address rem_address st ... inode
			fs := strings.Fields(sc.Text())
			if len(fs) < 10 || fs[3] != "0A" { // 0A: LISTEN
				continue
			}
			_, hexPort, ok := strings.Cut(fs[1], ":")
			if p, err := strconv.ParseInt(hexPort, 16, 32); ok && err == nil && int(p) == port {
				inodes["socket:["+fs[9]+"]"] = true
			}
		}
	}
	if len(inodes) == 0 {
		return nil
	}
	var pids []int
	procs, _ := os.ReadDir("/proc")
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil {
			continue
		}
		fds, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
		for _, fd := range fds {
			if l, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name())); err == nil && inodes[l] {
				pids = append(pids, pid)
				break
			}
		}
	}
	return pids
}
