package views

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"labs.dev/lab/lab/verify"
)

// List is lab list's view.
type List interface {
	Labs(labs []*verify.Lab) error
}

// Show is lab show's view: a lab's task as the learner reads it.
type Show interface{ Lab(l *verify.Lab) }

func (h human) List() List   { return listHuman{h.view} }
func (m machine) List() List { return listJSON{m.view} }
func (h human) Show() Show   { return showHuman{h.view} }
func (m machine) Show() Show { return showJSON{m.view} }

type (
	listHuman struct{ v *view }
	listJSON  struct{ v *view }
	showHuman struct{ v *view }
	showJSON  struct{ v *view }
)

func (x listHuman) Labs(labs []*verify.Lab) error {
	v := x.v
	tw := tabwriter.NewWriter(v.out, 0, 4, 2, ' ', 0)
	for _, l := range labs {
		fmt.Fprintf(tw, "%s\t%s\n", l.Address(), l.Title)
	}
	return tw.Flush()
}

func (x listJSON) Labs(labs []*verify.Lab) error {
	v := x.v
	type item struct {
		Name       string   `json:"name"`
		Learner    string   `json:"learner,omitempty"`
		Title      string   `json:"title,omitempty"`
		Checks     int      `json:"checks"`
		Namespaces []string `json:"namespaces,omitempty"`
	}
	out := []item{}
	for _, l := range labs {
		out = append(out, item{Name: l.Name, Learner: l.Learner(), Title: l.Title, Checks: len(l.Checks), Namespaces: l.Namespaces})
	}
	v.writeJSON(out)
	return nil
}

func (x showHuman) Lab(l *verify.Lab) {
	v := x.v
	title, task := oneLineEnding(l.Title), oneLineEnding(l.Task)
	if title == "" {
		title = l.Name
	}
	fmt.Fprintf(v.out, "%s\n%s\n\n", title, strings.Repeat("=", len([]rune(title))))
	task = strings.TrimRight(task, "\n")
	if task == "" {
		task = "(This lab has no task text.)"
	}
	fmt.Fprintf(v.out, "%s\n\nCheck your work with: lab verify %s\n", task, l.Name)
}

func (x showJSON) Lab(l *verify.Lab) {
	v := x.v
	var checks []string
	for _, c := range l.Checks {
		checks = append(checks, c.Name)
	}
	v.writeJSON(map[string]any{"name": l.Name, "title": oneLineEnding(l.Title), "task": oneLineEnding(l.Task), "namespaces": l.Namespaces, "checks": checks})
}

// oneLineEnding turns CRLF and lone CR line endings (a lab file saved on
// Windows) into LF, so a terminal does not show stray carriage returns.
func oneLineEnding(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\r", "\n")
}
