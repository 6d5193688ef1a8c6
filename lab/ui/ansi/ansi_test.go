package ansi

import "testing"

func TestWanted(t *testing.T) {
	for _, tc := range []struct {
		name     string
		env      map[string]string
		terminal bool
		want     bool
	}{
		{"terminal", map[string]string{"TERM": "xterm-256color"}, true, true},
		{"terminal without TERM", nil, true, true},
		{"not a terminal", map[string]string{"TERM": "xterm"}, false, false},
		{"NO_COLOR", map[string]string{"TERM": "xterm", "NO_COLOR": "1"}, true, false},
		{"TERM=dumb", map[string]string{"TERM": "dumb"}, true, false},
	} {
		getenv := func(k string) string { return tc.env[k] }
		if got := Wanted(getenv, tc.terminal); got != tc.want {
			t.Errorf("%s: Wanted = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestStyle(t *testing.T) {
	if got := (Style{}).Red("x"); got != "x" {
		t.Errorf("plain Red = %q", got)
	}
	if got := (Style{Color: true}).Red("x"); got != "\x1b[31mx\x1b[0m" {
		t.Errorf("coloured Red = %q", got)
	}
}
