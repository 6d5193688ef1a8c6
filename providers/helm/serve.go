package helm

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"sync"
	"time"

	"labs.dev/lab/lab/resource"
	"labs.dev/lab/providers/helm/wire"
	"labs.dev/lab/providers/kube"
)

// server is one lab-helm -serve process that carries out every helm
// call of one command, many at once: a process per release would pay
// lab-helm's start and helm's package initialisers for each (≈ 23 ms and
// ≈ 50 MiB), which at fifty learners' hundred releases is seconds of
// CPU and hundreds of MiB at once. It starts with the first call and
// ends when lab does (its stdin closes).
type server struct {
	mu sync.Mutex
	p  *serving
}

// serving is the running process.
type serving struct {
	bin   string
	stdin io.WriteCloser
	wmu   sync.Mutex // one envelope a line

	mu    sync.Mutex
	next  uint64
	calls map[uint64]*pending
	dead  chan struct{} // closed once the process has exited
	err   error         // why it exited, set before dead closes
	plain []string      // its last lines of stderr, for errors
}

type pending struct {
	relay *eventRelay
	resp  chan *wire.Response
}

// cancelGrace is how long a cancelled call waits for the worker's answer:
// helm marks the release failed before it answers.
const cancelGrace = 30 * time.Second

func (s *server) get() (*serving, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.p != nil {
		select {
		case <-s.p.dead:
		default:
			return s.p, nil
		}
	}
	bin, err := workerPath()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "-serve")
	cmd.SysProcAttr = workerAttr()
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("run %s (%s): %w", WorkerName, bin, err)
	}
	p := &serving{bin: bin, stdin: stdin, calls: map[uint64]*pending{}, dead: make(chan struct{})}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); p.readErr(stderr) }()
	go func() { defer wg.Done(); p.read(stdout) }()
	go func() {
		wg.Wait()
		err := cmd.Wait()
		p.mu.Lock()
		if err == nil {
			err = errors.New("exited")
		}
		p.err = err
		p.mu.Unlock()
		close(p.dead)
	}()
	s.p = p
	return p, nil
}

// read hands each event and answer to its call.
func (p *serving) read(r io.Reader) {
	dec := json.NewDecoder(r)
	for {
		var e wire.Envelope
		if err := dec.Decode(&e); err != nil {
			return
		}
		p.mu.Lock()
		c := p.calls[e.ID]
		if e.Response != nil {
			delete(p.calls, e.ID)
		}
		p.mu.Unlock()
		switch {
		case c == nil:
		case e.Response != nil:
			c.resp <- e.Response
		case e.Event != nil:
			c.relay.event(*e.Event)
		}
	}
}

// readErr keeps the worker's last lines of stderr: a crash's words.
func (p *serving) readErr(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 || line[0] == '{' {
			continue // helm's and client-go's own logs, as events
		}
		p.mu.Lock()
		p.plain = append(p.plain, string(line))
		if len(p.plain) > 20 {
			p.plain = p.plain[len(p.plain)-20:]
		}
		p.mu.Unlock()
	}
}

func (p *serving) send(e wire.Envelope) error {
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	p.wmu.Lock()
	defer p.wmu.Unlock()
	_, err = p.stdin.Write(append(b, '\n'))
	return err
}

// died says why the worker is gone.
func (p *serving) died(addr resource.Addr) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	tail := ""
	if len(p.plain) > 0 {
		tail = ":\n" + strings.Join(p.plain, "\n")
	}
	return fmt.Errorf("%s: %s (%s) %v%s", addr, WorkerName, p.bin, p.err, tail)
}

// call carries out req in the worker and relays its events.
func (s *server) call(ctx context.Context, env resource.Env, addr resource.Addr, req wire.Request) (*wire.Response, error) {
	p, err := s.get()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", addr, err)
	}
	if req.Op != wire.OpPlan {
		// The worker writes with its own clients, unseen by lab's, from
		// the request until its answer.
		kube.Wrote()
		defer kube.Wrote()
	}
	c := &pending{relay: &eventRelay{env: env, addr: addr}, resp: make(chan *wire.Response, 1)}
	p.mu.Lock()
	p.next++
	id := p.next
	p.calls[id] = c
	p.mu.Unlock()
	start := time.Now()
	defer func() {
		if env.Log != nil {
			env.Log.Debug("lab-helm finished", "resource", addr.String(), "op", string(req.Op), "elapsed", time.Since(start))
		}
	}()
	if err := p.send(wire.Envelope{ID: id, Request: &req}); err != nil {
		<-p.dead
		return nil, p.died(addr)
	}
	var resp *wire.Response
	select {
	case resp = <-c.resp:
	case <-p.dead:
		return nil, p.died(addr)
	case <-ctx.Done():
		_ = p.send(wire.Envelope{ID: id, Cancel: true})
		select {
		case <-c.resp:
		case <-p.dead:
		case <-time.After(cancelGrace):
		}
		return nil, fmt.Errorf("%s: helm %s of release %q interrupted: %w", addr, req.Op, req.Name, ctx.Err())
	}
	if resp.Error != "" {
		if b := resp.Blocked; b != nil {
			return resp, blockedError(addr, b, shortenObjects(resp.Error))
		}
		return resp, fmt.Errorf("%s: %s", addr, shortenObjects(resp.Error))
	}
	return resp, nil
}
