package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"labs.dev/lab/lab/config"
	"labs.dev/lab/lab/resource"
	"labs.dev/lab/lab/state"
	"labs.dev/lab/lab/verify"
)

// stateDirName is the lab's private directory beside the lab file.
const stateDirName = ".lab"

func stateDir(cfg *config.Config) string { return filepath.Join(cfg.Dir, stateDirName) }

// load reads the lab file and reports every diagnostic at once.
func (a *app) load() (*config.Config, error) {
	cfg, diags := config.Load(a.file, config.Options{Kinds: a.kinds, Vars: a.vars, VarFiles: a.varFiles})
	if len(diags) > 0 {
		a.views.Diagnostics(cfg, diags)
	}
	if diags.HasErrors() {
		return nil, errors.New(errorSummary(diags, a.displayPath(cfg)))
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

// displayPath is the lab file as the user would name it: relative to the
// working directory when inside it.
func (a *app) displayPath(cfg *config.Config) string {
	if cfg == nil || cfg.File == "" {
		return a.file
	}
	if wd, err := os.Getwd(); err == nil {
		if rel, err := filepath.Rel(wd, cfg.File); err == nil && !strings.HasPrefix(rel, "..") {
			return rel
		}
	}
	return cfg.File
}

// stateValues reads the attributes lab recorded at the last apply, so
// commands that only read (verify, reset) see the same values as apply.
// A missing or unreadable state gives none: those commands still work
// from the lab file alone.
func stateValues(cfg *config.Config) map[resource.Addr]cty.Value {
	st, err := state.Load(filepath.Join(stateDir(cfg), state.FileName))
	if err != nil {
		return nil
	}
	return st.Values()
}

// labs loads the lab file and decodes the named labs (all when none),
// reporting every diagnostic at once.
func (a *app) labs(names []string) (*config.Config, []*verify.Lab, error) {
	cfg, err := a.load()
	if err != nil {
		return nil, nil, err
	}
	a.known = stateValues(cfg)
	labs, diags := verify.Decode(cfg, a.known)
	if len(diags) > 0 {
		a.views.Diagnostics(cfg, diags)
	}
	if diags.HasErrors() {
		return nil, nil, fmt.Errorf("the lab blocks of %s have errors; fix them and run again", a.displayPath(cfg))
	}
	if len(labs) == 0 {
		return nil, nil, fmt.Errorf("%s declares no lab blocks", a.displayPath(cfg))
	}
	if len(names) == 0 {
		return cfg, labs, nil
	}
	// A lab block with for_each or count is several labs, one per
	// learner: its name stands for them all.
	byName := map[string][]*verify.Lab{}
	var all []string
	for _, l := range labs {
		if byName[l.Name] == nil {
			all = append(all, l.Name)
		}
		byName[l.Name] = append(byName[l.Name], l)
	}
	var out []*verify.Lab
	seen := map[string]bool{}
	for _, n := range names {
		ls, ok := byName[n]
		if !ok {
			return nil, nil, fmt.Errorf("there is no lab %q in %s; labs: %s (lab list shows them)", n, a.displayPath(cfg), strings.Join(all, ", "))
		}
		if !seen[n] {
			seen[n] = true
			out = append(out, ls...)
		}
	}
	return cfg, out, nil
}

// learnerLabs keeps, of labs, the instances of the learner named (the
// for_each key or count index of a lab block with one); every learner's
// when learner is "".
func (a *app) learnerLabs(cfg *config.Config, labs []*verify.Lab, learner string) ([]*verify.Lab, error) {
	var out, single []*verify.Lab
	learners := map[string]bool{}
	var names []string
	for _, l := range labs {
		if !l.Multi {
			single = append(single, l)
			continue
		}
		if !learners[l.Learner()] {
			learners[l.Learner()] = true
			names = append(names, l.Learner())
		}
		if learner == "" || l.Learner() == learner {
			out = append(out, l)
		}
	}
	switch {
	case len(learners) == 0:
		return nil, exit(exitNotChecked, fmt.Errorf("no lab of %s has learners: a lab block is per learner when it has for_each (for_each = var.learners) or count, and its checks name the learner's namespaces with each.key", a.displayPath(cfg)))
	case len(out) == 0:
		sort.Strings(names)
		return nil, exit(exitNotChecked, fmt.Errorf("there is no learner %q; learners: %s", learner, strings.Join(names, ", ")))
	case len(single) > 0 && learner != "":
		return nil, exit(exitNotChecked, fmt.Errorf("lab %s has no learners (no for_each or count), so --learner does not apply to it; name the labs that have, or leave %s out", single[0].Name, single[0].Name))
	}
	return out, nil
}
