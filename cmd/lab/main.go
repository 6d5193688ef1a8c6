// Command lab provisions Kubernetes workshop environments from labs.hcl and
// checks the learner's work. See README.md for the commands and exit codes.
package main

import (
	"math"
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
	if gcUntuned() {
		debug.SetGCPercent(-1)
		debug.SetMemoryLimit(gcLimit)
	}
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// gcUntuned reports that the user left GOGC and GOMEMLIMIT alone.
func gcUntuned() bool { return os.Getenv("GOGC") == "" && os.Getenv("GOMEMLIMIT") == "" }

// serverGC gives a command that runs until stopped (lab board) Go's usual
// collector back, so its heap does not sit at the soft limit.
func serverGC() {
	if gcUntuned() {
		debug.SetGCPercent(100)
		debug.SetMemoryLimit(math.MaxInt64)
	}
}
