package host

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// The node images lab knows.
const (
	// PublishedImage is kind v0.33.0's published node image for
	// Kubernetes 1.35, the minor lab pins for every runtime (the
	// simulated control plane and the offline image run v1.35.4), so the
	// lesson's cluster is the same Kubernetes whichever runtime a learner
	// gets. The digest is from kind's release notes: kind supports an
	// image only with the release that built it.
	PublishedImage = "kindest/node:v1.35.8@sha256:07b2536e30b803ed61d1677a79df6115f798ce64c80f9e22f6ed45afd09323c0"
	// OfflineImage is the node image `make node-image` builds from
	// source and Debian packages, with no registry.
	OfflineImage = "localhost/lab/kind-node:v1.35.4"
)

// Where a node image comes from.
const (
	FromConfig    = "node_image"
	FromPublished = "kind's published image"
	FromOffline   = "lab's offline build"
)

// Image is the node image a cluster will run.
type Image struct {
	Ref    string `json:"ref"`
	Source string `json:"source"`
	// Present is true when the engine has it; else kind pulls it.
	Present bool `json:"present"`
}

// Describe says which image and where it comes from, for progress lines.
func (i Image) Describe() string {
	s := fmt.Sprintf("node image %s (%s", i.Ref, i.Source)
	if i.Present {
		return s + ", present)"
	}
	return s + ", pulled on first use)"
}

// ImageTimeout bounds one `inspect --type=image`.
const ImageTimeout = 10 * time.Second

// present asks the engine whether it has ref, the way kind does before
// it decides to pull.
func (h Host) present(ctx context.Context, engine, ref string) bool {
	ctx, cancel := context.WithTimeout(ctx, ImageTimeout)
	defer cancel()
	_, err := h.Run(ctx, engine, "inspect", "--type=image", ref)
	return err == nil
}

// pullable reports whether ref's registry answers; a local name
// (localhost/...) has none.
func (h Host) pullable(ctx context.Context, ref string) error {
	reg := Registry(ref)
	if reg == "" {
		return fmt.Errorf("%s is a local name, no registry has it", ref)
	}
	if err := h.Reach(ctx, reg); err != nil {
		return fmt.Errorf("%s cannot be reached: %s", reg, firstLine(err))
	}
	return nil
}

// Registry is the host a reference is pulled from, as docker and podman
// read it: the first part when it looks like a host, else Docker Hub; ""
// for localhost, which names an image built on this machine.
func Registry(ref string) string {
	i := strings.IndexByte(ref, '/')
	if i < 0 {
		return "registry-1.docker.io"
	}
	first := ref[:i]
	switch {
	case first == "localhost" || strings.HasPrefix(first, "localhost:"):
		return ""
	case strings.ContainsAny(first, ".:"):
		if first == "docker.io" || first == "index.docker.io" {
			return "registry-1.docker.io"
		}
		return first
	}
	return "registry-1.docker.io"
}

// ResolveImage picks the node image: the configured one when set; else
// kind's published image where it can be had (present, or its registry
// answers), else lab's offline build when present. The finding fails
// when none can be had, and says how to get one.
func (h Host) ResolveImage(ctx context.Context, engine, configured string) (Image, Finding) {
	f := Finding{Check: "image", Engine: engine, Status: OK}
	if configured != "" {
		img := Image{Ref: configured, Source: FromConfig, Present: h.present(ctx, engine, configured)}
		if img.Present {
			f.Message = img.Describe()
			return img, f
		}
		err := h.pullable(ctx, configured)
		if err == nil {
			f.Message = img.Describe()
			return img, f
		}
		f.Status = Fail
		f.Message = fmt.Sprintf("node image %s is not on %s and cannot be pulled (%v)", configured, engine, err)
		f.Fix = "connect to the network, or leave node_image unset and build lab's offline image once: make node-image"
		return img, f
	}
	if h.present(ctx, engine, PublishedImage) {
		img := Image{Ref: PublishedImage, Source: FromPublished, Present: true}
		f.Message = img.Describe()
		return img, f
	}
	pullErr := h.pullable(ctx, PublishedImage)
	if pullErr == nil {
		img := Image{Ref: PublishedImage, Source: FromPublished}
		f.Message = img.Describe()
		return img, f
	}
	if h.present(ctx, engine, OfflineImage) {
		img := Image{Ref: OfflineImage, Source: FromOffline, Present: true}
		f.Message = img.Describe() + "; kind's published image cannot be had: " + pullErr.Error()
		return img, f
	}
	f.Status = Fail
	f.Message = fmt.Sprintf("no node image: %s has neither kind's %s nor lab's offline %s, and %v", engine, PublishedImage, OfflineImage, pullErr)
	f.Fix = "make node-image (builds the offline image from source, no registry needed), or connect to the network"
	return Image{}, f
}
