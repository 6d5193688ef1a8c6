package state

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"time"
)

// LockInfo says who holds the state lock. It is the content of the lock
// file while the lock is held.
type LockInfo struct {
	// ID names this hold of the lock, for `lab force-unlock ID`.
	ID      string    `json:"id"`
	PID     int       `json:"pid"`
	Command string    `json:"command"` // e.g. "lab up"
	Host    string    `json:"host"`
	User    string    `json:"user"`
	Created time.Time `json:"created"`
}

func (i LockInfo) holder() string {
	if i.PID == 0 {
		return "another lab process (its lock info is not written yet)"
	}
	cmd := i.Command
	if cmd == "" {
		cmd = "lab"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "`%s` (pid %d", cmd, i.PID)
	if i.Host != "" {
		fmt.Fprintf(&b, " on %s", i.Host)
	}
	if i.User != "" {
		fmt.Fprintf(&b, " as %s", i.User)
	}
	if !i.Created.IsZero() {
		fmt.Fprintf(&b, ", since %s", i.Created.Local().Format(time.TimeOnly))
	}
	if i.ID != "" {
		fmt.Fprintf(&b, ", lock ID %s", i.ID)
	}
	b.WriteString(")")
	return b.String()
}

// HeldLock is the state lock, held until Unlock.
type HeldLock struct {
	Info LockInfo
	// Stale is the lock info a previous holder left behind when it died
	// without unlocking (killed, crashed, machine reset), or nil. The lock
	// was free, so taking it is safe; the UI should say the previous run
	// died and its state holds what it applied before.
	Stale *LockInfo

	path string
	file *os.File
}

// LockedError is returned when another process holds the lock.
type LockedError struct {
	Path string
	// Info is the holder's, as far as it could be read; zero if the holder
	// had not written it yet.
	Info    LockInfo
	Waited  time.Duration
	Timeout bool // waited for the timeout, not only tried once
}

func (e *LockedError) Error() string {
	holder := e.Info.holder()
	if e.Timeout {
		return fmt.Sprintf("state is still locked after %s by %s; wait for it to finish or use a longer -lock-timeout (lock file %s)",
			e.Waited.Round(time.Second), holder, e.Path)
	}
	msg := fmt.Sprintf("state is locked by %s; wait for it or use -lock-timeout (lock file %s)", holder, e.Path)
	if e.Info.ID != "" {
		// The OS releases the lock when its holder dies, so a refusal
		// means the holder lives: only a hung one needs force.
		msg += fmt.Sprintf(". If that process hangs, stop it (the lock goes with it) or run `lab force-unlock %s`", e.Info.ID)
	}
	return msg
}

// Lock takes the lock on dir/state.lock, creating dir (0700) if needed.
// With timeout 0 it fails at once with a *LockedError if another process
// holds it; otherwise it retries until the timeout. Empty fields of info
// are filled in (ID, PID, Host, User, Created).
//
// The lock is an OS file lock (flock), so the kernel releases it when the
// holder dies: a killed lab never leaves a lock that blocks.
func Lock(dir string, info LockInfo, timeout time.Duration) (*HeldLock, error) {
	return LockContext(context.Background(), dir, info, timeout)
}

// LockContext is Lock that also stops waiting when ctx is done.
func LockContext(ctx context.Context, dir string, info LockInfo, timeout time.Duration) (*HeldLock, error) {
	fill(&info)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("lock state: %w", err)
	}
	path := filepath.Join(dir, LockFileName)
	start := time.Now()
	delay := 50 * time.Millisecond
	for {
		l, holder, err := tryLock(path, info)
		if err != nil || l != nil {
			return l, err
		}
		waited := time.Since(start)
		if waited >= timeout {
			return nil, &LockedError{Path: path, Info: holder, Waited: waited, Timeout: timeout > 0}
		}
		t := time.NewTimer(min(delay, timeout-waited))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("waiting for the state lock %s held by %s: %w", path, holder.holder(), ctx.Err())
		case <-t.C:
		}
		delay = min(delay*2, time.Second)
	}
}

func fill(info *LockInfo) {
	if info.ID == "" {
		info.ID = newID()
	}
	if info.PID == 0 {
		info.PID = os.Getpid()
	}
	if info.Host == "" {
		info.Host, _ = os.Hostname()
	}
	if info.User == "" {
		if u, err := user.Current(); err == nil {
			info.User = u.Username
		}
	}
	if info.Created.IsZero() {
		info.Created = time.Now()
	}
	info.Created = info.Created.Round(0)
}

// tryLock makes one attempt. It returns the lock, or nil and the holder's
// info when another process holds it.
func tryLock(path string, info LockInfo) (*HeldLock, LockInfo, error) {
	for {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			return nil, LockInfo{}, fmt.Errorf("lock state: %w", err)
		}
		held, err := flock(f)
		if err != nil {
			_ = f.Close()
			return nil, LockInfo{}, fmt.Errorf("lock state %s: %w", path, err)
		}
		if !held {
			_ = f.Close()
			return nil, readHolder(path), nil
		}
		// The previous holder may have removed the file (Unlock,
		// ForceUnlock) between our open and our flock: then we locked a
		// file nobody else will ever look at, and must start over.
		fi, err1 := f.Stat()
		pi, err2 := os.Stat(path)
		if err1 != nil || err2 != nil || !os.SameFile(fi, pi) {
			_ = f.Close()
			continue
		}
		l := &HeldLock{Info: info, path: path, file: f}
		if prev, ok := readInfo(f); ok {
			l.Stale = &prev
		}
		data, _ := json.MarshalIndent(info, "", "  ")
		data = append(data, '\n')
		if err := f.Truncate(0); err == nil {
			_, err = f.WriteAt(data, 0)
		}
		if err != nil {
			_ = f.Close()
			return nil, LockInfo{}, fmt.Errorf("lock state: write lock info %s: %w", path, err)
		}
		return l, LockInfo{}, nil
	}
}

// readInfo reads the info left in a lock file; ok is false when there is
// none. Unreadable content still counts, as a zero LockInfo.
func readInfo(f *os.File) (LockInfo, bool) {
	fi, err := f.Stat()
	if err != nil || fi.Size() == 0 {
		return LockInfo{}, false
	}
	data := make([]byte, min(fi.Size(), 64<<10))
	n, _ := f.ReadAt(data, 0)
	var info LockInfo
	_ = json.Unmarshal(data[:n], &info)
	return info, true
}

// readHolder reads the holder's info. A holder writes it just after taking
// the lock, so an empty or half-written file is retried briefly.
func readHolder(path string) LockInfo {
	for range 5 {
		data, err := os.ReadFile(path)
		var info LockInfo
		if err == nil && json.Unmarshal(data, &info) == nil && info.PID != 0 {
			return info
		}
		time.Sleep(10 * time.Millisecond)
	}
	return LockInfo{}
}

// Unlock releases the lock and removes the lock file.
func (l *HeldLock) Unlock() error {
	if l == nil || l.file == nil {
		return nil
	}
	f := l.file
	l.file = nil
	// Remove the file while still holding the lock, and only if it is still
	// ours: after a force-unlock it may be another process's by now.
	var rmErr error
	fi, err1 := f.Stat()
	pi, err2 := os.Stat(l.path)
	if err1 == nil && err2 == nil && os.SameFile(fi, pi) {
		if err := os.Remove(l.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			rmErr = fmt.Errorf("unlock state: %w", err)
		}
	}
	if err := f.Close(); err != nil && rmErr == nil {
		rmErr = fmt.Errorf("unlock state %s: %w", l.path, err)
	}
	return rmErr
}

// ForceUnlock removes the lock file in dir if it names the lock id, for
// `lab force-unlock ID` when a holder hangs. The holder, if still running,
// is not stopped and can no longer keep others out.
func ForceUnlock(dir, id string) error {
	path := filepath.Join(dir, LockFileName)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("state is not locked: no lock file %s", path)
	}
	if err != nil {
		return fmt.Errorf("force-unlock: %w", err)
	}
	var info LockInfo
	if len(strings.TrimSpace(string(data))) == 0 || json.Unmarshal(data, &info) != nil {
		return fmt.Errorf("force-unlock: the lock file %s holds no readable lock info; if no lab process is running, delete it", path)
	}
	if info.ID != id {
		return fmt.Errorf("force-unlock: lock ID %q does not match the lock held by %s; pass that ID", id, info.holder())
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("force-unlock: %w", err)
	}
	return nil
}
