package main

import "github.com/spf13/cobra"

func (a *app) listCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the labs of the lab file with their titles",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			v := a.views.List()
			_, labs, err := a.labs(nil)
			if err != nil {
				return err
			}
			return v.Labs(labs)
		},
	}
	a.varFlags(cmd.Flags())
	return cmd
}
