package worker

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"k8s.io/klog/v2"

	"labs.dev/lab/providers/helm/wire"
)

// maxLine bounds one request line: values are hand-written.
const maxLine = 16 << 20

// ServeMain serves Envelope requests from in until it closes, each in
// its own goroutine, writing events and answers to out; what is not an
// answer (helm's and client-go's own logs) goes to errw as events. It
// returns the process exit code.
func ServeMain(in io.Reader, out, errw io.Writer) int {
	logs := &events{w: errw}
	klog.LogToStderr(false)
	klog.SetOutput(logs.writer(wire.LevelDebug))
	signal.Ignore(syscall.SIGHUP)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	var mu sync.Mutex // one envelope a line
	enc := json.NewEncoder(out)
	send := func(e wire.Envelope) {
		mu.Lock()
		defer mu.Unlock()
		_ = enc.Encode(e)
	}
	clients := NewClients()
	var wg sync.WaitGroup
	var cmu sync.Mutex
	cancels := map[uint64]context.CancelFunc{}
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64<<10), maxLine)
	for sc.Scan() {
		var e wire.Envelope
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		dec.UseNumber()
		if err := dec.Decode(&e); err != nil {
			fmt.Fprintf(errw, "lab-helm: cannot read a request: %v\n", err)
			return 2
		}
		switch {
		case e.Cancel:
			cmu.Lock()
			if c := cancels[e.ID]; c != nil {
				c()
			}
			cmu.Unlock()
		case e.Request != nil:
			req := *e.Request
			if req.Version != wire.Version {
				send(wire.Envelope{ID: e.ID, Response: &wire.Response{Error: fmt.Sprintf("request protocol version %d, this lab-helm speaks %d: build lab and lab-helm together (make build)", req.Version, wire.Version)}})
				continue
			}
			normalizeNumbers(req.Values)
			rctx, cancel := context.WithCancel(ctx)
			cmu.Lock()
			cancels[e.ID] = cancel
			cmu.Unlock()
			wg.Add(1)
			go func(id uint64) {
				defer wg.Done()
				resp := serve(rctx, req, func(ev wire.Event) { send(wire.Envelope{ID: id, Event: &ev}) }, clients)
				cmu.Lock()
				delete(cancels, id)
				cmu.Unlock()
				cancel()
				send(wire.Envelope{ID: id, Response: resp})
			}(e.ID)
		}
	}
	// lab is gone or done: end what is in flight as a cancel would (helm
	// then marks a release failed rather than leaving it pending).
	cmu.Lock()
	for _, c := range cancels {
		c()
	}
	cmu.Unlock()
	wg.Wait()
	if err := sc.Err(); err != nil {
		fmt.Fprintf(errw, "lab-helm: reading requests: %v\n", err)
		return 2
	}
	return 0
}
