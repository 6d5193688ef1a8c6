package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"github.com/zclconf/go-cty/cty"

	"labs.dev/lab/lab/config"
	"labs.dev/lab/lab/reset"
	"labs.dev/lab/lab/resource"
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
				if a.output == "json" {
					a.writeJSON(res)
				} else {
					verb := "deleted"
					if dryRun {
						verb = "would delete"
					}
					for _, r := range res.Deleted {
						fmt.Fprintf(a.stdout, "%s %s\n", verb, r)
					}
					fmt.Fprintf(a.stdout, "Reset %s: %s %d object(s) in namespace %s.\n", res.Lab, verb, len(res.Deleted), strings.Join(res.Namespaces, ", "))
				}
			}
			return err
		},
	}
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "list what would be deleted, delete nothing")
	a.varFlags(cmd.Flags())
	return cmd
}

// resetOptions tells reset what the lab file made, for lab reset and for
// lab test's look for a used environment.
func (a *app) resetOptions(cfg *config.Config, dryRun bool) reset.Options {
	return reset.Options{Owner: resource.NewOwner(cfg.File), HelmReleases: helmReleases(cfg, a.known), DryRun: dryRun}
}

// helmReleases are the lab file's helm release names and namespaces (""
// when not applied yet), so reset keeps their objects and storage.
func helmReleases(cfg *config.Config, known map[resource.Addr]cty.Value) map[string]string {
	out := map[string]string{}
	ctx, _ := cfg.EvalContext(known)
	for _, r := range cfg.Resources {
		hr, ok := r.Kind.(resource.HelmRelease)
		if !ok {
			continue
		}
		v, diags := r.Decode(ctx)
		if diags.HasErrors() {
			continue
		}
		v, _ = v.UnmarkDeep()
		if name, ns := hr.Release(v); name != "" {
			out[name] = ns
		}
	}
	return out
}
