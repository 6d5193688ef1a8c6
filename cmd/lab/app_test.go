package main

import (
	"slices"
	"testing"
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
