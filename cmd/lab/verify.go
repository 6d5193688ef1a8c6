package main

import (
	"errors"
	"time"

	"github.com/spf13/cobra"

	"labs.dev/lab/lab/verify"
)

func (a *app) verifyCmd() *cobra.Command {
	var timeout time.Duration
	var learner string
	var allLearners bool
	cmd := &cobra.Command{
		Use:   "verify [<lab>...]",
		Short: "Check the learner's work: every check of the named labs (all labs if none)",
		Long: `verify runs the checks of the named labs (all labs if none) against the
live cluster, in parallel, retrying each until it passes or its timeout
ends. It only reads the cluster.

A lab block with for_each or count is one lab per learner:
--learner NAME checks that learner's only, and --all-learners checks
every learner once and prints a table of learners by checks, reading
each kind of object once across all their namespaces (the view
ClusterRole is enough).

Exit codes: 0 every check passed, 1 a check failed, 2 could not check
(bad lab file, bad flag or value, cluster unreachable, not allowed to read).`,
		RunE: func(cmd *cobra.Command, args []string) error {
			v := a.views.Verify()
			if learner != "" && allLearners {
				return exit(exitNotChecked, errors.New("--learner and --all-learners exclude each other: check one learner, or all of them"))
			}
			cfg, labs, err := a.labs(args)
			if err != nil {
				return err
			}
			if learner != "" || allLearners {
				if labs, err = a.learnerLabs(cfg, labs, learner); err != nil {
					return err
				}
			}
			client, err := a.cluster(cfg)
			if err != nil {
				return err
			}
			src := verify.NewCluster(client)
			opts := verify.Options{Source: src, Timeout: timeout}
			if allLearners {
				// A snapshot of the room: one list per kind, no retries.
				src.AllNamespaces, opts.Once = true, true
				res := verify.Run(cmd.Context(), labs, opts)
				if err := v.Learners(res); err != nil {
					return err
				}
				if code := res.ExitCode(); code != exitOK {
					return exit(code, nil)
				}
				return nil
			}
			res := verify.Run(cmd.Context(), labs, opts)
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
	cmd.Flags().StringVar(&learner, "learner", "", "check one learner's work: the for_each key (or count index) of labs with learners")
	cmd.Flags().BoolVar(&allLearners, "all-learners", false, "check every learner once and print learners × checks")
	a.varFlags(cmd.Flags())
	return annotate(cmd, checksWork, junitReport)
}
