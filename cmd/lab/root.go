package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/hashicorp/hcl/v2"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/zclconf/go-cty/cty"

	"labs.dev/lab/lab/apply"
	"labs.dev/lab/lab/config"
	"labs.dev/lab/lab/resource"
	"labs.dev/lab/providers"
	"labs.dev/lab/providers/kube"
)

// Exit codes, documented in README.md.
const (
	exitOK      = 0
	exitError   = 1 // a command failed; verify: a check failed
	exitChanges = 2 // plan -detailed-exitcode: changes; verify: could not check
	exitSIGHUP  = 129
	exitSIGINT  = 130
	exitSIGTERM = 143
)

// exitError carries a specific exit code up to run.
type codeError struct {
	code int
	err  error // nil when the message was already shown
}

func (e *codeError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit %d", e.code)
	}
	return e.err.Error()
}

func (e *codeError) Unwrap() error { return e.err }

// withCode returns an error that makes lab exit with code; err may be nil
// when the command already told the user what happened.
func withCode(code int, err error) error { return &codeError{code: code, err: err} }

// app holds what every command shares: global flags and streams.
type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	// doc is where the one machine-readable document goes (-o json or
	// junit): the real stdout. In those modes stdout is pointed at
	// stderr, so events and prompts never mix with the document a
	// machine parses with one json.load.
	doc io.Writer

	file     string
	chdir    string
	output   string
	noColor  bool
	vars     []string
	varFiles []string

	// known are the resource attributes from state, for commands that
	// read the cluster without planning (verify, reset).
	known map[resource.Addr]cty.Value

	// kube are this command's connections to clusters, and kinds the
	// resource kinds built on them: one client per cluster per command.
	kube  *kube.Connections
	kinds map[string]resource.Kind

	// signal is the signal that cancelled the command, if any.
	signal os.Signal
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	a := &app{stdin: stdin, stdout: stdout, stderr: stderr, doc: stdout, kube: kube.NewConnections()}
	a.kinds = providers.Kinds(providers.Config{Kube: a.kube})
	root := a.rootCmd()
	root.SetArgs(terraformStyle(root, args))
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)

	ctx, stop := a.signalContext()
	defer stop()
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	code := exitError
	var ce *codeError
	if errors.As(err, &ce) {
		code = ce.code
		err = ce.err
	}
	if a.signal != nil {
		code = signalCode(a.signal)
	}
	if err != nil {
		fmt.Fprintf(stderr, "%s %s\n", a.paint("Error:", red), err)
	}
	return code
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
		a.signal = sig
		fmt.Fprintf(a.stderr, "\n%s stopping: starting nothing more, letting the operations in flight finish (up to %s) and saving state. Press Ctrl-C again to quit at once.\n", a.paint("Interrupt:", yellow), apply.InterruptGrace)
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

// signalCode is the exit code for a run ended by sig, as a shell reports
// a process killed by it: 128 + the signal's number.
func signalCode(sig os.Signal) int {
	switch sig {
	case syscall.SIGHUP:
		return exitSIGHUP
	case syscall.SIGTERM:
		return exitSIGTERM
	}
	return exitSIGINT
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
			switch a.output {
			case "text", "json", "junit":
			default:
				return withCode(usageCode(cmd), fmt.Errorf("-o %q: choose text or json (verify and doc test also take junit)", a.output))
			}
			if a.output != "text" {
				a.stdout = a.stderr
			}
			return nil
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

// usageCode is the exit code of a command line cmd cannot use: for verify
// and doc test that is "could not check" (2), since 1 means a check
// failed or an output differs; doctor's 2 is "could not check" too.
func usageCode(cmd *cobra.Command) int {
	if cmd.Name() == "verify" || cmd.Name() == "doctor" || (cmd.HasParent() && cmd.Parent().Name() == "doc") {
		return exitChanges
	}
	return exitError
}

// varFlags adds -var and -var-file to commands that load the lab file.
func (a *app) varFlags(f *pflag.FlagSet) {
	f.StringArrayVar(&a.vars, "var", nil, "set a variable: -var 'name=value' (repeatable)")
	f.StringArrayVar(&a.varFiles, "var-file", nil, "set variables from a file (repeatable)")
}

// load reads the lab file and prints every diagnostic at once.
func (a *app) load() (*config.Config, error) {
	cfg, diags := config.Load(a.file, config.Options{Kinds: a.kinds, Vars: a.vars, VarFiles: a.varFiles})
	if len(diags) > 0 {
		a.writeDiags(cfg, diags, nil)
	}
	if diags.HasErrors() {
		return nil, withCode(exitError, errors.New(errorSummary(diags, displayPath(cfg, a.file))))
	}
	return cfg, nil
}

// errorSummary is the last line after load's diagnostics: how many
// errors, and where — the files they point into, or for a variable
// value the input it came from (-var-file x, -var y) — so a mistake in a
// variables file is not blamed on the lab file.
func errorSummary(diags hcl.Diagnostics, labFile string) string {
	n := 0
	var where []string
	seen := map[string]bool{}
	for _, d := range diags {
		if d.Severity != hcl.DiagError {
			continue
		}
		n++
		w := labFile
		if o, ok := d.Extra.(config.Origin); ok {
			w = string(o)
		} else if d.Subject != nil && d.Subject.Filename != "" {
			w = d.Subject.Filename
		}
		if !seen[w] {
			seen[w] = true
			where = append(where, w)
		}
	}
	if len(where) == 1 {
		return fmt.Sprintf("%s has %d error(s); fix them and run again", where[0], n)
	}
	last := len(where) - 1
	return fmt.Sprintf("%s and %s have %d error(s); fix them and run again", strings.Join(where[:last], ", "), where[last], n)
}

func displayPath(cfg *config.Config, fallback string) string {
	if cfg == nil || cfg.File == "" {
		return fallback
	}
	if wd, err := os.Getwd(); err == nil {
		if rel, err := filepath.Rel(wd, cfg.File); err == nil && !strings.HasPrefix(rel, "..") {
			return rel
		}
	}
	return cfg.File
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
