package main

import (
	"bytes"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/spf13/cobra"
	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"

	"labs.dev/lab/lab/config"
	"labs.dev/lab/lab/plan"
	"labs.dev/lab/lab/resource"
	"labs.dev/lab/lab/state"
	"labs.dev/lab/lab/verify"
)

func (a *app) validateCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "validate",
		Short: "Check the lab file without touching any cluster",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := a.load()
			if err != nil {
				return err
			}
			if _, diags := plan.Graph(cfg); diags.HasErrors() {
				a.writeDiags(cfg, diags, map[string]any{"valid": false})
				return withCode(exitError, fmt.Errorf("%s has a dependency cycle", displayPath(cfg, a.file)))
			}
			if err := a.checkOffline(cfg); err != nil {
				return err
			}
			if a.output == "json" {
				a.writeJSON(map[string]any{"valid": true, "diagnostics": []any{}})
				return nil
			}
			fmt.Fprintf(a.stdout, "%s %s is valid: %d resource(s), %d lab(s).\n", a.style().Green("Success!"), displayPath(cfg, a.file), len(cfg.Resources), len(cfg.Labs))
			return nil
		},
	}
	a.varFlags(cmd.Flags())
	return cmd
}

func (a *app) fmtCmd() *cobra.Command {
	var check, diff bool
	cmd := &cobra.Command{
		Use:   "fmt [FILE...]",
		Short: "Rewrite lab files in the canonical style (exit 3 with -check when not formatted)",
		RunE: func(cmd *cobra.Command, files []string) error {
			if len(files) == 0 {
				files = []string{a.file}
			}
			unformatted := 0
			for _, f := range files {
				src, err := os.ReadFile(f)
				if err != nil {
					return fmt.Errorf("fmt: %w", err)
				}
				if _, diags := hclwrite.ParseConfig(src, f, hcl.InitialPos); diags.HasErrors() {
					(&config.Config{Files: map[string]*hcl.File{}}).WriteDiagnostics(a.stderr, diags, a.color(a.stderr))
					return withCode(exitError, fmt.Errorf("%s has syntax errors; fmt changes only valid files", f))
				}
				out := hclwrite.Format(src)
				if bytes.Equal(src, out) {
					continue
				}
				unformatted++
				fmt.Fprintln(a.stdout, f)
				if diff {
					fmt.Fprint(a.stdout, lineDiff(string(src), string(out)))
				}
				if !check {
					info, _ := os.Stat(f)
					if err := os.WriteFile(f, out, info.Mode().Perm()); err != nil {
						return fmt.Errorf("fmt: %w", err)
					}
				}
			}
			if check && unformatted > 0 {
				return withCode(3, nil)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&check, "check", false, "only check; exit 3 if a file is not formatted")
	cmd.Flags().BoolVar(&diff, "diff", false, "show the changes")
	return cmd
}

// lineDiff is a minimal line diff for fmt -diff.
func lineDiff(a, b string) string {
	al, bl := bytes.Split([]byte(a), []byte("\n")), bytes.Split([]byte(b), []byte("\n"))
	var out bytes.Buffer
	for i := 0; i < max(len(al), len(bl)); i++ {
		var x, y []byte
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if !bytes.Equal(x, y) {
			fmt.Fprintf(&out, "-%s\n+%s\n", x, y)
		}
	}
	return out.String()
}

// checkOffline reports what each kind can find wrong with its arguments
// without a cluster, then what is wrong in the lab blocks: these are
// decoded by verify, and an author wants their mistakes now, not when a
// learner runs lab verify.
func (a *app) checkOffline(cfg *config.Config) error {
	if diags := plan.Validate(cfg); diags.HasErrors() {
		a.writeDiags(cfg, diags, map[string]any{"valid": false})
		return withCode(exitError, fmt.Errorf("%s has errors; fix them and run again", displayPath(cfg, a.file)))
	}
	if _, diags := verify.Decode(cfg, nil); diags.HasErrors() {
		a.writeDiags(cfg, diags, map[string]any{"valid": false})
		return withCode(exitError, fmt.Errorf("the lab blocks of %s have errors; fix them and run again", displayPath(cfg, a.file)))
	}
	return nil
}

func (a *app) graphCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "graph",
		Short: "Print the resource dependency graph in DOT (pipe it to `dot -Tsvg`)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := a.load()
			if err != nil {
				return err
			}
			g, diags := plan.Graph(cfg)
			if diags.HasErrors() {
				cfg.WriteDiagnostics(a.stderr, diags, a.color(a.stderr))
				return withCode(exitError, fmt.Errorf("%s has a dependency cycle", displayPath(cfg, a.file)))
			}
			if err := a.checkOffline(cfg); err != nil {
				return err
			}
			fmt.Fprint(a.stdout, g.DOT())
			return nil
		},
	}
	a.varFlags(cmd.Flags())
	return cmd
}

func (a *app) statusCmd() *cobra.Command {
	var e engineFlags
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show each resource and its live status",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := a.open(cmd.Context(), cmd, &e, false)
			if err != nil {
				return err
			}
			defer s.close()
			p, err := s.makePlan(cmd.Context(), false)
			if err != nil {
				return err
			}
			type row struct {
				Resource string `json:"resource"`
				Status   string `json:"status"`
				Detail   string `json:"detail,omitempty"`
			}
			var rows []row
			for _, c := range p.Changes {
				_, inState := s.st.Get(c.Addr)
				r := row{Resource: c.Addr.String(), Detail: c.Reason}
				switch {
				case c.Action == resource.NoOp:
					r.Status = "ready"
				case c.Action == resource.Delete:
					r.Status = "orphaned"
					r.Detail = "in state but no longer in the lab file; lab apply removes it"
				case c.Action == resource.Forget:
					r.Status = "renamed"
				case !inState:
					r.Status = "not created"
				case c.Drift:
					r.Status = "drifted"
				default:
					r.Status = "pending changes"
				}
				rows = append(rows, r)
			}
			if a.output == "json" {
				a.writeJSON(map[string]any{"resources": rows})
				return nil
			}
			st := a.style()
			for _, r := range rows {
				status := r.Status
				switch r.Status {
				case "ready":
					status = st.Green(status)
				case "drifted", "orphaned":
					status = st.Yellow(status)
				}
				line := fmt.Sprintf("%-36s %s", r.Resource, status)
				if r.Detail != "" {
					line += "  " + st.Dim(r.Detail)
				}
				fmt.Fprintln(a.stdout, line)
			}
			return nil
		},
	}
	a.varFlags(cmd.Flags())
	return cmd
}

func (a *app) outputCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "output [NAME]",
		Short: "Show output values from the last apply",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var e engineFlags
			s, err := a.open(cmd.Context(), cmd, &e, false)
			if err != nil {
				return err
			}
			defer s.close()
			values := s.cfg.OutputValues(s.st.Values())
			for name, v := range values {
				if !v.IsWhollyKnown() {
					delete(values, name)
				}
			}
			if len(args) == 1 {
				name := args[0]
				v, ok := values[name]
				if !ok {
					return s.noOutput(name)
				}
				if a.output == "json" {
					if v.IsMarked() || v.ContainsMarked() {
						a.writeJSON(map[string]any{"sensitive": true}) // never the value
						return nil
					}
					b, err := ctyjson.Marshal(v, v.Type())
					if err != nil {
						return fmt.Errorf("output %q: %w", name, err)
					}
					a.writeJSON(jsonRaw(b))
					return nil
				}
				if v.Type() == cty.String && !v.IsMarked() {
					fmt.Fprintln(a.stdout, v.AsString())
					return nil
				}
				fmt.Fprintln(a.stdout, renderValue(v))
				return nil
			}
			if a.output == "json" {
				a.writeJSON(outputsJSON(values))
				return nil
			}
			var names []string
			for n := range values {
				names = append(names, n)
			}
			sort.Strings(names)
			for _, n := range names {
				fmt.Fprintf(a.stdout, "%s = %s\n", n, renderValue(values[n]))
			}
			return nil
		},
	}
	// Outputs are evaluated from the lab file, which may need its
	// variables like every other command that loads it.
	a.varFlags(cmd.Flags())
	return cmd
}

// noOutput says why output name has no value: the lab file does not
// declare it, or it is known only after lab up.
func (s *session) noOutput(name string) error {
	var declared []string
	for _, o := range s.cfg.Outputs {
		if o.Name == name {
			return fmt.Errorf("output %q has no value yet: outputs have values after lab up", name)
		}
		declared = append(declared, o.Name)
	}
	file := displayPath(s.cfg, s.a.file)
	if len(declared) == 0 {
		return fmt.Errorf("%s declares no output %q, and no outputs at all", file, name)
	}
	sort.Strings(declared)
	return fmt.Errorf("%s declares no output %q; its outputs: %s", file, name, strings.Join(declared, ", "))
}

func (a *app) forceUnlockCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "force-unlock LOCK_ID",
		Short: "Remove a state lock left by a lab process that died (the ID is in the lock error)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := a.load()
			if err != nil {
				return err
			}
			if err := state.ForceUnlock(stateDir(cfg), args[0]); err != nil {
				return err
			}
			fmt.Fprintln(a.stdout, "The state lock was removed.")
			return nil
		},
	}
}

func stateDir(cfg *config.Config) string { return cfg.Dir + string(os.PathSeparator) + stateDirName }

// renderValue shows a value as HCL would, hiding sensitive ones.
func renderValue(v cty.Value) string {
	if v.IsMarked() || v.ContainsMarked() {
		return "(sensitive value)"
	}
	if !v.IsWhollyKnown() {
		return "(known after apply)"
	}
	return string(hclwrite.TokensForValue(v).Bytes())
}

func outputsJSON(values map[string]cty.Value) map[string]any {
	out := map[string]any{}
	for n, v := range values {
		if v.IsMarked() || v.ContainsMarked() {
			out[n] = map[string]any{"sensitive": true}
			continue
		}
		b, err := ctyjson.Marshal(v, v.Type())
		if err != nil {
			continue
		}
		out[n] = map[string]any{"value": jsonRaw(b)}
	}
	return out
}
