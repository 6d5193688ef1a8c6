package host

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Engine is a container engine as it answered.
type Engine struct {
	Name    string // docker or podman
	Version string
	// Cgroup is the cgroup version the engine runs containers on: "1"
	// or "2" ("" when it did not say).
	Cgroup string
	// Storage is where the engine keeps images and containers.
	Storage  string
	Rootless bool
}

// EngineTimeout bounds `docker info` / `podman info`.
const EngineTimeout = 5 * time.Second

// infoFormat asks each engine for version, cgroup version, storage root
// and rootlessness in one call.
var infoFormat = map[string]string{
	"docker": "{{.ServerVersion}}|{{.CgroupVersion}}|{{.DockerRootDir}}|{{range .SecurityOptions}}{{.}},{{end}}",
	"podman": "{{.Version.Version}}|{{.Host.CgroupsVersion}}|{{.Store.GraphRoot}}|{{.Host.Security.Rootless}}",
}

// CheckEngine asks the engine's daemon (not just its CLI) for itself. The
// Engine is valid only when the finding is OK.
func (h Host) CheckEngine(ctx context.Context, name string) (Engine, Finding) {
	e := Engine{Name: name}
	f := Finding{Check: "engine", Engine: name}
	ctx, cancel := context.WithTimeout(ctx, EngineTimeout)
	defer cancel()
	out, err := h.Run(ctx, name, "info", "--format", infoFormat[name])
	switch {
	case notInstalled(err):
		f.Status = Fail
		f.Message = name + " is not installed"
		f.Fix = installFix[name]
		return e, f
	case ctx.Err() != nil:
		f.Status = Fail
		f.Message = fmt.Sprintf("%s does not answer within %s", name, EngineTimeout)
		f.Fix = startFix[name]
		return e, f
	case err != nil:
		msg := firstLine(err)
		f.Status = Fail
		switch {
		case strings.Contains(strings.ToLower(msg), "permission denied"):
			f.Message = fmt.Sprintf("%s's socket refuses you (permission denied): %s", name, msg)
			f.Fix = permissionFix[name]
		case strings.Contains(msg, "Cannot connect") || strings.Contains(msg, "Is the docker daemon running") || strings.Contains(msg, "connection refused") || strings.Contains(msg, "no such file or directory"):
			f.Message = fmt.Sprintf("%s is installed but not running: %s", name, msg)
			f.Fix = startFix[name]
		default:
			f.Message = fmt.Sprintf("%s does not answer: %s", name, msg)
			f.Fix = name + " info shows the whole error; " + startFix[name]
		}
		return e, f
	}
	parts := strings.Split(strings.TrimSpace(string(out)), "|")
	for len(parts) < 4 {
		parts = append(parts, "")
	}
	e.Version, e.Cgroup, e.Storage = parts[0], strings.TrimPrefix(parts[1], "v"), parts[2]
	e.Rootless = parts[3] == "true" || strings.Contains(parts[3], "rootless")
	if e.Version == "" {
		f.Status = Fail
		f.Message = name + " answered without a server version (its daemon is not reachable)"
		f.Fix = startFix[name]
		return e, f
	}
	f.Status = OK
	f.Message = fmt.Sprintf("%s %s answers", name, e.Version)
	if e.Rootless {
		f.Message += " (rootless)"
	}
	return e, f
}

var installFix = map[string]string{
	"docker": "install Docker: sudo apt-get install docker.io (Debian, Ubuntu) or sudo yum install docker (Amazon Linux), then sudo systemctl start docker",
	"podman": "install Podman: sudo apt-get install podman (Debian, Ubuntu) or sudo dnf install podman (Fedora, Amazon Linux 2023)",
}

var startFix = map[string]string{
	"docker": "sudo systemctl start docker (or sudo service docker start)",
	"podman": "podman info shows what podman needs; rootful: run lab as root (sudo)",
}

var permissionFix = map[string]string{
	"docker": "sudo usermod -aG docker $USER, then log out and in again (or run newgrp docker)",
	"podman": "run lab as the user who owns the podman socket, or as root (sudo)",
}
