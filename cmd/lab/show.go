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
			if a.output == "json" {
				var checks []string
				for _, c := range l.Checks {
					checks = append(checks, c.Name)
				}
				a.writeJSON(map[string]any{"name": l.Name, "title": l.Title, "task": l.Task, "namespaces": l.Namespaces, "checks": checks})
				return nil
			}
			title := l.Title
			if title == "" {
				title = l.Name
			}
			fmt.Fprintf(a.stdout, "%s\n%s\n\n", title, strings.Repeat("=", len([]rune(title))))
			task := strings.TrimRight(l.Task, "\n")
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
