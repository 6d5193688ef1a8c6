package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"labs.dev/lab/lab/labtest"
	"labs.dev/lab/lab/report"
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
			cfg, labs, err := a.labs(args)
			if err != nil {
				return withCode(exitChanges, unwrapCode(err))
			}
			client, err := a.cluster(cfg)
			if err != nil {
				return withCode(exitChanges, err)
			}
			fresh := a.resetOptions(cfg, true)
			var results []*labtest.Result
			code := exitOK
			for _, l := range labs {
				// One lab at a time: labs may share namespaces and names.
				tr := labtest.Test(cmd.Context(), l, client, labtest.Options{
					Timeout:  timeout,
					Progress: func(s string) { fmt.Fprintln(a.stderr, a.paint(s, bold)) },
					Reset:    &fresh,
				})
				results = append(results, tr)
				switch {
				case tr.Err != nil:
					code = max(code, exitChanges)
				case tr.Broken:
					code = max(code, exitError)
				}
				if a.output == "text" {
					a.writeTestResult(tr)
				}
				if cmd.Context().Err() != nil {
					break
				}
			}
			if a.output == "json" {
				a.writeJSON(results)
			} else {
				ok := 0
				for _, tr := range results {
					if tr.OK() {
						ok++
					}
				}
				fmt.Fprintf(a.stdout, "%d proven, %d broken or not tested\n", ok, len(results)-ok)
			}
			if code != exitOK {
				return withCode(code, nil)
			}
			return nil
		},
	}
	cmd.Flags().DurationVar(&timeout, "timeout", 0, "how long each check may take to pass on the solution (default: the check's timeout)")
	a.varFlags(cmd.Flags())
	return cmd
}

func (a *app) writeTestResult(tr *labtest.Result) {
	p := a.stdoutPaint()
	paint := func(s, c string) string {
		if p == nil {
			return s
		}
		return p(s, c)
	}
	switch {
	case tr.Err != nil:
		fmt.Fprintf(a.stdout, "%s %s: could not test: %s\n", paint("!", yellow), tr.Lab, tr.Err)
	case tr.Broken:
		fmt.Fprintf(a.stdout, "%s %s is broken: %s\n", paint("✗", red), tr.Lab, tr.Reason)
		show := tr.After
		if show == nil {
			show = tr.Before
		}
		if show != nil {
			var b strings.Builder
			report.Text(&b, show, p)
			for _, line := range strings.Split(strings.TrimRight(b.String(), "\n"), "\n") {
				fmt.Fprintf(a.stdout, "    %s\n", line)
			}
		}
	default:
		fmt.Fprintf(a.stdout, "%s %s: fails on a fresh environment, passes with its solution\n", paint("✓", green), tr.Lab)
		if len(tr.PassedBefore) > 0 {
			fmt.Fprintf(a.stdout, "    note: already passing before the solution: %s\n", strings.Join(tr.PassedBefore, ", "))
		}
	}
}
