// Package host checks a machine before lab creates a kind cluster on it:
// whether the container engine is there and lets lab in, whether a node
// image can be had, and the host facts kind's users trip over (cgroup v1,
// /lib/modules, disk, inotify limits, ports). Each check gives a Finding
// that says in one line what is wrong and the command that fixes it.
//
// The machine is a Host value (filesystem root, command runner, port
// binder, disk and registry probes), so every check is tested against a
// fake machine where a real one cannot be made.
package host

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Status is how a check came out.
type Status string

const (
	// OK: nothing to do.
	OK Status = "ok"
	// Note: fine, and lab works around it itself (cgroup v1).
	Note Status = "note"
	// Warn: lab up goes on, but this may bite later.
	Warn Status = "warn"
	// Fail: a kind cluster cannot be made on this engine until it is fixed.
	Fail Status = "fail"
)

// Finding is the result of one check.
type Finding struct {
	// Check names what was checked: engine, cgroup, modules, disk,
	// inotify, port, image.
	Check  string `json:"check"`
	Engine string `json:"engine,omitempty"`
	Status Status `json:"status"`
	// Message says what was found, in one line.
	Message string `json:"message"`
	// Fix is the command (or step) that fixes it; empty when OK.
	Fix string `json:"fix,omitempty"`
}

// String is the finding in one line: message, then the fix.
func (f Finding) String() string {
	if f.Fix == "" {
		return f.Message
	}
	return f.Message + "; fix: " + f.Fix
}

// Failed returns the findings that stop a cluster from being made.
func Failed(fs []Finding) []Finding {
	var out []Finding
	for _, f := range fs {
		if f.Status == Fail {
			out = append(out, f)
		}
	}
	return out
}

// Host is the machine the checks look at.
type Host struct {
	// Root is the filesystem root the files are read under ("/").
	Root string
	// Run runs a command and returns its standard output; a failure's
	// error carries its standard error.
	Run func(ctx context.Context, name string, args ...string) ([]byte, error)
	// Bind binds address on network ("tcp", "udp") and lets it go again.
	Bind func(network, address string) error
	// Free is the space in bytes an unprivileged writer has under path.
	Free func(path string) (uint64, error)
	// Reach reports whether a registry (a host name, e.g.
	// registry-1.docker.io) answers over HTTPS.
	Reach func(ctx context.Context, registry string) error
}

// Real is this machine.
func Real() Host {
	return Host{Root: "/", Run: run, Bind: bind, Free: free, Reach: reach}
}

// ErrNotInstalled is what Run returns when the command is not on PATH.
var ErrNotInstalled = exec.ErrNotFound

func run(ctx context.Context, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, &RunError{Err: err, Stderr: strings.TrimSpace(stderr.String())}
	}
	return out, nil
}

// RunError is a command that failed: what it said on standard error, or
// how it ended when it said nothing.
type RunError struct {
	Err    error
	Stderr string
}

func (e *RunError) Error() string {
	if e.Stderr != "" {
		return e.Stderr
	}
	return e.Err.Error()
}

func (e *RunError) Unwrap() error { return e.Err }

func bind(network, address string) error {
	if strings.HasPrefix(network, "udp") {
		c, err := net.ListenPacket(network, address)
		if err != nil {
			return err
		}
		return c.Close()
	}
	l, err := net.Listen(network, address)
	if err != nil {
		return err
	}
	return l.Close()
}

func free(path string) (uint64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return 0, err
	}
	return st.Bavail * uint64(st.Bsize), nil
}

// ReachTimeout bounds the registry probe: an air-gapped network must not
// make every plan wait.
const ReachTimeout = 3 * time.Second

func reach(ctx context.Context, registry string) error {
	ctx, cancel := context.WithTimeout(ctx, ReachTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+registry+"/v2/", nil)
	if err != nil {
		return err
	}
	c := &http.Client{Transport: &http.Transport{Proxy: http.ProxyFromEnvironment}}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	// Any answer (a registry says 401 before a token) means it is there.
	return nil
}

// firstLine is the first non-empty line of an error, for one-line findings.
func firstLine(err error) string {
	if err == nil {
		return ""
	}
	for _, l := range strings.Split(err.Error(), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			return l
		}
	}
	return err.Error()
}

func notInstalled(err error) bool { return errors.Is(err, exec.ErrNotFound) }

// Report is what lab doctor shows for one cluster: every check on each
// engine the cluster may use, and what lab up would do.
type Report struct {
	// Resource is the block's address, e.g. kind_cluster.kind.
	Resource string `json:"resource"`
	// Runtime is the runtime the block asks for (auto, docker, ...).
	Runtime string `json:"runtime"`
	// Uses is what lab up would run the cluster on: docker, podman or
	// simulated; "" when it cannot make the cluster.
	Uses string `json:"uses"`
	// Why says, in one line, why Uses (or why nothing).
	Why      string    `json:"why"`
	Findings []Finding `json:"checks"`
}
