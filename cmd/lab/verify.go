package main

import (
	"time"

	"github.com/spf13/cobra"

	"labs.dev/lab/lab/verify"
)

func (a *app) verifyCmd() *cobra.Command {
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "verify [<lab>...]",
		Short: "Check the learner's work: every check of the named labs (all labs if none)",
		Long: `verify runs the checks of the named labs (all labs if none) against the
live cluster, in parallel, retrying each until it passes or its timeout
ends. It only reads the cluster.

Exit codes: 0 every check passed, 1 a check failed, 2 could not check
(bad lab file, bad flag or value, cluster unreachable, not allowed to read).`,
		RunE: func(cmd *cobra.Command, args []string) error {
			v := a.views.Verify()
			cfg, labs, err := a.labs(args)
			if err != nil {
				return err
			}
			client, err := a.cluster(cfg)
			if err != nil {
				return err
			}
			res := verify.Run(cmd.Context(), labs, verify.Options{Source: verify.NewCluster(client), Timeout: timeout})
			if err := v.Result(res); err != nil {
				return err
			}
			if code := res.ExitCode(); code != exitOK {
				return exit(code, nil)
			}
			return nil
		},
	}
	cmd.Flags().DurationVar(&timeout, "timeout", 0, "how long each check retries before it fails (default: the check's timeout, else 10s)")
	a.varFlags(cmd.Flags())
	return annotate(cmd, checksWork, junitReport)
}
