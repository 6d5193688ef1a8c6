package main

import "github.com/spf13/cobra"

// commands lists lab's subcommands; each lives in its own file.
func (a *app) commands() []*cobra.Command {
	return []*cobra.Command{
		a.versionCmd(),
	}
}
