package yamlguard

import (
	"strings"
	"testing"
	"time"
)

const bomb = `a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
`

func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		name, src, want string
	}{
		{"bomb", bomb, "document 1 (line 1) expands to more than 100000 YAML nodes"},
		{"bomb in the second document", "a: 1\n---\n" + bomb, "document 2 (line 3)"},
		{"a few aliases", "base: &b {x: 1}\none: *b\ntwo: *b\n", ""},
		{"no aliases", "a: [1, 2, 3]\nb: '*not an alias*'\n", ""},
		{"syntax error is the decoder's to report", "a: [\n", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			err := Check([]byte(tc.src), MaxNodes)
			if time.Since(start) > 2*time.Second {
				t.Errorf("Check took %s", time.Since(start))
			}
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("Check: %v, want nil", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("Check: %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// A big document with a few aliases is not a bomb.
func TestCheckBigDocumentFewAliases(t *testing.T) {
	src := "base: &b {x: 1}\nuse: *b\nitems:\n" + strings.Repeat("- a\n", 3*MaxNodes)
	if err := Check([]byte(src), MaxNodes); err != nil {
		t.Fatal(err)
	}
}
