package plan

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"labs.dev/lab/lab/state"
)

// Save writes p to path (mode 0600, atomically) for `lab apply FILE`.
func Save(path string, p *Plan) error {
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, ".plan-*")
	if err != nil {
		return fmt.Errorf("save plan: %w", err)
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return fmt.Errorf("save plan %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("save plan %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Chmod(f.Name(), 0o600); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// Load reads a saved plan.
func Load(path string) (*Plan, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read plan: %w", err)
	}
	var p Plan
	if err := json.Unmarshal(b, &p); err != nil || p.FormatVersion == 0 {
		return nil, fmt.Errorf("%s is not a lab plan file (make one with lab plan -out %s)", path, path)
	}
	if p.FormatVersion != FormatVersion {
		return nil, fmt.Errorf("%s is a plan of format %d; this lab reads format %d — make a new plan", path, p.FormatVersion, FormatVersion)
	}
	return &p, nil
}

// Stale says why p cannot be applied to st and the current config, or "".
func (p *Plan) Stale(st *state.State, configHash string) string {
	switch {
	case p.Lineage != "" && st.Lineage != "" && p.Lineage != st.Lineage:
		return fmt.Sprintf("the plan was made for another state (lineage %s, now %s)", p.Lineage, st.Lineage)
	case p.Serial != st.Serial || (p.Lineage == "" && st.Lineage != ""):
		return fmt.Sprintf("the state changed since the plan was made (serial %d, now %d)", p.Serial, st.Serial)
	case p.ConfigHash != configHash:
		return "the lab file or variables changed since the plan was made"
	}
	return ""
}
