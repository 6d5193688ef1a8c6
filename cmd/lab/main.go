// Command lab provisions Kubernetes workshop environments from labs.hcl and
// checks the learner's work. See README.md for the commands and exit codes.
package main

import "os"

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
