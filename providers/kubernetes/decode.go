package kubernetes

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	kjson "k8s.io/apimachinery/pkg/util/json"
	"sigs.k8s.io/yaml"

	"labs.dev/lab/lab/config/yamlguard"
)

// object is one decoded document of a manifest.
type object struct {
	Doc  int // 1-based position of its document in the YAML stream
	Line int // first line of its document
	Obj  *unstructured.Unstructured
}

func (o object) gvk() schema.GroupVersionKind { return o.Obj.GroupVersionKind() }

// doc names where an object came from, for errors.
func (o object) doc() string { return fmt.Sprintf("document %d (line %d)", o.Doc, o.Line) }

// maxDocument is the largest request body kube-apiserver accepts (3 MiB);
// a bigger document cannot be applied, so it is refused before decoding.
const maxDocument = 3 << 20

var yamlLine = regexp.MustCompile(`line (\d+)`)

// decode splits a multi-document YAML stream the way kubectl does ("---"
// alone on a line, optionally followed by a comment) and decodes each
// non-empty document into an object; "kind: List" documents are flattened.
func decode(src []byte) ([]object, error) {
	type chunk struct {
		doc   int
		start int // line of the chunk's first line, for YAML's own line numbers
		line  int // line of its first content, to name the document by
		text  []byte
	}
	var chunks []chunk
	cur := chunk{doc: 1, start: 1}
	sc := bufio.NewScanner(bytes.NewReader(src))
	sc.Buffer(make([]byte, 64*1024), len(src)+1)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Bytes()
		if rest, ok := bytes.CutPrefix(line, []byte("---")); ok {
			rest = bytes.TrimSpace(rest)
			if len(rest) > 0 && rest[0] != '#' {
				return nil, fmt.Errorf("document %d, line %d: text after the \"---\" separator is not supported; put it on the next line", cur.doc+1, n)
			}
			chunks = append(chunks, cur)
			cur = chunk{doc: cur.doc + 1, start: n + 1}
			continue
		}
		if t := bytes.TrimSpace(line); cur.line == 0 && len(t) > 0 && t[0] != '#' {
			cur.line = n
		}
		cur.text = append(cur.text, line...)
		cur.text = append(cur.text, '\n')
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading YAML: %w", err)
	}
	chunks = append(chunks, cur)

	var objs []object
	for _, c := range chunks {
		if len(bytes.TrimSpace(c.text)) == 0 {
			continue
		}
		if len(c.text) > maxDocument {
			return nil, fmt.Errorf("document %d (line %d) is %d bytes; the API server takes at most %d bytes per object, so split it", c.doc, c.line, len(c.text), maxDocument)
		}
		if err := yamlguard.Check(c.text, yamlguard.MaxNodes); err != nil {
			var bomb *yamlguard.BombError
			if errors.As(err, &bomb) {
				return nil, fmt.Errorf("document %d (line %d) %s", c.doc, c.line, bomb.Reason())
			}
			return nil, fmt.Errorf("document %d (line %d): %w", c.doc, c.line, err)
		}
		js, err := yaml.YAMLToJSON(c.text)
		if err != nil {
			return nil, fmt.Errorf("document %d (line %d): %s", c.doc, c.line, absLines(err.Error(), c.start))
		}
		if bytes.Equal(bytes.TrimSpace(js), []byte("null")) {
			continue // only comments
		}
		if js[0] != '{' {
			return nil, fmt.Errorf("document %d (line %d): a Kubernetes object must be a mapping with apiVersion, kind and metadata, not %s", c.doc, c.line, describeJSON(js))
		}
		var m map[string]any
		if err := kjson.Unmarshal(js, &m); err != nil {
			return nil, fmt.Errorf("document %d (line %d): %w", c.doc, c.line, err)
		}
		u := &unstructured.Unstructured{Object: m}
		if items, ok := m["items"].([]any); ok && strings.HasSuffix(u.GetKind(), "List") {
			for i, it := range items {
				im, ok := it.(map[string]any)
				if !ok {
					return nil, fmt.Errorf("document %d (line %d): item %d of the %s is not a mapping", c.doc, c.line, i, u.GetKind())
				}
				objs = append(objs, object{Doc: c.doc, Line: c.line, Obj: &unstructured.Unstructured{Object: im}})
			}
			continue
		}
		objs = append(objs, object{Doc: c.doc, Line: c.line, Obj: u})
	}
	for _, o := range objs {
		if err := checkObject(o); err != nil {
			return nil, err
		}
	}
	return objs, nil
}

func checkObject(o object) error {
	u := o.Obj
	switch {
	case u.GetAPIVersion() == "":
		return fmt.Errorf("%s: %s has no apiVersion (e.g. \"v1\" or \"apps/v1\")", o.doc(), orKind(u.GetKind()))
	case u.GetKind() == "":
		return fmt.Errorf("%s: object has no kind (e.g. ConfigMap)", o.doc())
	case u.GetName() == "":
		if u.GetGenerateName() != "" {
			return fmt.Errorf("%s: %s uses metadata.generateName, which server-side apply cannot track; give it a metadata.name", o.doc(), u.GetKind())
		}
		return fmt.Errorf("%s: %s has no metadata.name", o.doc(), u.GetKind())
	}
	if _, err := schema.ParseGroupVersion(u.GetAPIVersion()); err != nil {
		return fmt.Errorf("%s: %s %s: apiVersion %q is not group/version (e.g. apps/v1)", o.doc(), u.GetKind(), u.GetName(), u.GetAPIVersion())
	}
	return nil
}

func orKind(k string) string {
	if k == "" {
		return "object"
	}
	return k
}

// absLines turns the document-relative "line N" of a YAML error into a
// line of the whole stream.
func absLines(msg string, first int) string {
	return yamlLine.ReplaceAllStringFunc(msg, func(m string) string {
		n, err := strconv.Atoi(strings.TrimPrefix(m, "line "))
		if err != nil {
			return m
		}
		return "line " + strconv.Itoa(n+first-1)
	})
}

func describeJSON(js []byte) string {
	switch js[0] {
	case '[':
		return "a list"
	case '"':
		return "a string"
	default:
		return "a scalar"
	}
}
