// Command lab-helm is the helm worker of lab's helm_release: it serves one
// JSON request on stdin (plan, apply or delete of one release) and answers
// on stdout, with progress events on stderr. It exists so that only this
// process, not every lab command, pays for linking helm.
package main

import (
	"os"

	"labs.dev/lab/providers/helm/worker"
)

func main() {
	os.Exit(worker.Main(os.Stdin, os.Stdout, os.Stderr))
}
