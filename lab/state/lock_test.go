//go:build unix

package state

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

const helperEnv = "LAB_STATE_TEST_HOLD_LOCK"

// TestMain doubles as a helper process that takes the lock in the directory
// named by $LAB_STATE_TEST_HOLD_LOCK, says "locked" and sleeps until killed.
func TestMain(m *testing.M) {
	if dir := os.Getenv(helperEnv); dir != "" {
		l, err := Lock(dir, LockInfo{Command: "lab up"}, 0)
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		fmt.Println("locked", l.Info.ID)
		time.Sleep(time.Minute)
		os.Exit(2)
	}
	os.Exit(m.Run())
}

// holdInChild starts a process holding the lock on dir and returns it once
// it holds it.
func holdInChild(t *testing.T, dir string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	if !strings.HasPrefix(line, "locked ") {
		t.Fatalf("helper process: %q, %v", line, err)
	}
	return cmd
}

func TestLockTwiceInOneProcess(t *testing.T) {
	dir := filepath.Join(t.TempDir(), ".lab")
	first, err := Lock(dir, LockInfo{Command: "lab up"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if first.Stale != nil {
		t.Fatalf("fresh lock reports a stale one: %+v", first.Stale)
	}
	if first.Info.PID != os.Getpid() || first.Info.ID == "" || first.Info.Host == "" || first.Info.Created.IsZero() {
		t.Fatalf("lock info not filled in: %+v", first.Info)
	}
	if fi, err := os.Stat(filepath.Join(dir, LockFileName)); err != nil || fi.Mode() != 0o600 {
		t.Fatalf("lock file: %v, %v", fi, err)
	}

	start := time.Now()
	_, err = Lock(dir, LockInfo{Command: "lab down"}, 0)
	var locked *LockedError
	if !errors.As(err, &locked) {
		t.Fatalf("second Lock: %v, want a *LockedError", err)
	}
	if time.Since(start) > time.Second {
		t.Errorf("second Lock with timeout 0 took %v", time.Since(start))
	}
	if got, want := locked.Info, first.Info; got.ID != want.ID || got.PID != want.PID || got.Command != want.Command ||
		got.Host != want.Host || got.User != want.User || !got.Created.Equal(want.Created) {
		t.Errorf("LockedError info %+v, want the holder's %+v", locked.Info, first.Info)
	}
	msg := err.Error()
	for _, want := range []string{"state is locked by `lab up`", fmt.Sprintf("pid %d", os.Getpid()), first.Info.Created.Format(time.TimeOnly), "-lock-timeout", first.Info.ID} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not contain %q", msg, want)
		}
	}

	if err := first.Unlock(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, LockFileName)); !os.IsNotExist(err) {
		t.Errorf("lock file after Unlock: %v", err)
	}
	if err := first.Unlock(); err != nil {
		t.Errorf("second Unlock: %v", err)
	}
	second, err := Lock(dir, LockInfo{Command: "lab down"}, 0)
	if err != nil {
		t.Fatalf("Lock after Unlock: %v", err)
	}
	if second.Stale != nil {
		t.Errorf("Lock after a clean Unlock reports a stale lock: %+v", second.Stale)
	}
	second.Unlock()
}

func TestLockWaits(t *testing.T) {
	dir := t.TempDir()
	first, err := Lock(dir, LockInfo{Command: "lab up"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		time.Sleep(200 * time.Millisecond)
		first.Unlock()
	}()
	start := time.Now()
	second, err := Lock(dir, LockInfo{Command: "lab down"}, 10*time.Second)
	if err != nil {
		t.Fatalf("Lock with a timeout: %v", err)
	}
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Errorf("got the lock after %v, before the holder unlocked", d)
	}
	defer second.Unlock()

	start = time.Now()
	_, err = Lock(dir, LockInfo{}, 300*time.Millisecond)
	var locked *LockedError
	if !errors.As(err, &locked) || !locked.Timeout || !strings.Contains(err.Error(), "still locked after") {
		t.Fatalf("Lock timing out: %v", err)
	}
	if d := time.Since(start); d < 300*time.Millisecond || d > 2*time.Second {
		t.Errorf("timeout 300ms gave up after %v", d)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err = LockContext(ctx, dir, LockInfo{}, time.Minute)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("LockContext with a cancelled context: %v", err)
	}
}

// Many goroutines with their own open files race for the lock: exactly one
// holds it at any time, including around Unlock removing the file.
func TestLockExclusive(t *testing.T) {
	dir := t.TempDir()
	var holders, violations atomic.Int32
	done := make(chan error)
	for range 6 {
		go func() {
			for range 10 {
				l, err := Lock(dir, LockInfo{}, 10*time.Second)
				if err != nil {
					done <- err
					return
				}
				if l.Stale != nil {
					done <- fmt.Errorf("a clean handover reported a stale lock: %+v", l.Stale)
					return
				}
				if n := holders.Add(1); n != 1 {
					violations.Add(1)
				}
				time.Sleep(time.Millisecond)
				holders.Add(-1)
				if err := l.Unlock(); err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
	}
	for range 6 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	if n := violations.Load(); n != 0 {
		t.Fatalf("%d times more than one holder", n)
	}
}

func TestLockHeldByOtherProcess(t *testing.T) {
	dir := t.TempDir()
	child := holdInChild(t, dir)
	_, err := Lock(dir, LockInfo{Command: "lab down"}, 0)
	var locked *LockedError
	if !errors.As(err, &locked) {
		t.Fatalf("Lock while another process holds it: %v", err)
	}
	if locked.Info.PID != child.Process.Pid || locked.Info.Command != "lab up" {
		t.Fatalf("holder %+v, want pid %d running `lab up`", locked.Info, child.Process.Pid)
	}
}

func TestLockReleasedWhenHolderKilled(t *testing.T) {
	dir := t.TempDir()
	child := holdInChild(t, dir)
	pid := child.Process.Pid
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = child.Wait()

	l, err := Lock(dir, LockInfo{Command: "lab up"}, 0)
	if err != nil {
		t.Fatalf("Lock after the holder was killed: %v", err)
	}
	defer l.Unlock()
	if l.Stale == nil || l.Stale.PID != pid || l.Stale.Command != "lab up" {
		t.Fatalf("Stale = %+v, want the killed holder (pid %d)", l.Stale, pid)
	}
}

func TestForceUnlock(t *testing.T) {
	dir := t.TempDir()
	if err := ForceUnlock(dir, "x"); err == nil || !strings.Contains(err.Error(), "not locked") {
		t.Fatalf("ForceUnlock with no lock: %v", err)
	}
	hung, err := Lock(dir, LockInfo{Command: "lab up"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	err = ForceUnlock(dir, "wrong")
	if err == nil || !strings.Contains(err.Error(), hung.Info.ID) {
		t.Fatalf("ForceUnlock with the wrong ID: %v", err)
	}
	if _, err := Lock(dir, LockInfo{}, 0); err == nil {
		t.Fatal("lock free after a refused ForceUnlock")
	}
	if err := ForceUnlock(dir, hung.Info.ID); err != nil {
		t.Fatal(err)
	}
	next, err := Lock(dir, LockInfo{Command: "lab down"}, 0)
	if err != nil {
		t.Fatalf("Lock after ForceUnlock: %v", err)
	}
	// The hung holder finishing must not release the new holder's lock.
	if err := hung.Unlock(); err != nil {
		t.Fatal(err)
	}
	if _, err := Lock(dir, LockInfo{}, 0); err == nil {
		t.Fatal("the old holder's Unlock released the new holder's lock")
	}
	next.Unlock()
}
