// Command imagetar writes a container image archive in `docker save`
// form from layer tarballs, with no registry and no engine: docker load,
// podman load and `ctr images import` all read it. The node image build
// uses it for the node image and for every image preloaded inside it.
//
//	imagetar -o out.tar -tag REF [-tag REF]... -layer L.tar [-layer L.tar]...
//	         [-entrypoint JSON] [-cmd JSON] [-env K=V]... [-label K=V]...
//	         [-workdir DIR] [-stopsignal SIG]
package main

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// list is a repeatable string flag.
type list []string

func (l *list) String() string     { return strings.Join(*l, ",") }
func (l *list) Set(v string) error { *l = append(*l, v); return nil }

// imageConfig is the part of the image configuration a container engine
// reads to start the image.
type imageConfig struct {
	Entrypoint []string          `json:"Entrypoint,omitempty"`
	Cmd        []string          `json:"Cmd,omitempty"`
	Env        []string          `json:"Env,omitempty"`
	Labels     map[string]string `json:"Labels,omitempty"`
	WorkingDir string            `json:"WorkingDir,omitempty"`
	StopSignal string            `json:"StopSignal,omitempty"`
}

type image struct {
	Architecture string      `json:"architecture"`
	OS           string      `json:"os"`
	Created      string      `json:"created"`
	Config       imageConfig `json:"config"`
	RootFS       struct {
		Type    string   `json:"type"`
		DiffIDs []string `json:"diff_ids"`
	} `json:"rootfs"`
}

type manifestEntry struct {
	Config   string
	RepoTags []string
	Layers   []string
}

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "imagetar:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("imagetar", flag.ContinueOnError)
	out := fs.String("o", "", "archive to write")
	var tags, layers, env, labels list
	fs.Var(&tags, "tag", "image reference to record (repeatable)")
	fs.Var(&layers, "layer", "layer tarball, lowest first (repeatable)")
	fs.Var(&env, "env", "K=V environment entry (repeatable)")
	fs.Var(&labels, "label", "K=V image label (repeatable)")
	entrypoint := fs.String("entrypoint", "", "entrypoint as a JSON array")
	cmd := fs.String("cmd", "", "command as a JSON array")
	workdir := fs.String("workdir", "", "working directory")
	stop := fs.String("stopsignal", "", "signal that stops a container of the image")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" || len(tags) == 0 || len(layers) == 0 {
		return errors.New("need -o, at least one -tag and at least one -layer")
	}
	img := image{Architecture: "amd64", OS: "linux", Created: time.Now().UTC().Format(time.RFC3339)}
	img.RootFS.Type = "layers"
	img.Config = imageConfig{Env: env, WorkingDir: *workdir, StopSignal: *stop}
	for _, f := range []struct {
		flag string
		val  string
		dst  *[]string
	}{{"-entrypoint", *entrypoint, &img.Config.Entrypoint}, {"-cmd", *cmd, &img.Config.Cmd}} {
		if f.val != "" {
			if err := json.Unmarshal([]byte(f.val), f.dst); err != nil {
				return fmt.Errorf("%s %q is not a JSON array of strings: %v", f.flag, f.val, err)
			}
		}
	}
	for _, l := range labels {
		k, v, ok := strings.Cut(l, "=")
		if !ok {
			return fmt.Errorf("-label %q is not K=V", l)
		}
		if img.Config.Labels == nil {
			img.Config.Labels = map[string]string{}
		}
		img.Config.Labels[k] = v
	}

	// Written beside the target and renamed into place, so an interrupted
	// run leaves no archive that looks complete.
	tmp, err := os.CreateTemp(filepath.Dir(*out), ".imagetar-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	tw := tar.NewWriter(tmp)
	m := manifestEntry{RepoTags: tags}
	for i, l := range layers {
		name := fmt.Sprintf("layers/%d.tar", i)
		sum, err := addFile(tw, name, l)
		if err != nil {
			return err
		}
		img.RootFS.DiffIDs = append(img.RootFS.DiffIDs, "sha256:"+sum)
		m.Layers = append(m.Layers, name)
	}
	cfg, err := json.Marshal(img)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(cfg)
	m.Config = hex.EncodeToString(sum[:]) + ".json"
	mf, err := json.Marshal([]manifestEntry{m})
	if err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		data []byte
	}{{m.Config, cfg}, {"manifest.json", mf}} {
		if err := addBytes(tw, f.name, f.data); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), *out)
}

// addFile copies the file at path into the archive as name and returns
// the hex sha256 of its content, which for a layer is its diff ID.
func addFile(tw *tar.Writer, name, path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", err
	}
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: fi.Size(), ModTime: fi.ModTime(), Typeflag: tar.TypeReg}); err != nil {
		return "", err
	}
	h := sha256.New()
	if n, err := io.Copy(io.MultiWriter(tw, h), f); err != nil {
		return "", fmt.Errorf("copy %s: %v", path, err)
	} else if n != fi.Size() {
		return "", fmt.Errorf("%s changed while being read (%d of %d bytes)", path, n, fi.Size())
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func addBytes(tw *tar.Writer, name string, data []byte) error {
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), ModTime: time.Now(), Typeflag: tar.TypeReg}); err != nil {
		return err
	}
	_, err := tw.Write(data)
	return err
}
