package apply

import (
	"sync"

	"labs.dev/lab/lab/resource"

	"labs.dev/lab/lab/state"
)

// writer persists state after every resource: commit applies a change
// and returns once the state holding it is on disk.
type writer struct {
	path    string
	mu      sync.Mutex
	st      *state.State
	lastErr error
}

func newWriter(path string, st *state.State) *writer { return &writer{path: path, st: st} }

func (w *writer) commit(change func(*state.State)) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	change(w.st)
	if err := state.Write(w.path, w.st); err != nil {
		w.lastErr = err
		return err
	}
	return nil
}

// get reads a resource while other resources' changes are committed.
func (w *writer) get(addr resource.Addr) (state.Resource, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	r, ok := w.st.Get(addr)
	if !ok {
		return state.Resource{}, false
	}
	return *r, true
}

func (w *writer) err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.lastErr
}
