package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/zclconf/go-cty/cty"

	"labs.dev/lab/cmd/lab/views"
	"labs.dev/lab/lab/apply"
	"labs.dev/lab/lab/config"
	"labs.dev/lab/lab/resource"
	"labs.dev/lab/providers"
	"labs.dev/lab/providers/kube"
)

// app holds what every command shares: global flags, streams and views.
type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer

	file     string
	chdir    string
	output   string
	noColor  bool
	vars     []string
	varFiles []string

	// views speak for the command, in the format the global flags chose
	// when it started (pickViews).
	views views.Views

	// known are the resource attributes from state, for commands that
	// read the cluster without planning (verify, reset).
	known map[resource.Addr]cty.Value

	// kube are this command's connections to clusters, and kinds the
	// resource kinds built on them: one client per cluster per command.
	kube  *kube.Connections
	kinds map[string]resource.Kind

	// mu guards views and signal against the signal handler.
	mu sync.Mutex
	// signal is the signal that cancelled the command, if any.
	signal os.Signal
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	a := &app{stdin: stdin, stdout: stdout, stderr: stderr, kube: kube.NewConnections()}
	a.kinds = providers.Kinds(providers.Config{Kube: a.kube})
	root := a.rootCmd()
	root.SetArgs(terraformStyle(root, args))
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)

	ctx, stop := a.signalContext()
	defer stop()
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return exitOK
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.views == nil {
		// The command line failed before the command started.
		_ = a.pickViews(cmd)
	}
	var ee *exitError
	if errors.As(err, &ee) {
		err = ee.err
	}
	if err != nil {
		a.views.Error(err)
	}
	return codeFor(cmd, ee, a.signal)
}

// pickViews chooses the command's views from -o and -no-color (and, in
// views.New, NO_COLOR, TERM and whether the output is a terminal). An
// -o the command cannot take is an error, said in plain text.
func (a *app) pickViews(cmd *cobra.Command) error {
	format, err := views.ParseFormat(a.output)
	if err == nil && format == views.JUnit && !writesJUnit(cmd) {
		err = errors.New(`-o junit: only verify and doc test write JUnit; choose text or json`)
	}
	opts := views.Options{Format: format, NoColor: a.noColor, Getenv: os.Getenv, Stdin: a.stdin, Stdout: a.stdout, Stderr: a.stderr}
	if err != nil {
		opts.Format, opts.NoColor = views.Text, true
	}
	a.views = views.New(opts)
	return err
}

// signalContext cancels on the first SIGINT, SIGTERM or SIGHUP (the
// terminal was closed) so the engine can finish in-flight calls and write
// state; a second one exits at once.
func (a *app) signalContext() (context.Context, func()) {
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan os.Signal, 4)
	sigs := []os.Signal{os.Interrupt, syscall.SIGTERM}
	// Under nohup SIGHUP is ignored, and must stay so: Notify would
	// turn it back on.
	if !signal.Ignored(syscall.SIGHUP) {
		sigs = append(sigs, syscall.SIGHUP)
	}
	signal.Notify(ch, sigs...)
	go func() {
		sig, ok := <-ch
		if !ok {
			return
		}
		a.mu.Lock()
		a.signal = sig
		if a.views == nil {
			_ = a.pickViews(nil)
		}
		a.views.Interrupted(apply.InterruptGrace)
		a.mu.Unlock()
		cancel()
		for sig = range ch {
			// A closed terminal sends SIGHUP more than once (the shell,
			// then the kernel); only a deliberate second signal quits.
			if sig != syscall.SIGHUP {
				os.Exit(signalCode(sig))
			}
		}
	}()
	return ctx, func() { signal.Stop(ch); close(ch); cancel() }
}

func (a *app) rootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "lab",
		Short: "Provision Kubernetes workshop environments and check the learner's work",
		Long: `lab brings up the environment a lesson assumes from one file, labs.hcl,
and checks the learner's work:

  lab up                    plan + apply: the cluster the lesson assumes
  lab verify deploy-fleet   is my work right? if not, what exactly is wrong
  lab down                  tear everything down, nothing left behind`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			if a.chdir != "" {
				if err := os.Chdir(a.chdir); err != nil {
					return fmt.Errorf("-chdir: %w", err)
				}
			}
			a.mu.Lock()
			defer a.mu.Unlock()
			return a.pickViews(cmd)
		},
	}
	f := root.PersistentFlags()
	f.StringVarP(&a.file, "file", "f", config.DefaultFile, "the lab file")
	f.StringVar(&a.chdir, "chdir", "", "switch to this directory before doing anything")
	f.StringVarP(&a.output, "output", "o", "text", "output format: text or json")
	f.BoolVar(&a.noColor, "no-color", false, "no colour in the output (also when NO_COLOR is set, TERM=dumb or output is not a terminal)")
	root.AddCommand(a.commands()...)
	return root
}

// varFlags adds -var and -var-file to commands that load the lab file.
func (a *app) varFlags(f *pflag.FlagSet) {
	f.StringArrayVar(&a.vars, "var", nil, "set a variable: -var 'name=value' (repeatable)")
	f.StringArrayVar(&a.varFiles, "var-file", nil, "set variables from a file (repeatable)")
}

// terraformStyle lets long flags take one dash, as in Terraform
// (-auto-approve, -var, -out): "-name" becomes "--name" when name is a
// long flag of any lab command, so shorthand flags like -f and -o still
// work and global flags may come before the command.
func terraformStyle(root *cobra.Command, args []string) []string {
	long := map[string]bool{}
	var collect func(c *cobra.Command)
	collect = func(c *cobra.Command) {
		for _, fs := range []*pflag.FlagSet{c.Flags(), c.PersistentFlags()} {
			fs.VisitAll(func(f *pflag.Flag) { long[f.Name] = true })
		}
		for _, sub := range c.Commands() {
			collect(sub)
		}
	}
	collect(root)
	out := make([]string, 0, len(args))
	for i, arg := range args {
		if arg == "--" {
			return append(out, args[i:]...)
		}
		if len(arg) > 2 && arg[0] == '-' && arg[1] != '-' {
			if name, _, _ := strings.Cut(arg[1:], "="); long[name] {
				arg = "-" + arg
			}
		}
		out = append(out, arg)
	}
	return out
}
