package main

import (
	"github.com/spf13/cobra"

	"labs.dev/lab/lab/reset"
)

func (a *app) resetCmd() *cobra.Command {
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "reset <lab>",
		Short: "Remove what the learner created for a lab, keeping lab's own objects",
		Long: `reset deletes the objects in the lab's namespaces that lab did not create
(objects without lab's ownership labels, not owned by lab's objects, not
lab's helm releases, not the namespace's defaults), and lists them.
The cluster and everything lab up made stay.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			v := a.views.Reset()
			cfg, labs, err := a.labs(args)
			if err != nil {
				return err
			}
			client, err := a.connectReadOnly(cfg)
			if err != nil {
				return err
			}
			res, err := reset.Run(cmd.Context(), labs[0], client, a.resetOptions(cfg, dryRun))
			if res != nil {
				v.Result(res, dryRun)
			}
			return err
		},
	}
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "list what would be deleted, delete nothing")
	a.varFlags(cmd.Flags())
	return cmd
}
