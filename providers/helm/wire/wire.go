// Package wire is the protocol between providers/helm (inside lab) and its
// worker process lab-helm: one JSON Request on the worker's stdin, one JSON
// Response on its stdout, and Event lines on its stderr; or, with
// lab-helm -serve, many requests at once as Envelope lines both ways. It
// must not import helm, so that lab itself never links helm.
package wire

// Version is bumped when a change would make an old worker misread a
// request; lab and lab-helm are built together, so there is no negotiation.
const Version = 1

// Op is what the worker is asked to do.
type Op string

const (
	// OpPlan reads the release, the local chart and the release's live
	// objects; it changes nothing.
	OpPlan Op = "plan"
	// OpApply installs or upgrades the release and waits for it.
	OpApply Op = "apply"
	// OpDelete uninstalls the release; a missing release is success.
	OpDelete Op = "delete"
)

// Request is the one request a worker serves.
type Request struct {
	Version int `json:"version"`
	Op      Op  `json:"op"`

	Kubeconfig string `json:"kubeconfig,omitempty"`
	Context    string `json:"context,omitempty"`
	// CacheDir holds the kube discovery cache; "" means kubectl's default.
	CacheDir string `json:"cache_dir,omitempty"`

	Name      string `json:"name"`
	Namespace string `json:"namespace"`
	// Chart is the absolute path of a local chart directory (plan, apply).
	Chart           string         `json:"chart,omitempty"`
	Values          map[string]any `json:"values,omitempty"`
	CreateNamespace bool           `json:"create_namespace,omitempty"`
	Wait            bool           `json:"wait,omitempty"`
	// Timeout is a Go duration ("5m") bounding install/upgrade/uninstall.
	Timeout string `json:"timeout,omitempty"`

	// Labels and Annotations go onto every object of the release.
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`

	// Listed lets a plan read the release's live objects from one LIST
	// per kind of the objects carrying Labels, shared by the process's
	// plans: lab has written nothing to a cluster yet in this command.
	Listed bool `json:"listed,omitempty"`
}

// Response is the worker's answer. Error is set when the operation failed;
// the worker still exits 0 then.
type Response struct {
	Error string `json:"error,omitempty"`
	// Release is the release's last revision; nil when there is none.
	Release *Release `json:"release,omitempty"`
	// Chart describes the local chart of the request (plan).
	Chart *Chart `json:"chart,omitempty"`
	// Drift lists live objects of a deployed release that differ from its
	// manifest (plan).
	Drift []ObjectDrift `json:"drift,omitempty"`
	// Blocked is what kept the release's objects from being ready when
	// the wait timed out (apply, with Error set).
	Blocked *Blocked `json:"blocked,omitempty"`
	// Denied names, one per line, what the credentials may not do that
	// installing or upgrading the release needs (plan). It is not an
	// Error: only lab knows whether the plan changes the release at all.
	Denied string `json:"denied,omitempty"`
}

// Blocked is an object of the release that is not ready, and why. Fields
// are added compatibly: a lab that does not know them ignores them.
type Blocked struct {
	// Object is like "Deployment staging/fleet".
	Object string `json:"object"`
	// Reason is a code like "FailedScheduling".
	Reason  string `json:"reason"`
	Summary string `json:"summary,omitempty"`
	// Message is the scheduler's, kubelet's or controller's own words.
	Message string `json:"message,omitempty"`
	// Hint is one line on what to do.
	Hint string `json:"hint,omitempty"`
	// Group is a phrase like failures share, like "pods could not be
	// scheduled (Insufficient cpu)".
	Group string `json:"group,omitempty"`
}

// Release is what lab needs to know of a helm release.
type Release struct {
	Name         string `json:"name"`
	Namespace    string `json:"namespace"`
	Revision     int    `json:"revision"`
	Status       string `json:"status"` // helm's: deployed, failed, pending-install, ...
	Description  string `json:"description,omitempty"`
	ChartName    string `json:"chart_name"`
	ChartVersion string `json:"chart_version"`
	// ChartDigest is the digest of the chart files the release was made
	// from ("" for releases lab did not make).
	ChartDigest string `json:"chart_digest,omitempty"`
	// Values are the values the release was installed with (not the
	// chart's defaults).
	Values map[string]any `json:"values,omitempty"`
	// Objects counts the objects in the release's manifest.
	Objects int `json:"objects,omitempty"`
}

// Chart describes a local chart directory.
type Chart struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Digest  string `json:"digest"`
}

// ObjectDrift is one object of the release whose live state differs from
// the release's manifest.
type ObjectDrift struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
	// Missing is true when the object is gone from the cluster.
	Missing bool    `json:"missing,omitempty"`
	Fields  []Field `json:"fields,omitempty"`
}

// ID names the object like "Deployment staging/fleet".
func (o ObjectDrift) ID() string {
	if o.Namespace == "" {
		return o.Kind + " " + o.Name
	}
	return o.Kind + " " + o.Namespace + "/" + o.Name
}

// Field is one field of a live object that differs from the manifest;
// values are rendered for humans, "" meaning absent.
type Field struct {
	Path string `json:"path"`
	Live string `json:"live,omitempty"`
	Want string `json:"want,omitempty"`
}

// Event is one line on the worker's stderr.
type Event struct {
	// Level is "progress" for the UI, "debug" for the log, "warn" for
	// API server warnings.
	Level string `json:"level"`
	Msg   string `json:"msg"`
	Done  int    `json:"done,omitempty"`
	Total int    `json:"total,omitempty"`
	// Blocked names what a progress event's wait waits on, and Stalled
	// marks the one event that says it has held with no progress.
	Blocked *Blocked `json:"blocked,omitempty"`
	Stalled bool     `json:"stalled,omitempty"`
}

// Levels of Event.
const (
	LevelProgress = "progress"
	LevelDebug    = "debug"
	LevelWarn     = "warn"
)

// LabelChartDigest is the helm release label (on helm's storage secret,
// not on the objects) that records Chart.Digest, so plan sees a chart whose
// files changed without a version bump. Label values are limited to 63
// characters, hence a shortened digest.
const LabelChartDigest = "lab.dev/chart-digest"

// Envelope is one line of lab-helm -serve, which serves many requests at
// once in one process: lab writes Request and Cancel envelopes on the
// worker's stdin, the worker writes Event and Response envelopes on its
// stdout, each tagged with the ID of the request it is about. One process
// for every release of a command saves each release a process start and
// helm's package initialisers (≈ 23 ms and ≈ 50 MiB a process). The
// worker ends its requests (as if cancelled) and exits when its stdin
// closes.
type Envelope struct {
	ID       uint64    `json:"id"`
	Request  *Request  `json:"request,omitempty"`
	Cancel   bool      `json:"cancel,omitempty"`
	Event    *Event    `json:"event,omitempty"`
	Response *Response `json:"response,omitempty"`
}
