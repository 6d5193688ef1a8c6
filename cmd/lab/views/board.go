package views

import (
	"encoding/json"
	"fmt"
	"time"
)

// Board is lab board's view.
type Board interface {
	// Serving says where the page is, once it can be loaded.
	Serving(url string, every time.Duration)
}

func (h human) Board() Board   { return boardHuman{h.view} }
func (m machine) Board() Board { return boardJSON{m.view} }

type (
	boardHuman struct{ v *view }
	boardJSON  struct{ v *view }
)

func (x boardHuman) Serving(url string, every time.Duration) {
	fmt.Fprintf(x.v.out, "lab board: %s (read again every %s; Ctrl-C stops it)\n", url, every)
}

// Serving is an event on stderr, so a program can read the address
// while the board runs.
func (x boardJSON) Serving(url string, every time.Duration) {
	b, _ := json.Marshal(map[string]any{"type": "serving", "url": url, "every_seconds": every.Seconds()})
	fmt.Fprintln(x.v.err, string(b))
}
