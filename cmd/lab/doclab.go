package main

// The one place `lab doc test` reaches into lab/verify: proving the lab
// block a lesson ends with (<!-- lab: verify=NAME -->). It uses only
// verify's exported API, so it can follow verify's packages when they
// move.

import (
	"context"
	"fmt"
	"strings"
	"time"

	"labs.dev/lab/lab/config"
	"labs.dev/lab/lab/labtest"
	"labs.dev/lab/lab/lesson"
	"labs.dev/lab/lab/report"
	"labs.dev/lab/lab/ui/ansi"
	"labs.dev/lab/lab/verify"
)

// proveLab proves lab name after a lesson's commands ran: if the
// lesson's own commands did the task, its checks pass as they are;
// otherwise it is proven as `lab test` does (checks fail on the fresh
// environment, pass with the solution applied, and the solution is
// removed again).
func (a *app) proveLab(cfg *config.Config, timeout time.Duration) func(context.Context, string) lesson.LabResult {
	return func(ctx context.Context, name string) lesson.LabResult {
		fail := func(format string, args ...any) lesson.LabResult {
			return lesson.LabResult{Status: lesson.Failed, Error: fmt.Sprintf(format, args...)}
		}
		labs, diags := verify.Decode(cfg, a.known)
		if diags.HasErrors() {
			return fail("the lab blocks of %s have errors (lab validate shows them)", a.displayPath(cfg))
		}
		var l *verify.Lab
		var names []string
		for _, x := range labs {
			names = append(names, x.Name)
			if x.Name == name {
				l = x
			}
		}
		if l == nil {
			return fail("%s declares no lab %q (its labs: %s)", a.displayPath(cfg), name, strings.Join(names, ", "))
		}
		client, err := a.cluster(cfg)
		if err != nil {
			return fail("%v", err)
		}
		now := verify.Run(ctx, []*verify.Lab{l}, verify.Options{Source: verify.NewCluster(client), Once: true})
		switch now.ExitCode() {
		case 0:
			return lesson.LabResult{Status: lesson.Passed, Summary: fmt.Sprintf("the lesson's commands do the task: %s", now.Summary())}
		case 2:
			var b strings.Builder
			report.Text(&b, now, ansi.Style{})
			return lesson.LabResult{Status: lesson.Failed, Error: "could not check it", Detail: b.String()}
		}
		fresh := a.resetOptions(cfg, true)
		tr := labtest.Test(ctx, l, client, labtest.Options{Timeout: timeout, Reset: &fresh})
		switch {
		case tr.Err != nil:
			return fail("%v", tr.Err)
		case tr.Broken:
			lr := lesson.LabResult{Status: lesson.Failed, Summary: tr.Reason}
			if show := tr.Evidence(); show != nil {
				var b strings.Builder
				report.Text(&b, show, ansi.Style{})
				lr.Detail = b.String()
			}
			return lr
		}
		return lesson.LabResult{Status: lesson.Passed, Summary: fmt.Sprintf("fails on a fresh environment, passes with its solution (%s)", tr.After.Summary())}
	}
}
