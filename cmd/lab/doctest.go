package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"labs.dev/lab/cmd/lab/views"
	"labs.dev/lab/lab/lesson"
	"labs.dev/lab/providers/simulated"
)

func (a *app) docCmd() *cobra.Command {
	doc := &cobra.Command{
		Use:   "doc",
		Short: "Lessons: prove what a lesson prints against the lab's cluster",
	}
	doc.AddCommand(a.docTestCmd())
	return doc
}

func (a *app) docTestCmd() *cobra.Command {
	var (
		update, verbose bool
		timeout         time.Duration
	)
	cmd := &cobra.Command{
		Use:   "test LESSON.md...",
		Short: "Run a lesson's commands against the lab's cluster and compare what they print with the lesson",
		Long: `doc test runs the commands of each lesson, in order, in one bash shell
pointed at the lab's cluster (KUBECONFIG and context), and compares what
each prints with the lesson's output block, after normalising what
legitimately differs (ages, generated names, restart counts, timestamps,
uids, IPs). Tables are matched by column and row name; YAML and JSON as
data, as a subset when the lesson elides details. A lesson that ends with
a lab (<!-- lab: verify=NAME -->) has that lab proven at the end.

Marks in HTML comments steer it: <!-- lab: ignore -->, <!-- lab: skip -->,
<!-- lab: contains -->, <!-- lab: timeout=60s -->, <!-- lab: verify=NAME -->.

Exit codes: 0 every output matched, 1 an output differs (or a command
failed or timed out, or the lab's checks failed), 2 could not run (a
lesson cannot be read, bad lab file or flag, cluster unreachable).`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.docTest(cmd.Context(), args, update, verbose, timeout)
		},
	}
	cmd.Flags().BoolVar(&update, "update", false, "rewrite the output blocks that differ with what the cluster printed")
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "list every command, not only those that fail")
	cmd.Flags().DurationVar(&timeout, "timeout", lesson.DefaultTimeout, "each command's time limit (a <!-- lab: timeout=D --> mark overrides it)")
	a.varFlags(cmd.Flags())
	return annotate(cmd, checksWork, junitReport)
}

// docTest runs the lessons at paths; every failure that is not an output
// that differs is "could not run" (exit 2).
func (a *app) docTest(ctx context.Context, paths []string, update, verbose bool, timeout time.Duration) error {
	v := a.views.DocTest(verbose)
	report := &lesson.Report{}
	var lessons []*lesson.Lesson
	for _, p := range paths {
		l, problems := lesson.Read(p)
		report.Problems = append(report.Problems, problems...)
		if l != nil {
			lessons = append(lessons, l)
		}
	}
	if len(report.Problems) > 0 {
		v.Problems(report)
		return fmt.Errorf("%d problem(s) in the lesson(s); fix them and run again", len(report.Problems))
	}

	cfg, err := a.load()
	if err != nil {
		return fmt.Errorf("lab doc test runs lessons against the lab file's cluster: %w", err)
	}
	a.known = stateValues(cfg)
	t, _, raw, err := a.labKubeconfig(cfg)
	if err != nil {
		return err
	}
	if err := a.reachable(ctx, cfg); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "lab-doc-test-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	kubeconfig := filepath.Join(tmp, "kubeconfig")
	if err := writeContextKubeconfig(raw, t.Context, kubeconfig); err != nil {
		return fmt.Errorf("write the lesson's kubeconfig: %w", err)
	}
	dir, err := os.Getwd()
	if err != nil {
		return err
	}
	opts := lesson.Options{
		Dir:     dir,
		Env:     lessonEnv(kubeconfig),
		Timeout: timeout,
		Lab:     a.proveLab(cfg, 0),
		OnStep:  func(_ *lesson.Result, sr lesson.StepResult) { v.Step(sr) },
	}
	updated := 0
	for _, l := range lessons {
		r := lesson.Run(ctx, l, opts)
		report.Lessons = append(report.Lessons, r)
		v.Lesson(r)
		if update && r.Error == "" {
			n, err := updateLesson(v, l, r)
			if err != nil {
				return err
			}
			updated += n
		}
		if ctx.Err() != nil {
			break
		}
	}
	v.Report(report)
	code := report.ExitCode()
	if differing, only := report.Differing(); update && code == exitFailed && only && updated == differing {
		code = exitOK // every difference was written into the lesson
	}
	if code != exitOK {
		return exit(code, nil)
	}
	return nil
}

// lessonEnv is the commands' environment: the learner's, pointed at the
// lab's cluster, with kubectl on PATH when lab has one and PATH has not.
func lessonEnv(kubeconfig string) []string {
	var env []string
	for _, kv := range os.Environ() {
		switch k, _, _ := strings.Cut(kv, "="); k {
		case "KUBECONFIG", "BASH_ENV", "ENV":
			continue
		}
		env = append(env, kv)
	}
	env = append(env, "KUBECONFIG="+kubeconfig)
	if _, err := exec.LookPath("kubectl"); err != nil {
		if p, err := simulated.KubectlPath(); err == nil {
			env = append(env, "PATH="+os.Getenv("PATH")+string(os.PathListSeparator)+filepath.Dir(p))
		}
	}
	return env
}

// updateLesson writes what differs into the lesson and says what it did.
func updateLesson(v views.DocTest, l *lesson.Lesson, r *lesson.Result) (int, error) {
	src, edits, notes := lesson.Update(l, r)
	for _, n := range notes {
		v.Note(n)
	}
	if len(edits) == 0 {
		return 0, nil
	}
	if err := lesson.WriteFile(l.Path, src); err != nil {
		return 0, fmt.Errorf("update %s: %w", l.Path, err)
	}
	for _, e := range edits {
		v.Updated(l.Path, e.Line)
	}
	return len(edits), nil
}
