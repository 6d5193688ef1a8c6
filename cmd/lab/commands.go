package main

import "github.com/spf13/cobra"

// commands lists lab's subcommands; each lives in its own file.
func (a *app) commands() []*cobra.Command {
	return []*cobra.Command{
		a.upCmd(), a.downCmd(),
		a.planCmd(), a.applyCmd(), a.destroyCmd(),
		a.validateCmd(), a.fmtCmd(), a.graphCmd(), a.statusCmd(), a.outputCmd(),
		a.forceUnlockCmd(), a.versionCmd(), a.doctorCmd(),
		a.verifyCmd(), a.boardCmd(), a.listCmd(), a.showCmd(), a.testCmd(), a.resetCmd(),
		a.docCmd(), a.envCmd(),
	}
}
