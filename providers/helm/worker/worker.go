// Package worker is the helm side of providers/helm: it serves one
// wire.Request with helm's pkg/action. Only cmd/lab-helm imports it, so
// helm's package initialisers never slow down the lab binary.
package worker

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/release"
	"helm.sh/helm/v3/pkg/storage/driver"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/rest"
	"k8s.io/klog/v2"

	"labs.dev/lab/providers/helm/wire"
	labkube "labs.dev/lab/providers/kube"
)

// Main reads one request from in, answers on out and reports events on
// errw. It returns the process exit code: non-zero only when the request
// could not be read or the answer not written.
func Main(in io.Reader, out, errw io.Writer) int {
	ev := &events{w: errw}
	// client-go logs through klog; keep stderr pure JSON.
	klog.LogToStderr(false)
	klog.SetOutput(ev.writer(wire.LevelDebug))

	var req wire.Request
	dec := json.NewDecoder(in)
	dec.UseNumber()
	if err := dec.Decode(&req); err != nil {
		fmt.Fprintf(errw, "lab-helm: cannot read the request on stdin: %v\n", err)
		return 2
	}
	if req.Version != wire.Version {
		fmt.Fprintf(errw, "lab-helm: request protocol version %d, this lab-helm speaks %d: build lab and lab-helm together (make build)\n", req.Version, wire.Version)
		return 2
	}
	normalizeNumbers(req.Values)

	// A closed terminal hangs up lab's whole process group: lab stops
	// this worker itself (SIGTERM) when it wants to, so a hangup must not
	// leave the release pending.
	signal.Ignore(syscall.SIGHUP)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	resp := Serve(ctx, req, ev.emit)
	if err := json.NewEncoder(out).Encode(resp); err != nil {
		fmt.Fprintf(errw, "lab-helm: cannot write the answer: %v\n", err)
		return 2
	}
	return 0
}

// Serve carries out req, reporting progress to emit. Errors go into the
// response.
func Serve(ctx context.Context, req wire.Request, emit func(wire.Event)) *wire.Response {
	return serve(ctx, req, emit, nil)
}

// serve is Serve with the clients that the requests of one process
// share; nil shares nothing.
func serve(ctx context.Context, req wire.Request, emit func(wire.Event), clients *Clients) *wire.Response {
	if emit == nil {
		emit = func(wire.Event) {}
	}
	var resp *wire.Response
	var err error
	var w *worker
	if err = validate(req); err == nil {
		w, err = newWorker(req, emit, clients)
		if err == nil {
			switch req.Op {
			case wire.OpPlan:
				resp, err = w.plan(ctx)
			case wire.OpApply:
				resp, err = w.apply(ctx)
			case wire.OpDelete:
				resp, err = w.delete(ctx)
			}
		}
	}
	if resp == nil {
		resp = &wire.Response{}
	}
	if err != nil {
		resp.Error = err.Error()
		if w != nil && w.blocked != nil {
			resp.Blocked = toBlocked(&w.blocked.reason)
		}
	}
	return resp
}

func validate(req wire.Request) error {
	switch req.Op {
	case wire.OpPlan, wire.OpApply, wire.OpDelete:
	default:
		return fmt.Errorf("unknown operation %q (want plan, apply or delete)", req.Op)
	}
	if req.Name == "" || req.Namespace == "" {
		return errors.New("release name and namespace are required")
	}
	if req.Op == wire.OpApply && req.Chart == "" {
		return errors.New("apply needs a chart directory")
	}
	return nil
}

type worker struct {
	req     wire.Request
	cfg     *action.Configuration
	conns   *labkube.Connections
	emit    func(wire.Event)
	timeout time.Duration
	// blocked is what kept the release from being ready when its wait
	// timed out, for the response.
	blocked *blockedError
}

func newWorker(req wire.Request, emit func(wire.Event), clients *Clients) (*worker, error) {
	timeout := 5 * time.Minute
	if req.Timeout != "" {
		d, err := time.ParseDuration(req.Timeout)
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("timeout %q is not a positive duration like \"5m\" or \"90s\"", req.Timeout)
		}
		timeout = d
	}
	flags := genericclioptions.NewConfigFlags(false)
	flags.KubeConfig = &req.Kubeconfig
	flags.Context = &req.Context
	flags.Namespace = &req.Namespace
	if req.CacheDir != "" {
		// client-go would make the missing directories 0750; the state
		// directory above the cache holds state and kubeconfigs.
		if err := os.MkdirAll(req.CacheDir, 0o700); err != nil {
			return nil, fmt.Errorf("cache directory: %w", err)
		}
		flags.CacheDir = &req.CacheDir
	}
	// Like lab's own clients: no client-side rate limit against a cluster
	// lab usually owns; server warnings become events, not stderr text.
	// This process is one operation: its connections are its own.
	conns := labkube.NewConnections()
	flags.WrapConfigFn = func(c *rest.Config) *rest.Config {
		c.QPS = -1
		c.Burst = -1
		c.UserAgent = "lab-helm"
		c.WarningHandler = warnings{emit}
		// No request timeout here: helm may watch.
		conns.Resilient(c)
		return c
	}
	w := &worker{req: req, emit: emit, timeout: timeout, cfg: new(action.Configuration), conns: conns}
	if err := w.cfg.Init(flags, req.Namespace, "secrets", w.helmLog); err != nil {
		return nil, fmt.Errorf("connect helm to %s: %w", w.target(), err)
	}
	if clients != nil {
		w.share(clients, flags)
	}
	return w, nil
}

func (w *worker) target() string {
	return labkube.Target{Kubeconfig: w.req.Kubeconfig, Context: w.req.Context}.String()
}

func (w *worker) kubectlFlags() string {
	var f string
	if w.req.Kubeconfig != "" {
		f += " --kubeconfig " + w.req.Kubeconfig
	}
	if w.req.Context != "" {
		f += " --context " + w.req.Context
	}
	return f
}

func (w *worker) progress(format string, args ...any) {
	w.emit(wire.Event{Level: wire.LevelProgress, Msg: fmt.Sprintf(format, args...)})
}

// helmLog turns helm's debug log into events; the few lines that say what a
// long wait is waiting for become progress.
func (w *worker) helmLog(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	ev := wire.Event{Level: wire.LevelDebug, Msg: msg}
	var n int
	switch {
	case strings.HasPrefix(format, "beginning wait for %d resources with timeout"):
		if _, err := fmt.Sscanf(msg, "beginning wait for %d resources", &n); err == nil {
			ev = wire.Event{Level: wire.LevelProgress, Msg: fmt.Sprintf("waiting for %d resources to be ready", n), Total: n}
		}
	case strings.HasPrefix(format, "beginning wait for %d resources to be deleted"):
		if _, err := fmt.Sscanf(msg, "beginning wait for %d resources", &n); err == nil {
			ev = wire.Event{Level: wire.LevelProgress, Msg: fmt.Sprintf("waiting for %d resources to be deleted", n), Total: n}
		}
	case strings.HasPrefix(format, "creating %d resource(s)"):
		ev.Level = wire.LevelProgress
	case strings.Contains(format, " is not ready: "), strings.Contains(format, "is not completed"), strings.Contains(format, "does not have"):
		ev.Level = wire.LevelProgress
	}
	w.emit(ev)
}

// lastRelease returns the release's last revision, or nil when there is none.
func (w *worker) lastRelease() (*release.Release, error) {
	rel, err := w.cfg.Releases.Last(w.req.Name)
	if err != nil {
		if errors.Is(err, driver.ErrReleaseNotFound) || strings.Contains(err.Error(), "no revision for release") {
			return nil, nil
		}
		return nil, fmt.Errorf("read helm release %q in namespace %q on %s: %w (is the cluster up and the context right? `kubectl%s get nodes` checks)", w.req.Name, w.req.Namespace, w.target(), err, w.kubectlFlags())
	}
	return rel, nil
}

func (w *worker) plan(ctx context.Context) (*wire.Response, error) {
	resp := &wire.Response{}
	var ch *chart.Chart
	if w.req.Chart != "" {
		var err error
		ch, err = loadChart(w.req.Chart)
		if err != nil {
			return nil, err
		}
		resp.Chart = &wire.Chart{Name: ch.Name(), Version: ch.Metadata.Version, Digest: chartDigest(ch)}
	}
	rel, err := w.lastRelease()
	if err != nil {
		return resp, err
	}
	var rendered *release.Release
	if ch != nil {
		if rendered, err = w.render(ch); err != nil {
			return nil, err
		}
	}
	if rel != nil {
		resp.Release = toWire(rel)
		if rel.Info.Status == release.StatusDeployed {
			if resp.Drift, err = w.liveDrift(ctx, rel); err != nil {
				return resp, err
			}
		}
	}
	if rendered != nil && changing(rel, resp, w.req.Values) {
		err := w.denied(ctx, rendered, rel)
		var d *labkube.DeniedError
		switch {
		case errors.As(err, &d):
			resp.Denied = err.Error()
		case err != nil:
			return resp, err
		}
	}
	return resp, nil
}

// changing reports whether apply may install or upgrade the release, as
// far as the worker can tell (lab decides; see decide in
// providers/helm): a plan that leaves 100 releases alone must not ask
// 100 namespaces' worth of access reviews. A difference it misses only
// leaves a denial to apply.
func changing(rel *release.Release, resp *wire.Response, values map[string]any) bool {
	if rel == nil || rel.Info == nil || rel.Info.Status != release.StatusDeployed || len(resp.Drift) > 0 {
		return true
	}
	if len(values) > 0 || len(rel.Config) > 0 {
		// Both came through JSON, so equal values marshal alike.
		a, errA := json.Marshal(values)
		b, errB := json.Marshal(rel.Config)
		if errA != nil || errB != nil || !bytes.Equal(a, b) {
			return true
		}
	}
	wr := resp.Release
	if c := resp.Chart; c != nil && (c.Name != wr.ChartName || c.Version != wr.ChartVersion || c.Digest != wr.ChartDigest) {
		return true
	}
	return false
}

// render renders the chart with the config's values as install would,
// offline, so a template that does not parse, fails, or renders broken
// YAML is reported by plan rather than halfway through apply. Without the
// server's version (for kubeVersion and .Capabilities) it does not guess
// and returns nil.
func (w *worker) render(ch *chart.Chart) (*release.Release, error) {
	dc, err := w.cfg.RESTClientGetter.ToDiscoveryClient()
	if err != nil {
		return nil, nil
	}
	v, err := dc.ServerVersion()
	if err != nil {
		return nil, nil
	}
	inst := action.NewInstall(&action.Configuration{})
	inst.DryRun, inst.ClientOnly = true, true
	inst.ReleaseName, inst.Namespace = w.req.Name, w.req.Namespace
	inst.KubeVersion = &chartutil.KubeVersion{Version: v.GitVersion, Major: v.Major, Minor: v.Minor}
	inst.PostRenderer = ownerRenderer{labels: w.req.Labels, annotations: w.req.Annotations}
	vals := w.req.Values
	if vals == nil {
		vals = map[string]any{}
	}
	rel, err := inst.Run(ch, vals)
	if err != nil {
		return nil, fmt.Errorf("chart %s (%s) does not render: %w", ch.Name(), w.req.Chart, err)
	}
	return rel, nil
}

func (w *worker) apply(ctx context.Context) (*wire.Response, error) {
	ch, err := loadChart(w.req.Chart)
	if err != nil {
		return nil, err
	}
	labels := map[string]string{wire.LabelChartDigest: chartDigest(ch)}
	pr := ownerRenderer{labels: w.req.Labels, annotations: w.req.Annotations}
	vals := w.req.Values
	if vals == nil {
		vals = map[string]any{}
	}

	last, err := w.lastRelease()
	if err != nil {
		return nil, err
	}
	if last != nil {
		switch {
		case last.Info.Status.IsPending():
			// A pending release means a worker died mid-operation (helm's
			// lock); nothing else runs it, so mark it failed and upgrade.
			w.progress("release %s was left %s by an interrupted run; marking it failed", w.req.Name, last.Info.Status)
			last.SetStatus(release.StatusFailed, "interrupted: lab-helm exited during "+last.Info.Status.String())
			if err := w.cfg.Releases.Update(last); err != nil {
				return nil, fmt.Errorf("release %q in namespace %q is stuck in %s and could not be reset: %w", w.req.Name, w.req.Namespace, last.Info.Status, err)
			}
		case last.Info.Status == release.StatusUninstalling || last.Info.Status == release.StatusUninstalled:
			if err := w.uninstall(); err != nil {
				return nil, err
			}
			last = nil
		}
	}

	// helm's Wait polls every 2 s; lab waits itself (waitReady).
	deadline := time.Now().Add(w.timeout)
	var rel *release.Release
	if last == nil {
		w.progress("installing release %s (chart %s %s) into namespace %s", w.req.Name, ch.Name(), ch.Metadata.Version, w.req.Namespace)
		newInstall := func() *action.Install {
			inst := action.NewInstall(w.cfg)
			inst.ReleaseName = w.req.Name
			inst.Namespace = w.req.Namespace
			inst.CreateNamespace = w.req.CreateNamespace
			inst.Wait = false
			inst.Timeout = w.timeout
			inst.PostRenderer = pr
			inst.Labels = labels
			inst.Description = "installed by lab"
			return inst
		}
		created := false
		if w.req.CreateNamespace {
			exists, err := w.namespaceExists(ctx)
			if err != nil {
				return nil, err
			}
			created = !exists
		}
		rel, err = newInstall().RunWithContext(ctx, ch, vals)
		if err != nil && strings.Contains(err.Error(), "exists and cannot be imported into the current release") {
			rel, err = w.adopt(ctx, newInstall, ch, vals, err)
		}
		if err == nil && created {
			err = w.claimNamespace(ctx)
		}
		if err == nil && w.req.Wait {
			err = w.wait(ctx, rel, release.StatusPendingInstall, deadline)
		}
		if err != nil {
			return nil, w.installFailed(err)
		}
	} else {
		w.progress("upgrading release %s to chart %s %s (revision %d)", w.req.Name, ch.Name(), ch.Metadata.Version, last.Version+1)
		up := action.NewUpgrade(w.cfg)
		up.Namespace = w.req.Namespace
		up.Wait = false
		up.Timeout = w.timeout
		up.PostRenderer = pr
		up.Labels = labels
		// The config's values are the whole truth: never reuse the last
		// release's values when the config has none.
		up.ResetValues = true
		up.MaxHistory = maxHistory
		up.Description = "upgraded by lab"
		rel, err = up.RunWithContext(ctx, w.req.Name, ch, vals)
		if err == nil && w.req.Wait {
			err = w.wait(ctx, rel, release.StatusPendingUpgrade, deadline)
		}
		if err != nil {
			return nil, fmt.Errorf("upgrade of helm release %q in namespace %q failed: %w (the release is marked failed; fix the cause and apply again)", w.req.Name, w.req.Namespace, explain(err, w.timeout))
		}
	}
	if err := w.relabel(rel); err != nil {
		return nil, err
	}
	w.progress("release %s revision %d %s", rel.Name, rel.Version, rel.Info.Status)
	return &wire.Response{Release: toWire(rel)}, nil
}

// installFailed uninstalls what a failed first install left behind, so the
// next apply installs afresh instead of upgrading a broken release.
func (w *worker) installFailed(err error) error {
	msg := fmt.Sprintf("install of helm release %q in namespace %q failed: %v", w.req.Name, w.req.Namespace, explain(err, w.timeout))
	rel, lerr := w.lastRelease()
	if lerr != nil || rel == nil || rel.Version != 1 || (rel.Info.Status != release.StatusFailed && rel.Info.Status != release.StatusPendingInstall) {
		return errors.New(msg)
	}
	w.progress("install failed; uninstalling the partial release %s", w.req.Name)
	if uerr := w.uninstall(); uerr != nil {
		return fmt.Errorf("%s; cleaning up the partial release failed too: %v", msg, uerr)
	}
	return errors.New(msg + " (the partial release was uninstalled, so the next apply starts clean)")
}

// explain adds what to do to helm's terse errors.
func explain(err error, timeout time.Duration) error {
	msg := err.Error()
	switch {
	case errors.Is(err, context.DeadlineExceeded) || strings.Contains(msg, "context deadline exceeded") || strings.Contains(msg, "timed out waiting for the condition"):
		return fmt.Errorf("%w: not ready within the timeout of %s; check the pods (kubectl get pods -n <namespace>) or raise timeout", err, timeout)
	case errors.Is(err, context.Canceled):
		return fmt.Errorf("%w: interrupted", err)
	}
	return err
}

func (w *worker) delete(ctx context.Context) (*wire.Response, error) {
	last, err := w.lastRelease()
	if err != nil {
		return &wire.Response{}, err
	}
	if last != nil {
		w.progress("uninstalling release %s from namespace %s", w.req.Name, w.req.Namespace)
		if err := w.uninstall(); err != nil {
			return &wire.Response{}, err
		}
	}
	return &wire.Response{}, w.dropNamespace(ctx)
}

func (w *worker) uninstall() error {
	un := action.NewUninstall(w.cfg)
	un.Wait = true
	un.Timeout = w.timeout
	un.IgnoreNotFound = true
	if _, err := un.Run(w.req.Name); err != nil {
		return fmt.Errorf("uninstall of helm release %q in namespace %q failed: %w", w.req.Name, w.req.Namespace, explain(err, w.timeout))
	}
	return nil
}

func toWire(rel *release.Release) *wire.Release {
	out := &wire.Release{
		Name:      rel.Name,
		Namespace: rel.Namespace,
		Revision:  rel.Version,
		Values:    rel.Config,
	}
	if rel.Info != nil {
		out.Status = rel.Info.Status.String()
		out.Description = rel.Info.Description
	}
	if rel.Chart != nil && rel.Chart.Metadata != nil {
		out.ChartName = rel.Chart.Metadata.Name
		out.ChartVersion = rel.Chart.Metadata.Version
	}
	out.ChartDigest = rel.Labels[wire.LabelChartDigest]
	out.Objects = strings.Count("\n"+rel.Manifest, "\n---")
	return out
}

// events writes Event lines to stderr; helm logs from several goroutines.
type events struct {
	mu sync.Mutex
	w  io.Writer
}

func (e *events) emit(ev wire.Event) {
	b, err := json.Marshal(ev)
	if err != nil {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	_, _ = e.w.Write(append(b, '\n'))
}

// writer returns an io.Writer that turns each write (a log line) into an
// event of the given level.
func (e *events) writer(level string) io.Writer {
	return writerFunc(func(p []byte) (int, error) {
		e.emit(wire.Event{Level: level, Msg: strings.TrimRight(string(p), "\n")})
		return len(p), nil
	})
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

type warnings struct{ emit func(wire.Event) }

func (w warnings) HandleWarningHeader(code int, agent, text string) {
	if code == 299 && text != "" {
		w.emit(wire.Event{Level: wire.LevelWarn, Msg: "API server warning: " + text})
	}
}

// normalizeNumbers turns json.Number into int64 where exact, else float64,
// so chart templates see integers as integers (replicas: 2, not 2.0e+00).
func normalizeNumbers(m map[string]any) {
	for k, x := range m {
		m[k] = normalizeValue(x)
	}
}

func normalizeValue(v any) any {
	switch v := v.(type) {
	case json.Number:
		if i, err := v.Int64(); err == nil {
			return i
		}
		if f, err := v.Float64(); err == nil {
			return f
		}
		return v.String()
	case map[string]any:
		for k, x := range v {
			v[k] = normalizeValue(x)
		}
		return v
	case []any:
		for i, x := range v {
			v[i] = normalizeValue(x)
		}
		return v
	}
	return v
}
