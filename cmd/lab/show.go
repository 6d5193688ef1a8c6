package main

import "github.com/spf13/cobra"

func (a *app) showCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "show <lab>",
		Short: "Show a lab's task, as the learner reads it",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			v := a.views.Show()
			_, labs, err := a.labs(args)
			if err != nil {
				return err
			}
			v.Lab(labs[0])
			return nil
		},
	}
	a.varFlags(cmd.Flags())
	return cmd
}
