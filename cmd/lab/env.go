package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"
)

func (a *app) envCmd() *cobra.Command {
	var shell string
	cmd := &cobra.Command{
		Use:   "env",
		Short: `Print the exports that point a shell at the lab's cluster: eval "$(lab env)"`,
		Long: `env prints what points a shell at the lab's cluster, for
eval "$(lab env)" (bash, zsh) or lab env --shell fish | source: KUBECONFIG,
the lab's context (made current when it is not), and every output the lab
file marks for the shell (env = "NAME" in its output block). Sensitive
outputs are never printed. The shell is taken from $SHELL unless --shell
names it.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if shell == "" {
				shell = filepath.Base(os.Getenv("SHELL"))
				if shell != "zsh" && shell != "fish" {
					shell = "bash"
				}
			}
			if shell != "bash" && shell != "zsh" && shell != "fish" {
				return fmt.Errorf("--shell %q: choose bash, zsh or fish", shell)
			}
			cfg, err := a.load()
			if err != nil {
				return err
			}
			a.known = stateValues(cfg)
			t, path, raw, err := a.labKubeconfig(cfg)
			if err != nil {
				return err
			}
			context := t.Context
			if context == "" {
				context = raw.CurrentContext
			}
			exports := [][2]string{{"KUBECONFIG", path}}
			values := cfg.OutputValues(a.known)
			for _, o := range cfg.Outputs {
				if o.Env == "" {
					continue
				}
				v, ok := values[o.Name]
				switch {
				case o.Sensitive || (ok && (v.IsMarked() || v.ContainsMarked())):
					fmt.Fprintf(a.stderr, "lab env: output %q is sensitive; it is never printed (lab output %s shows it is set)\n", o.Name, o.Name)
				case !ok || !v.IsWhollyKnown() || v.IsNull():
					fmt.Fprintf(a.stderr, "lab env: output %q has no value yet; it has one after lab up\n", o.Name)
				default:
					exports = append(exports, [2]string{o.Env, shellValue(v)})
				}
			}
			if a.output == "json" {
				env := map[string]string{}
				for _, e := range exports {
					env[e[0]] = e[1]
				}
				a.writeJSON(map[string]any{"shell": shell, "context": context, "env": env})
				return nil
			}
			fmt.Fprintf(a.stdout, "# the lab's cluster: context %s; apply with: %s\n", context, evalHint(shell))
			for _, e := range exports {
				fmt.Fprintln(a.stdout, exportLine(shell, e[0], e[1]))
			}
			if raw.CurrentContext != context {
				fmt.Fprintf(a.stdout, "kubectl config use-context %s >/dev/null\n", quote(shell, context))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&shell, "shell", "", "bash, zsh or fish (default: from $SHELL)")
	a.varFlags(cmd.Flags())
	return cmd
}

func evalHint(shell string) string {
	if shell == "fish" {
		return "lab env --shell fish | source"
	}
	return `eval "$(lab env)"`
}

func exportLine(shell, name, value string) string {
	if shell == "fish" {
		return fmt.Sprintf("set -gx %s %s", name, quote(shell, value))
	}
	return fmt.Sprintf("export %s=%s", name, quote(shell, value))
}

// quote makes value one word for the shell, taken literally.
func quote(shell, value string) string {
	if shell == "fish" {
		return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(value) + "'"
	}
	return "'" + strings.ReplaceAll(value, "'", `'\''`) + "'"
}

// shellValue is an output as a shell variable's text: strings as they
// are, numbers and bools as written, anything else as JSON.
func shellValue(v cty.Value) string {
	switch v.Type() {
	case cty.String:
		return v.AsString()
	case cty.Number:
		return v.AsBigFloat().Text('f', -1)
	case cty.Bool:
		if v.True() {
			return "true"
		}
		return "false"
	}
	b, err := ctyjson.Marshal(v, v.Type())
	if err != nil {
		return ""
	}
	return string(b)
}
