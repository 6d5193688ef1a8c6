package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

func (a *app) showCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "show <lab>",
		Short: "Show a lab's task, as the learner reads it",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			_, labs, err := a.labs(args)
			if err != nil {
				return err
			}
			l := labs[0]
			title, task := oneLineEnding(l.Title), oneLineEnding(l.Task)
			if a.output == "json" {
				var checks []string
				for _, c := range l.Checks {
					checks = append(checks, c.Name)
				}
				a.writeJSON(map[string]any{"name": l.Name, "title": title, "task": task, "namespaces": l.Namespaces, "checks": checks})
				return nil
			}
			if title == "" {
				title = l.Name
			}
			fmt.Fprintf(a.stdout, "%s\n%s\n\n", title, strings.Repeat("=", len([]rune(title))))
			task = strings.TrimRight(task, "\n")
			if task == "" {
				task = "(This lab has no task text.)"
			}
			fmt.Fprintf(a.stdout, "%s\n\nCheck your work with: lab verify %s\n", task, l.Name)
			return nil
		},
	}
	a.varFlags(cmd.Flags())
	return cmd
}

// oneLineEnding turns CRLF and lone CR line endings (a lab file saved on
// Windows) into LF, so a terminal does not show stray carriage returns.
func oneLineEnding(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\r", "\n")
}
