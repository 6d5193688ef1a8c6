package main

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"labs.dev/lab/lab/config"
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
			cl, _, err := a.cluster(cfg)
			if err != nil {
				return withCode(exitChanges, err)
			}
			res := verify.Run(cmd.Context(), labs, verify.Options{Source: cl, Timeout: timeout})
			if msg, ok := sameError(res); ok && a.output == "text" {
				return withCode(exitChanges, unreachable(cl, msg))
			}
			switch a.output {
			case "json":
				_ = res.WriteJSON(a.doc)
			case "junit":
				_ = res.WriteJUnit(a.doc)
			default:
				res.WriteText(a.stdout, a.stdoutPaint())
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

// cluster connects to the cluster the lab file names (see clusterTarget),
// for verify's reads and, through the client, anything else.
func (a *app) cluster(cfg *config.Config) (*verify.Cluster, *kube.Client, error) {
	c, err := a.connectReadOnly(cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("%w — is the cluster up? run `lab up`", err)
	}
	return verify.NewCluster(c), c, nil
}

func (a *app) stdoutPaint() verify.Paint {
	if !a.color(a.stdout) {
		return nil
	}
	return func(s, code string) string { return "\x1b[" + code + "m" + s + "\x1b[0m" }
}

// sameError reports the one error every check hit (an unreachable
// cluster), so it is said once instead of once per check.
func sameError(r *verify.Result) (string, bool) {
	msg := ""
	for _, l := range r.Labs {
		for _, c := range l.Checks {
			if c.Status != verify.Errored || (msg != "" && c.Error != msg) {
				return "", false
			}
			msg = c.Error
		}
	}
	return msg, msg != ""
}

// unreachable turns the one error every check hit into what the learner
// needs when it means the cluster did not answer: which cluster, and
// what to do. Other errors (not allowed to read, …) are left as they are.
func unreachable(cl *verify.Cluster, msg string) error {
	if strings.Contains(msg, "cannot reach the cluster") || !looksUnreachable(msg) {
		return errors.New(msg)
	}
	where, check := cl.Host, "kubectl cluster-info"
	if cl.Context != "" {
		where += " (context " + cl.Context + ")"
		check += " --context " + cl.Context
	}
	return fmt.Errorf("cannot reach the cluster at %s: it did not answer, so no check could run. Is it up? Run `lab up` to bring it up, or check it with `%s`.\n  detail: %s", where, check, msg)
}

// looksUnreachable reports whether msg is a transport failure: no
// connection, no TLS handshake, or no answer in time.
func looksUnreachable(msg string) bool {
	for _, s := range []string{
		"did not answer", "TLS handshake timeout", "Client.Timeout exceeded", "i/o timeout",
		"context deadline exceeded", "connection refused", "connection reset", "no such host", "EOF",
	} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
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
