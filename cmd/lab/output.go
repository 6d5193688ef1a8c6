package main

import (
	"fmt"
	"sort"
	"strings"

	"github.com/spf13/cobra"
)

func (a *app) outputCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "output [NAME]",
		Short: "Show output values from the last apply",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			v := a.views.Output()
			var e engineFlags
			s, err := a.open(cmd.Context(), cmd, &e, false)
			if err != nil {
				return err
			}
			defer s.close()
			values := s.cfg.OutputValues(s.st.Values())
			for name, val := range values {
				if !val.IsWhollyKnown() {
					delete(values, name)
				}
			}
			if len(args) == 0 {
				v.Outputs(values)
				return nil
			}
			name := args[0]
			val, ok := values[name]
			if !ok {
				return s.noOutput(name)
			}
			return v.Output(name, val)
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
	file := s.a.displayPath(s.cfg)
	if len(declared) == 0 {
		return fmt.Errorf("%s declares no output %q, and no outputs at all", file, name)
	}
	sort.Strings(declared)
	return fmt.Errorf("%s declares no output %q; its outputs: %s", file, name, strings.Join(declared, ", "))
}
