package main

import (
	"bytes"
	"fmt"
	"os"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/spf13/cobra"
)

func (a *app) fmtCmd() *cobra.Command {
	var check, diff bool
	cmd := &cobra.Command{
		Use:   "fmt [FILE...]",
		Short: "Rewrite lab files in the canonical style (exit 3 with -check when not formatted)",
		RunE: func(cmd *cobra.Command, files []string) error {
			v := a.views.Fmt()
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
					a.views.Explain(nil, diags)
					return fmt.Errorf("%s has syntax errors; fmt changes only valid files", f)
				}
				out := hclwrite.Format(src)
				if bytes.Equal(src, out) {
					continue
				}
				unformatted++
				changes := ""
				if diff {
					changes = lineDiff(string(src), string(out))
				}
				v.Unformatted(f, changes)
				if !check {
					info, _ := os.Stat(f)
					if err := os.WriteFile(f, out, info.Mode().Perm()); err != nil {
						return fmt.Errorf("fmt: %w", err)
					}
				}
			}
			if check && unformatted > 0 {
				return exit(exitUnformatted, nil)
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
