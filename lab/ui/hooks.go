package ui

import (
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"

	"labs.dev/lab/lab/plan"
	"labs.dev/lab/lab/resource"
	"labs.dev/lab/lab/ui/ansi"
)

// Lines reports engine events as plain timestamped lines, for logs and
// terminals alike; on a TTY a progress bar below them shows the count of
// resources done and what is happening now.
type Lines struct {
	mu    sync.Mutex
	w     io.Writer
	s     ansi.Style
	bar   *progressbar.ProgressBar
	now   func() time.Time
	quiet bool // no refresh lines
	width int  // terminal columns, to keep the bar on one line
	stop  chan struct{}
}

// NewLines returns a Lines hook. total > 0 and width > 0 (the terminal's
// columns; 0 when not a terminal) turn on the bar.
func NewLines(w io.Writer, s ansi.Style, width int, total int) *Lines {
	l := &Lines{w: w, s: s, now: time.Now, width: width}
	if width > 0 && total > 0 {
		l.bar = progressbar.NewOptions(total,
			progressbar.OptionSetWriter(w),
			progressbar.OptionSetWidth(24),
			progressbar.OptionShowCount(),
			progressbar.OptionSetElapsedTime(true),
			progressbar.OptionSetPredictTime(false),
			progressbar.OptionEnableColorCodes(s.Color),
			progressbar.OptionClearOnFinish(),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionSpinnerType(14),
		)
		// Redraw while nothing reports, so the elapsed time moves during
		// long waits (cluster start, helm readiness).
		l.stop = make(chan struct{})
		go func() {
			t := time.NewTicker(500 * time.Millisecond)
			defer t.Stop()
			for {
				select {
				case <-l.stop:
					return
				case <-t.C:
					l.mu.Lock()
					_ = l.bar.RenderBlank()
					l.mu.Unlock()
				}
			}
		}()
	}
	return l
}

// Quiet drops per-resource refresh lines (apply after a shown plan).
func (l *Lines) Quiet() *Lines { l.quiet = true; return l }

func (l *Lines) line(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	msg := fmt.Sprintf(format, args...)
	if l.bar != nil {
		_ = l.bar.Clear()
		fmt.Fprintf(l.w, "%s\n", msg)
		_ = l.bar.RenderBlank()
		return
	}
	fmt.Fprintf(l.w, "%s %s\n", l.s.Dim(l.now().Format("15:04:05")), msg)
}

func (l *Lines) describe(msg string) {
	if l.bar == nil {
		return
	}
	// The bar takes about 45 columns; cut the text to fit the rest.
	if max := l.width - 45; max > 10 && len([]rune(msg)) > max {
		msg = string([]rune(msg)[:max-1]) + "…"
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.bar.Describe(msg)
}

func (l *Lines) PreRefresh(addr resource.Addr) {
	if !l.quiet {
		l.describe(addr.String() + ": refreshing")
	}
}

func (l *Lines) PostRefresh(addr resource.Addr, c *plan.Change, err error) {
	if err != nil {
		l.line("%s: %s", addr, l.s.Red("refresh failed"))
	}
}

func (l *Lines) PreApply(addr resource.Addr, a resource.Action) {
	l.line("%s: %s...", l.s.Bold(addr.String()), presentTense(a))
	l.describe(addr.String() + ": " + presentTense(a))
}

func (l *Lines) PostApply(addr resource.Addr, a resource.Action, d time.Duration, err error) {
	if err != nil {
		l.line("%s: %s after %s", l.s.Bold(addr.String()), l.s.Red(presentTense(a)+" failed"), round(d))
	} else {
		l.line("%s: %s after %s", l.s.Bold(addr.String()), l.s.Green(pastTense(a)), round(d))
	}
	if l.bar != nil {
		l.mu.Lock()
		_ = l.bar.Add(1)
		l.mu.Unlock()
	}
}

func (l *Lines) Progress(p resource.Progress) {
	msg := p.Msg
	if p.Total > 0 {
		msg = fmt.Sprintf("%s (%d/%d)", p.Msg, p.Done, p.Total)
	}
	if p.Stalled {
		// Said once per reason: a line of its own, above the bar too.
		l.line("%s: %s %s", l.s.Bold(p.Addr.String()), l.s.Yellow("stalled:"), p.Msg)
		return
	}
	if l.bar != nil {
		l.describe(p.Addr.String() + ": " + msg)
		return
	}
	l.line("%s: %s", p.Addr, msg)
}

// Finish removes the bar.
func (l *Lines) Finish() {
	if l.stop != nil {
		close(l.stop)
		l.stop = nil
	}
	if l.bar != nil {
		l.mu.Lock()
		_ = l.bar.Clear()
		l.mu.Unlock()
	}
}

func round(d time.Duration) time.Duration {
	if d < time.Second {
		return d.Round(time.Millisecond)
	}
	return d.Round(100 * time.Millisecond)
}

// JSONLines reports events as one JSON object per line.
type JSONLines struct {
	mu  sync.Mutex
	enc *json.Encoder
}

// NewJSONLines writes events to w.
func NewJSONLines(w io.Writer) *JSONLines { return &JSONLines{enc: json.NewEncoder(w)} }

type event struct {
	Time    time.Time       `json:"time"`
	Type    string          `json:"type"`
	Addr    string          `json:"addr,omitempty"`
	Action  resource.Action `json:"action,omitempty"`
	Elapsed float64         `json:"elapsed_seconds,omitempty"`
	Error   string          `json:"error,omitempty"`
	Message string          `json:"message,omitempty"`
	Done    int             `json:"done,omitempty"`
	Total   int             `json:"total,omitempty"`
	Change  *plan.Change    `json:"change,omitempty"`
	// Blocked and Stalled are a wait's: what it waits on and why, and
	// whether that has held with no progress for a while.
	Blocked *resource.Blocked `json:"blocked,omitempty"`
	Stalled bool              `json:"stalled,omitempty"`
}

func (j *JSONLines) emit(e event) {
	j.mu.Lock()
	defer j.mu.Unlock()
	e.Time = time.Now().UTC()
	_ = j.enc.Encode(e)
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func (j *JSONLines) PreRefresh(addr resource.Addr) {}

func (j *JSONLines) PostRefresh(addr resource.Addr, c *plan.Change, err error) {
	if err != nil {
		j.emit(event{Type: "refresh_errored", Addr: addr.String(), Error: errString(err)})
	}
}

func (j *JSONLines) PreApply(addr resource.Addr, a resource.Action) {
	j.emit(event{Type: "apply_start", Addr: addr.String(), Action: a})
}

func (j *JSONLines) PostApply(addr resource.Addr, a resource.Action, d time.Duration, err error) {
	t := "apply_complete"
	if err != nil {
		t = "apply_errored"
	}
	j.emit(event{Type: t, Addr: addr.String(), Action: a, Elapsed: d.Seconds(), Error: errString(err)})
}

func (j *JSONLines) Progress(p resource.Progress) {
	j.emit(event{Type: "progress", Addr: p.Addr.String(), Message: p.Msg, Done: p.Done, Total: p.Total, Blocked: p.Blocked, Stalled: p.Stalled})
}
