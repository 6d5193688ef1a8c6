package main

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"labs.dev/lab/lab/config"
	"labs.dev/lab/lab/report"
	"labs.dev/lab/lab/verify"
	"labs.dev/lab/providers/kube"
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
			cfg, labs, err := a.labs(args)
			if err != nil {
				return withCode(exitChanges, unwrapCode(err))
			}
			client, err := a.cluster(cfg)
			if err != nil {
				return withCode(exitChanges, err)
			}
			res := verify.Run(cmd.Context(), labs, verify.Options{Source: verify.NewCluster(client), Timeout: timeout})
			if err := oneError(res); err != nil && a.output == "text" {
				return withCode(exitChanges, err)
			}
			switch a.output {
			case "json":
				_ = report.JSON(a.doc, res)
			case "junit":
				_ = report.JUnit(a.doc, res)
			default:
				report.Text(a.stdout, res, a.stdoutPaint())
			}
			if code := res.ExitCode(); code != 0 {
				return withCode(code, nil)
			}
			return nil
		},
	}
	// A command line verify cannot use is "could not check", not "a
	// check failed": a script must not read it as the learner's mistake.
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return withCode(exitChanges, err) })
	cmd.Flags().DurationVar(&timeout, "timeout", 0, "how long each check retries before it fails (default: the check's timeout, else 10s)")
	a.varFlags(cmd.Flags())
	return cmd
}

// labs loads the lab file and decodes the named labs (all when none),
// printing every diagnostic at once.
func (a *app) labs(names []string) (*config.Config, []*verify.Lab, error) {
	cfg, err := a.load()
	if err != nil {
		return nil, nil, err
	}
	a.known = stateValues(cfg)
	labs, diags := verify.Decode(cfg, a.known)
	if len(diags) > 0 {
		a.writeDiags(cfg, diags, nil)
	}
	if diags.HasErrors() {
		return nil, nil, fmt.Errorf("the lab blocks of %s have errors; fix them and run again", displayPath(cfg, a.file))
	}
	if len(labs) == 0 {
		return nil, nil, fmt.Errorf("%s declares no lab blocks", displayPath(cfg, a.file))
	}
	if len(names) == 0 {
		return cfg, labs, nil
	}
	byName := map[string]*verify.Lab{}
	var all []string
	for _, l := range labs {
		byName[l.Name] = l
		all = append(all, l.Name)
	}
	var out []*verify.Lab
	seen := map[string]bool{}
	for _, n := range names {
		l, ok := byName[n]
		if !ok {
			return nil, nil, fmt.Errorf("there is no lab %q in %s; labs: %s (lab list shows them)", n, displayPath(cfg, a.file), strings.Join(all, ", "))
		}
		if !seen[n] {
			seen[n] = true
			out = append(out, l)
		}
	}
	return cfg, out, nil
}

// connectReadOnly connects to the cluster the lab file names for commands
// a learner runs to check work: a cluster that is down should be said so
// in seconds, not after the retries that ride out a restart mid-apply.
func (a *app) connectReadOnly(cfg *config.Config) (*kube.Client, error) {
	a.kube.RetryFor = readOnlyRetry
	return a.kube.Connect(a.clusterTarget(cfg, a.known))
}

// readOnlyRetry is how long verify, test and reset retry an API server
// that does not answer.
const readOnlyRetry = 3 * time.Second

// cluster connects to the cluster the lab file names (see clusterTarget)
// for verify and lab test.
func (a *app) cluster(cfg *config.Config) (*kube.Client, error) {
	c, err := a.connectReadOnly(cfg)
	if err != nil {
		return nil, fmt.Errorf("%w — is the cluster up? run `lab up`", err)
	}
	return c, nil
}

func (a *app) stdoutPaint() report.Paint {
	if !a.color(a.stdout) {
		return nil
	}
	return func(s, code string) string { return "\x1b[" + code + "m" + s + "\x1b[0m" }
}

// oneError is the one reason no check could run, said once instead of
// under every check: the cluster did not answer, or every check hit the
// same error (not allowed to read, ...). nil when any check could judge
// the work.
func oneError(r *verify.Result) error {
	errs := r.Errs()
	if len(errs) == 0 || len(errs) != r.Passed+r.Failed+r.Errors {
		return nil
	}
	var first *verify.UnreachableError
	if errors.As(errs[0], &first) {
		for _, err := range errs[1:] {
			var u *verify.UnreachableError
			if !errors.As(err, &u) {
				return nil
			}
		}
		return first
	}
	for _, err := range errs[1:] {
		if err.Error() != errs[0].Error() {
			return nil
		}
	}
	return errs[0]
}

// unwrapCode drops an exit code so the caller can choose its own.
func unwrapCode(err error) error {
	var ce *codeError
	if errors.As(err, &ce) {
		if ce.err == nil {
			return errors.New("the lab file has errors")
		}
		return ce.err
	}
	return err
}
