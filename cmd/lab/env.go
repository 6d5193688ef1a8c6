package main

import (
	"fmt"
	"os"
	"path/filepath"

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
			v := a.views.Env()
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
				val, ok := values[o.Name]
				switch {
				case o.Sensitive || (ok && (val.IsMarked() || val.ContainsMarked())):
					v.SensitiveOutput(o.Name)
				case !ok || !val.IsWhollyKnown() || val.IsNull():
					v.UnsetOutput(o.Name)
				default:
					exports = append(exports, [2]string{o.Env, shellValue(val)})
				}
			}
			v.Exports(shell, context, raw.CurrentContext, exports)
			return nil
		},
	}
	cmd.Flags().StringVar(&shell, "shell", "", "bash, zsh or fish (default: from $SHELL)")
	a.varFlags(cmd.Flags())
	return cmd
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
