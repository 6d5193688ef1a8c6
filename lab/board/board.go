// Package board is the instructor's live page (lab board): the table of
// lab verify --all-learners, one row per learner and one column per
// check, read again every few seconds and shown on a page served on
// the loopback address. Clicking a failed check shows its failure and
// hint. It only reads the cluster: the view ClusterRole is enough.
package board

import (
	"context"
	_ "embed"
	"encoding/json"
	"html/template"
	"net/http"
	"sync"
	"time"

	"labs.dev/lab/lab/report"
)

//go:embed page.html
var page string

var pageTmpl = template.Must(template.New("page").Parse(page))

// Board serves the page and the table it shows.
type Board struct {
	// Title heads the page (the lab file's name).
	Title string
	// Every is how often the page asks again, and how long one reading
	// of the cluster serves every viewer.
	Every time.Duration
	// Read runs the learners' checks once.
	Read func(ctx context.Context) (*report.Learners, error)

	mu      sync.Mutex
	reading chan struct{} // closed when the reading in flight ends
	last    *reading
}

// reading is one run of the checks.
type reading struct {
	At    time.Time        `json:"at"`
	Table *report.Learners `json:"table,omitempty"`
	Error string           `json:"error,omitempty"`
	Took  float64          `json:"seconds"`
	Every float64          `json:"every"`
}

// Handler serves the page at / and the table as JSON at /results.
func (b *Board) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		_ = pageTmpl.Execute(w, map[string]any{"Title": b.Title, "EveryMillis": b.every().Milliseconds()})
	})
	mux.HandleFunc("GET /results", func(w http.ResponseWriter, r *http.Request) {
		rd := b.current(r.Context())
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_ = json.NewEncoder(w).Encode(rd)
	})
	return mux
}

func (b *Board) every() time.Duration {
	if b.Every <= 0 {
		return 3 * time.Second
	}
	return b.Every
}

// current returns a reading no older than half the refresh interval,
// reading the cluster at most once at a time for every viewer.
func (b *Board) current(ctx context.Context) *reading {
	for {
		b.mu.Lock()
		if b.last != nil && time.Since(b.last.At) < b.every()/2 {
			rd := b.last
			b.mu.Unlock()
			return rd
		}
		if wait := b.reading; wait != nil {
			b.mu.Unlock()
			select {
			case <-wait:
				continue
			case <-ctx.Done():
				return &reading{At: time.Now(), Error: ctx.Err().Error()}
			}
		}
		done := make(chan struct{})
		b.reading = done
		b.mu.Unlock()

		start := time.Now()
		rctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		t, err := b.Read(rctx)
		cancel()
		rd := &reading{At: time.Now(), Table: t, Took: time.Since(start).Seconds(), Every: b.every().Seconds()}
		if err != nil {
			rd.Error = err.Error()
		}
		b.mu.Lock()
		b.last, b.reading = rd, nil
		b.mu.Unlock()
		close(done)
		return rd
	}
}
