package simulated

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// BinKey names the pinned control-plane build. It must match what
// tools/controlplane/build.sh derives from its go.mod files
// (TestBinKeyMatchesBuildScript keeps them in step).
const BinKey = "k8s-v1.35.4_etcd-v3.6.6_kwok-v0.8.0_static"

// BuildCommand builds the binaries into the cache BinDir looks in.
const BuildCommand = "make control-plane"

// Binaries the runtime starts, plus kubectl for tests and learners.
var (
	serverBinaries = []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok"}
	allBinaries    = append(append([]string{}, serverBinaries...), "kubectl")
)

// MissingBinariesError says which control-plane binaries were not found
// and where lab looked.
type MissingBinariesError struct {
	Missing []string
	Looked  []string
}

func (e *MissingBinariesError) Error() string {
	return fmt.Sprintf("simulated runtime: control-plane binaries not found: %s (looked in %s); run `%s` in the lab checkout to build them (≈10 min once; cached in %s), or set LAB_BIN_DIR to a directory holding them",
		strings.Join(e.Missing, ", "), strings.Join(e.Looked, ", "), BuildCommand, CacheBinDir())
}

// CacheBinDir is where tools/controlplane/build.sh puts the binaries:
// ${LAB_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/lab}/bin/<BinKey>.
func CacheBinDir() string {
	base := os.Getenv("LAB_CACHE_DIR")
	if base == "" {
		cache := os.Getenv("XDG_CACHE_HOME")
		if cache == "" {
			home, _ := os.UserHomeDir()
			cache = filepath.Join(home, ".cache")
		}
		base = filepath.Join(cache, "lab")
	}
	return filepath.Join(base, "bin", BinKey)
}

// BinDir finds the directory holding the server binaries: $LAB_BIN_DIR,
// beside the running executable, the build cache, then PATH (the directory
// of the first etcd found). The error is a *MissingBinariesError.
func BinDir() (string, error) {
	dirs, err := binPaths(serverBinaries)
	if err != nil {
		return "", err
	}
	return filepath.Dir(dirs["etcd"]), nil
}

// KubectlPath finds kubectl the same way, for tests and tools.
func KubectlPath() (string, error) {
	p, err := binPaths([]string{"kubectl"})
	if err != nil {
		return "", err
	}
	return p["kubectl"], nil
}

// binPaths returns a path per name, all from the first candidate
// directory that holds every one of them, so the versions never mix.
func binPaths(names []string) (map[string]string, error) {
	var candidates []string
	if d := os.Getenv("LAB_BIN_DIR"); d != "" {
		candidates = append(candidates, d)
	}
	if exe, err := os.Executable(); err == nil {
		candidates = append(candidates, filepath.Dir(exe))
	}
	candidates = append(candidates, CacheBinDir())
	var missing []string
	for i, dir := range candidates {
		paths := map[string]string{}
		var miss []string
		for _, n := range names {
			p := filepath.Join(dir, n)
			if isExecutable(p) {
				paths[n] = p
			} else {
				miss = append(miss, n)
			}
		}
		if len(miss) == 0 {
			return paths, nil
		}
		// Report what the explicit choice (or else the cache) lacks.
		if i == 0 || dir == CacheBinDir() {
			if missing == nil {
				missing = miss
			}
		}
	}
	// On PATH, take the directory of the first binary and insist on the
	// rest beside it: a distribution's etcd next to our kube-apiserver
	// would be a version mix (Debian's etcd 3.4 is too old).
	if first, err := exec.LookPath(names[0]); err == nil {
		dir := filepath.Dir(first)
		paths := map[string]string{}
		for _, n := range names {
			if p := filepath.Join(dir, n); isExecutable(p) {
				paths[n] = p
			}
		}
		if len(paths) == len(names) {
			return paths, nil
		}
	}
	looked := append(candidates, "PATH")
	return nil, &MissingBinariesError{Missing: missing, Looked: looked}
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

// IsMissingBinaries reports whether err is a *MissingBinariesError.
func IsMissingBinaries(err error) bool {
	var m *MissingBinariesError
	return errors.As(err, &m)
}
