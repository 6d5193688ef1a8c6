package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"labs.dev/lab/lab/plan"
)

func (a *app) graphCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "graph",
		Short: "Print the resource dependency graph in DOT (pipe it to `dot -Tsvg`)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			v := a.views.Graph()
			cfg, err := a.load()
			if err != nil {
				return err
			}
			g, diags := plan.Graph(cfg)
			if diags.HasErrors() {
				a.views.Explain(cfg, diags)
				return fmt.Errorf("%s has a dependency cycle", a.displayPath(cfg))
			}
			if err := a.checkOffline(cfg); err != nil {
				return err
			}
			v.Graph(g.DOT())
			return nil
		},
	}
	a.varFlags(cmd.Flags())
	return cmd
}
