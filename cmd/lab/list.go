package main

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"
)

func (a *app) listCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the labs of the lab file with their titles",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			_, labs, err := a.labs(nil)
			if err != nil {
				return err
			}
			if a.output == "json" {
				type item struct {
					Name       string   `json:"name"`
					Title      string   `json:"title,omitempty"`
					Checks     int      `json:"checks"`
					Namespaces []string `json:"namespaces,omitempty"`
				}
				out := []item{}
				for _, l := range labs {
					out = append(out, item{Name: l.Name, Title: l.Title, Checks: len(l.Checks), Namespaces: l.Namespaces})
				}
				a.writeJSON(out)
				return nil
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			for _, l := range labs {
				fmt.Fprintf(tw, "%s\t%s\n", l.Name, l.Title)
			}
			return tw.Flush()
		},
	}
	a.varFlags(cmd.Flags())
	return cmd
}
