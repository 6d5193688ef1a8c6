package state

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

const (
	backupSuffix = ".backup"
	tmpSuffix    = ".tmp"
)

// Write saves s at path: it adds one to s.Serial, sets s.Lineage on the
// first write, and replaces the file atomically, so a crash at any moment
// leaves either the old or the new state, never a mix. The file is 0600;
// its directory is created 0700. The first Write of a State keeps the file
// it replaces as path.backup.
func Write(path string, s *State) error {
	if s == nil {
		return fmt.Errorf("write state %s: no state given", path)
	}
	if s.Lineage == "" {
		s.Lineage = newID()
	}
	s.Version = Version
	if s.Resources == nil {
		s.Resources = []Resource{}
	}
	s.Serial++
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		s.Serial--
		return fmt.Errorf("write state %s: %w", path, err)
	}
	data = append(data, '\n')
	if err := writeFile(path, data, !s.backedUp); err != nil {
		s.Serial--
		return err
	}
	s.backedUp = true
	return nil
}

func writeFile(path string, data []byte, backup bool) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("write state: %w", err)
	}
	base := filepath.Base(path)
	removeLeftovers(dir, base)
	if backup {
		if err := backupFile(path); err != nil {
			return err
		}
	}
	f, err := os.CreateTemp(dir, "."+base+".*"+tmpSuffix) // created 0600
	if err != nil {
		return fmt.Errorf("write state: %w", err)
	}
	tmp := f.Name()
	fail := func(err error) error {
		_ = f.Close()
		_ = os.Remove(tmp)
		return fmt.Errorf("write state %s: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	if err := f.Close(); err != nil {
		return fail(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("write state %s: %w", path, err)
	}
	// Without syncing the directory the rename itself may be lost in a
	// power cut, bringing back the old state after a new resource exists.
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("write state %s: %w", path, err)
	}
	return nil
}

// removeLeftovers deletes temp files of writes that were killed before
// their rename. Writers hold the state lock, so none is in progress.
func removeLeftovers(dir, base string) {
	matches, _ := filepath.Glob(filepath.Join(dir, "."+globEscape(base)+".*"+tmpSuffix))
	for _, m := range matches {
		_ = os.Remove(m)
	}
}

func globEscape(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `*`, `\*`, `?`, `\?`, `[`, `\[`)
	return r.Replace(s)
}

// backupFile makes path.backup the current content of path, if it exists.
// A hard link costs no copy and its data is already on disk; a copy is the
// fallback for file systems without links.
func backupFile(path string) error {
	backup := path + backupSuffix
	tmp := backup + tmpSuffix
	_ = os.Remove(tmp)
	err := os.Link(path, tmp)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		if err := copyFile(path, tmp); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			_ = os.Remove(tmp)
			return fmt.Errorf("back up state %s: %w", path, err)
		}
	}
	if err := os.Rename(tmp, backup); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("back up state %s: %w", path, err)
	}
	return nil
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		_ = out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		_ = out.Close()
		return err
	}
	return out.Close()
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, errors.ErrUnsupported) {
		return err
	}
	return nil
}
