package main

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"syscall"
	"testing"

	"github.com/spf13/cobra"
)

func TestTerraformStyleFlags(t *testing.T) {
	a := &app{}
	root := a.rootCmd()
	for _, tc := range []struct{ in, want []string }{
		{[]string{"plan", "-detailed-exitcode", "-out=p"}, []string{"plan", "--detailed-exitcode", "--out=p"}},
		{[]string{"-chdir", "x", "up", "-var", "a=b"}, []string{"--chdir", "x", "up", "--var", "a=b"}},
		{[]string{"-o", "json", "-f", "x.hcl", "validate"}, []string{"-o", "json", "-f", "x.hcl", "validate"}},
		{[]string{"apply", "-auto-approve", "--", "-var"}, []string{"apply", "--auto-approve", "--", "-var"}},
		{[]string{"up", "-bogus"}, []string{"up", "-bogus"}},
	} {
		if got := terraformStyle(root, tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("terraformStyle(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestExitCodes: a command's own failure is 1, or 2 for the commands
// whose 1 says the learner's work is wrong; an exitError carries its
// code through any wrapping; a signal decides over both.
func TestExitCodes(t *testing.T) {
	plain := &cobra.Command{Use: "list"}
	checks := annotate(&cobra.Command{Use: "verify"}, checksWork)
	wrapped := fmt.Errorf("verify: %w", exit(exitFailed, nil))
	for _, tc := range []struct {
		name string
		cmd  *cobra.Command
		err  error
		sig  os.Signal
		want int
	}{
		{"a failure", plain, errors.New("no lab file"), nil, exitFailed},
		{"could not check", checks, errors.New("cluster unreachable"), nil, exitNotChecked},
		{"a check failed", checks, wrapped, nil, exitFailed},
		{"fmt -check", plain, exit(exitUnformatted, nil), nil, exitUnformatted},
		{"no command", nil, errors.New(`unknown command "nope"`), nil, exitFailed},
		{"terminal closed", checks, wrapped, syscall.SIGHUP, exitSIGHUP},
		{"Ctrl-C", plain, errors.New("cancelled"), os.Interrupt, exitSIGINT},
	} {
		var ee *exitError
		errors.As(tc.err, &ee)
		if got := codeFor(tc.cmd, ee, tc.sig); got != tc.want {
			t.Errorf("%s: exit %d, want %d", tc.name, got, tc.want)
		}
	}
}
