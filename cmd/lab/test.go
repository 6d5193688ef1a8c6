package main

import (
	"time"

	"github.com/spf13/cobra"

	"labs.dev/lab/lab/labtest"
)

func (a *app) testCmd() *cobra.Command {
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "test [<lab>...]",
		Short: "Prove labs: checks fail on a fresh environment and pass on the reference solution",
		Long: `test proves each named lab (all labs if none) on the current cluster: its
checks must fail on the fresh environment; then the lab's solution is
applied (server-side apply), its checks must pass; then the solution is
removed. A lab whose checks pass before the solution or fail after it is
reported as broken.

Exit codes: 0 every lab proven, 1 a lab is broken, 2 could not test.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			v := a.views.Test()
			cfg, labs, err := a.labs(args)
			if err != nil {
				return err
			}
			client, err := a.cluster(cfg)
			if err != nil {
				return err
			}
			fresh := a.resetOptions(cfg, true)
			var results []*labtest.Result
			code := exitOK
			for _, l := range labs {
				// One lab at a time: labs may share namespaces and names.
				tr := labtest.Test(cmd.Context(), l, client, labtest.Options{Timeout: timeout, Progress: v.Step, Reset: &fresh})
				results = append(results, tr)
				switch {
				case tr.Err != nil:
					code = max(code, exitNotChecked)
				case tr.Broken:
					code = max(code, exitFailed)
				}
				v.Lab(tr)
				if cmd.Context().Err() != nil {
					break
				}
			}
			v.Results(results)
			if code != exitOK {
				return exit(code, nil)
			}
			return nil
		},
	}
	cmd.Flags().DurationVar(&timeout, "timeout", 0, "how long each check may take to pass on the solution (default: the check's timeout)")
	a.varFlags(cmd.Flags())
	return annotate(cmd, checksWork)
}
