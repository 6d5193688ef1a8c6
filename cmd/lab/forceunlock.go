package main

import (
	"github.com/spf13/cobra"

	"labs.dev/lab/lab/state"
)

func (a *app) forceUnlockCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "force-unlock LOCK_ID",
		Short: "Remove a state lock left by a lab process that died (the ID is in the lock error)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			v := a.views.ForceUnlock()
			cfg, err := a.load()
			if err != nil {
				return err
			}
			if err := state.ForceUnlock(stateDir(cfg), args[0]); err != nil {
				return err
			}
			v.Unlocked()
			return nil
		},
	}
}
