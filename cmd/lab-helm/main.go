// Command lab-helm is the helm worker of lab's helm_release: it serves one
// JSON request on stdin (plan, apply or delete of one release) and answers
// on stdout, with progress events on stderr; with -serve, every release of
// a lab command in one process (providers/helm/wire.Envelope). It exists
// so that only this process, not every lab command, pays for linking helm.
package main

import (
	"os"
	"syscall"
	"time"

	"labs.dev/lab/providers/helm/worker"
)

func main() {
	watchParent()
	if len(os.Args) > 1 && os.Args[1] == "-serve" {
		os.Exit(worker.ServeMain(os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(worker.Main(os.Stdin, os.Stdout, os.Stderr))
}

// watchParent ends the worker when the lab process that started it dies,
// where the kernel's parent-death signal does not reach (it follows the
// thread that started the worker, not the process): an orphan would race
// the next lab up on the same release.
func watchParent() {
	parent := os.Getppid()
	go func() {
		for range time.Tick(250 * time.Millisecond) {
			if os.Getppid() != parent {
				_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
			}
		}
	}()
}
