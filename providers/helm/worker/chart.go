package worker

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"sigs.k8s.io/yaml"
)

// loadChart loads a local chart directory with helm's loader (which
// honours .helmignore and checks Chart.yaml).
func loadChart(dir string) (*chart.Chart, error) {
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("chart directory %s: %w", dir, err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("chart %s is not a directory (helm_release takes a local chart directory)", dir)
	}
	ch, err := loader.LoadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("load chart %s: %w", dir, err)
	}
	if err := ch.Validate(); err != nil {
		return nil, fmt.Errorf("chart %s: %w", dir, err)
	}
	return ch, nil
}

// chartDigest fingerprints the files helm loaded from a chart, so a chart
// edited without a version bump still plans an upgrade. It is cut to fit a
// label value.
func chartDigest(ch *chart.Chart) string {
	files := append([]*chart.File(nil), ch.Raw...)
	sort.Slice(files, func(i, j int) bool { return files[i].Name < files[j].Name })
	h := sha256.New()
	var n [8]byte
	for _, f := range files {
		binary.BigEndian.PutUint64(n[:], uint64(len(f.Name)))
		h.Write(n[:])
		h.Write([]byte(f.Name))
		binary.BigEndian.PutUint64(n[:], uint64(len(f.Data)))
		h.Write(n[:])
		h.Write(f.Data)
	}
	return hex.EncodeToString(h.Sum(nil))[:32]
}

// ownerRenderer is helm's post-render step: it puts lab's ownership labels
// and annotations on every object, so destroy, reset and drift know which
// objects are lab's.
type ownerRenderer struct {
	labels, annotations map[string]string
}

var docSep = regexp.MustCompile(`(?m)^---\s*$`)

func (r ownerRenderer) Run(in *bytes.Buffer) (*bytes.Buffer, error) {
	out := new(bytes.Buffer)
	for i, doc := range docSep.Split(in.String(), -1) {
		if len(bytes.TrimSpace([]byte(doc))) == 0 {
			continue
		}
		var obj map[string]any
		if err := yaml.Unmarshal([]byte(doc), &obj); err != nil {
			return nil, fmt.Errorf("rendered manifest document %d is not valid YAML: %w\n%s", i+1, err, excerpt(doc))
		}
		if obj == nil {
			continue // only comments
		}
		meta, ok := obj["metadata"].(map[string]any)
		if !ok {
			if obj["metadata"] != nil {
				return nil, fmt.Errorf("rendered manifest document %d: metadata is not an object\n%s", i+1, excerpt(doc))
			}
			meta = map[string]any{}
			obj["metadata"] = meta
		}
		if err := mergeStrings(meta, "labels", r.labels); err != nil {
			return nil, fmt.Errorf("rendered manifest document %d: %w", i+1, err)
		}
		if err := mergeStrings(meta, "annotations", r.annotations); err != nil {
			return nil, fmt.Errorf("rendered manifest document %d: %w", i+1, err)
		}
		b, err := yaml.Marshal(obj)
		if err != nil {
			return nil, fmt.Errorf("rendered manifest document %d: %w", i+1, err)
		}
		out.WriteString("---\n")
		// keep helm's "# Source: chart/templates/x.yaml" so `helm get
		// manifest` still says which template made an object
		for _, line := range strings.Split(doc, "\n") {
			if strings.HasPrefix(line, "# Source: ") {
				out.WriteString(line + "\n")
			}
		}
		out.Write(b)
	}
	return out, nil
}

func mergeStrings(meta map[string]any, key string, add map[string]string) error {
	if len(add) == 0 {
		return nil
	}
	m, ok := meta[key].(map[string]any)
	if !ok {
		if meta[key] != nil {
			return fmt.Errorf("metadata.%s is not a map", key)
		}
		m = map[string]any{}
		meta[key] = m
	}
	for k, v := range add {
		m[k] = v
	}
	return nil
}

func excerpt(doc string) string {
	const max = 400
	if len(doc) > max {
		return doc[:max] + "..."
	}
	return doc
}
