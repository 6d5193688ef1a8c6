package helm

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"labs.dev/lab/lab/resource"
	"labs.dev/lab/providers/helm/wire"
)

// WorkerName is the worker executable's name.
const WorkerName = "lab-helm"

// workerPath finds lab-helm: $LAB_BIN_DIR, then beside the running
// executable (bin/lab and bin/lab-helm are built together), then PATH.
func workerPath() (string, error) {
	var tried []string
	if dir := os.Getenv("LAB_BIN_DIR"); dir != "" {
		p := filepath.Join(dir, WorkerName)
		if isExecutable(p) {
			return p, nil
		}
		tried = append(tried, p+" ($LAB_BIN_DIR)")
	}
	if exe, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(exe), WorkerName)
		if isExecutable(p) {
			return p, nil
		}
		tried = append(tried, p)
	}
	if p, err := exec.LookPath(WorkerName); err == nil {
		return p, nil
	}
	tried = append(tried, "PATH")
	return "", fmt.Errorf("helm_release needs the %s worker, found in none of: %s; `make build` builds it beside lab (or set LAB_BIN_DIR to the directory that holds it)", WorkerName, strings.Join(tried, ", "))
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// blockedError says first what kept the release from being ready, then
// the worker's account of what it did about it, without the reason twice.
func blockedError(addr resource.Addr, w *wire.Blocked, msg string) error {
	b := blocked(w)
	line := b.String()
	rest := strings.TrimSpace(strings.Replace(msg, ": "+line, "", 1))
	return &resource.BlockedError{Blocked: *b, Err: fmt.Errorf("%s: %s\n%s", addr, line, rest)}
}

func blocked(w *wire.Blocked) *resource.Blocked {
	if w == nil {
		return nil
	}
	return &resource.Blocked{Object: w.Object, Reason: w.Reason, Summary: w.Summary, Message: w.Message, Hint: w.Hint, Group: w.Group}
}

// maxObjectText is the longest JSON object kept in an error message.
const maxObjectText = 200

// shortenObjects cuts the JSON objects Kubernetes and helm quote whole in
// their errors (a whole Deployment with its managedFields, kilobytes
// before the one useful line) down to {…}.
func shortenObjects(msg string) string {
	var b strings.Builder
	for i := 0; i < len(msg); {
		if msg[i] != '{' {
			b.WriteByte(msg[i])
			i++
			continue
		}
		end := matchingBrace(msg, i)
		if end < 0 || end-i < maxObjectText {
			b.WriteByte(msg[i])
			i++
			continue
		}
		b.WriteString("{…}")
		i = end + 1
	}
	return b.String()
}

// matchingBrace returns the index of the brace closing the one at open,
// skipping braces inside JSON strings, or -1.
func matchingBrace(s string, open int) int {
	depth, inString := 0, false
	for i := open; i < len(s); i++ {
		switch c := s[i]; {
		case inString && c == '\\':
			i++
		case c == '"':
			inString = !inString
		case inString:
		case c == '{':
			depth++
		case c == '}':
			depth--
			if depth == 0 {
				return i
			}
		}
	}
	return -1
}

// eventRelay hands the events of one call to the UI or the log.
type eventRelay struct {
	env  resource.Env
	addr resource.Addr
}

// event hands one of the worker's events to the UI or the log.
func (r *eventRelay) event(ev wire.Event) {
	switch ev.Level {
	case wire.LevelProgress:
		if r.env.Progress != nil {
			r.env.Progress(resource.Progress{Addr: r.addr, Msg: ev.Msg, Done: ev.Done, Total: ev.Total, Blocked: blocked(ev.Blocked), Stalled: ev.Stalled})
		}
	case wire.LevelWarn:
		if r.env.Log != nil {
			r.env.Log.Warn(ev.Msg, "resource", r.addr.String())
		}
	default:
		if r.env.Log != nil {
			r.env.Log.Debug(ev.Msg, "resource", r.addr.String())
		}
	}
}
