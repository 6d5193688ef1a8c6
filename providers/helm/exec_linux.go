package helm

import "syscall"

// workerAttr makes the kernel kill a worker whose lab process died (kill
// -9, a crash): an orphan would go on installing while the next lab up
// works on the same release. Killed at once, it leaves the release
// pending, which the next apply marks failed and upgrades.
func workerAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
