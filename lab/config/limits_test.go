package config

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// Each of these crashed, hung or ate gigabytes before the limits.
func TestHostileSourceRefused(t *testing.T) {
	bomb := "a: &a [x,x,x,x,x,x,x,x,x]\n"
	for i, prev := range "abcdefgh" {
		name := string("bcdefghi"[i])
		bomb += fmt.Sprintf("%s: &%s [*%c,*%c,*%c,*%c,*%c,*%c,*%c,*%c,*%c]\n", name, name, prev, prev, prev, prev, prev, prev, prev, prev, prev)
	}
	for _, tc := range []struct {
		name, src, want string
		vars            []string
	}{
		{"deep objects", "locals {\n  x = " + strings.Repeat("{a=", 50000) + "1" + strings.Repeat("}", 50000) + "\n}\n", "labs.hcl:2: Nesting too deep", nil},
		{"deep templates", "locals {\n  x = \"" + strings.Repeat(`${"`, 50000) + strings.Repeat(`"}`, 50000) + "\"\n}\n", "labs.hcl:2: Nesting too deep", nil},
		{"deep -var value", "variable \"v\" {\n  type = list(any)\n}\n", "nest more than 100 levels", []string{"v=" + strings.Repeat("[", 50000) + strings.Repeat("]", 50000)}},
		{"yamldecode bomb", "locals {\n  x = yamldecode(<<EOT\n" + bomb + "EOT\n  )\n}\n", "labs.hcl:3: Invalid function argument", nil},
		{"a local that cannot be evaluated", "locals {\n  a = 1\n  b = local.a + \"x\"\n}\n", "labs.hcl:3: Invalid operand", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			_, diags := load(t, tc.src, Options{Vars: tc.vars})
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("Load took %s", d)
			}
			if !diags.HasErrors() {
				t.Fatal("Load accepted it")
			}
			got := ""
			for _, d := range diags {
				if d.Subject != nil {
					got += fmt.Sprintf("%s:%d: ", d.Subject.Filename, d.Subject.Start.Line)
				}
				got += d.Summary + ": " + d.Detail + "\n"
			}
			if !strings.Contains(got, tc.want) {
				t.Errorf("diagnostics:\n%s\nwant one containing %q", got, tc.want)
			}
		})
	}
}

// 100 000 locals, each using the one before, load in linear time; they
// took minutes when each saw an object of every local before it.
func TestManyLocalsLinear(t *testing.T) {
	var b strings.Builder
	b.WriteString("locals {\n  x0 = 1\n")
	for i := 1; i < 100000; i++ {
		fmt.Fprintf(&b, "  x%d = local.x%d + 1\n", i, i-1)
	}
	b.WriteString("}\n")
	start := time.Now()
	_, diags := load(t, b.String(), Options{})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("Load of 100000 locals took %s", d)
	}
}

func TestLocalsInCycleReportedOnce(t *testing.T) {
	_, diags := load(t, "locals {\n  c = local.d\n  d = local.c\n}\n", Options{})
	if len(diags) != 1 || diags[0].Summary != "Cycle in local values" {
		t.Errorf("diagnostics: %v, want only the cycle", diags)
	}
}
