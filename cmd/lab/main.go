// Command lab provisions Kubernetes workshop environments from labs.hcl and
// checks the learner's work. See README.md for the commands and exit codes.
package main

import (
	"os"
	"runtime/debug"
)

// gcLimit is the heap size at which lab's collector first runs.
const gcLimit = 128 << 20

func main() {
	// Most lab commands end within tens of milliseconds, long before a
	// collection frees anything worth having, and starting one costs a
	// third of `lab verify` (docs/benchmarks.md). So the collector waits
	// for a soft heap limit instead, unless the user tuned it.
	if os.Getenv("GOGC") == "" && os.Getenv("GOMEMLIMIT") == "" {
		debug.SetGCPercent(-1)
		debug.SetMemoryLimit(gcLimit)
	}
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
