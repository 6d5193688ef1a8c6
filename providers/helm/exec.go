package helm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

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

// call runs one worker process for req and relays its events.
func call(ctx context.Context, env resource.Env, addr resource.Addr, req wire.Request) (*wire.Response, error) {
	bin, err := workerPath()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", addr, err)
	}
	in, err := json.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("%s: encode the request for %s: %w", addr, WorkerName, err)
	}
	cmd := exec.CommandContext(ctx, bin)
	// SIGTERM, not SIGKILL: helm then marks the release failed instead of
	// leaving it pending, and the next apply can carry on.
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 30 * time.Second
	cmd.SysProcAttr = workerAttr()
	cmd.Stdin = bytes.NewReader(in)
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	relay := &eventRelay{env: env, addr: addr}
	cmd.Stderr = relay
	start := time.Now()
	runErr := cmd.Run()
	relay.flush()
	if env.Log != nil {
		env.Log.Debug("lab-helm finished", "resource", addr.String(), "op", string(req.Op), "elapsed", time.Since(start))
	}
	if ctx.Err() != nil {
		return nil, fmt.Errorf("%s: helm %s of release %q interrupted: %w", addr, req.Op, req.Name, ctx.Err())
	}
	if runErr != nil {
		var exit *exec.ExitError
		if errors.As(runErr, &exit) {
			return nil, fmt.Errorf("%s: %s (%s) failed with %v%s", addr, WorkerName, bin, runErr, relay.plainTail())
		}
		return nil, fmt.Errorf("%s: run %s (%s): %w", addr, WorkerName, bin, runErr)
	}
	var resp wire.Response
	if err := json.Unmarshal(stdout.Bytes(), &resp); err != nil {
		return nil, fmt.Errorf("%s: %s (%s) gave no readable answer: %v%s; is it from the same build as lab? (make build)", addr, WorkerName, bin, err, relay.plainTail())
	}
	if resp.Error != "" {
		if b := resp.Blocked; b != nil {
			return &resp, blockedError(addr, b, shortenObjects(resp.Error))
		}
		return &resp, fmt.Errorf("%s: %s", addr, shortenObjects(resp.Error))
	}
	return &resp, nil
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

// eventRelay reads the worker's stderr line by line: JSON events go to the
// UI or the log, anything else (a crash) is kept for the error message.
type eventRelay struct {
	env   resource.Env
	addr  resource.Addr
	buf   []byte
	plain []string
}

func (r *eventRelay) Write(p []byte) (int, error) {
	r.buf = append(r.buf, p...)
	for {
		i := bytes.IndexByte(r.buf, '\n')
		if i < 0 {
			break
		}
		r.line(r.buf[:i])
		r.buf = r.buf[i+1:]
	}
	return len(p), nil
}

func (r *eventRelay) flush() {
	if len(r.buf) > 0 {
		r.line(r.buf)
		r.buf = nil
	}
}

func (r *eventRelay) line(b []byte) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return
	}
	var ev wire.Event
	if b[0] != '{' || json.Unmarshal(b, &ev) != nil || ev.Level == "" {
		const keep = 20
		r.plain = append(r.plain, string(b))
		if len(r.plain) > keep {
			r.plain = r.plain[len(r.plain)-keep:]
		}
		return
	}
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

func (r *eventRelay) plainTail() string {
	if len(r.plain) == 0 {
		return ""
	}
	return ":\n" + strings.Join(r.plain, "\n")
}
