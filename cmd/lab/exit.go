package main

import (
	"fmt"
	"os"
	"syscall"

	"github.com/spf13/cobra"
)

// Exit codes, documented in README.md.
const (
	exitOK          = 0
	exitFailed      = 1 // a command failed; verify: a check failed
	exitChanges     = 2 // plan -detailed-exitcode: there are changes
	exitNotChecked  = 2 // verify, test, doctor, doc test: could not check
	exitUnformatted = 3 // fmt -check: a file is not formatted
	exitSIGHUP      = 129
	exitSIGINT      = 130
	exitSIGTERM     = 143
)

// exitError ends lab with a code of its own. err is nil when the
// command's view already said what happened.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit %d", e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

// exit returns an error that makes lab exit with code.
func exit(code int, err error) error { return &exitError{code: code, err: err} }

// Annotations of a command that decide its exit codes and formats.
const (
	// checksWork marks a command whose exit code 1 says the work is wrong
	// (a check failed, an output differs, lab up would fail): any other
	// failure — a bad flag or lab file, a cluster that does not answer —
	// is 2, "could not check", so a script never reads it as the
	// learner's mistake.
	checksWork = "lab.checks-work"
	// junitReport marks a command that writes JUnit for -o junit.
	junitReport = "lab.junit"
)

func annotate(cmd *cobra.Command, keys ...string) *cobra.Command {
	if cmd.Annotations == nil {
		cmd.Annotations = map[string]string{}
	}
	for _, k := range keys {
		cmd.Annotations[k] = "true"
	}
	return cmd
}

func writesJUnit(cmd *cobra.Command) bool { return cmd != nil && cmd.Annotations[junitReport] != "" }

// codeFor is lab's exit code when cmd failed: the signal that stopped
// it, else the code ee carries, else the command's code for a failure.
func codeFor(cmd *cobra.Command, ee *exitError, sig os.Signal) int {
	switch {
	case sig != nil:
		return signalCode(sig)
	case ee != nil:
		return ee.code
	case cmd != nil && cmd.Annotations[checksWork] != "":
		return exitNotChecked
	}
	return exitFailed
}

// signalCode is the exit code for a run ended by sig, as a shell reports
// a process killed by it: 128 + the signal's number.
func signalCode(sig os.Signal) int {
	switch sig {
	case syscall.SIGHUP:
		return exitSIGHUP
	case syscall.SIGTERM:
		return exitSIGTERM
	}
	return exitSIGINT
}
