package state

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"labs.dev/lab/lab/resource"
)

var (
	cluster = resource.Addr{Type: "kind_cluster", Name: "kind"}
	dev     = resource.Addr{Type: "namespace", Name: "dev"}
	staging = resource.Addr{Type: "namespace", Name: "staging"}
)

func clusterValue() cty.Value {
	return cty.ObjectVal(map[string]cty.Value{
		"name":       cty.StringVal("kind"),
		"runtime":    cty.StringVal("simulated"),
		"kubeconfig": cty.StringVal("/home/u/.kube/config"),
		"nodes":      cty.ListVal([]cty.Value{cty.StringVal("control-plane"), cty.StringVal("worker")}),
		"labels":     cty.MapVal(map[string]cty.Value{"a": cty.StringVal("b")}),
		"ports":      cty.SetVal([]cty.Value{cty.NumberIntVal(80), cty.NumberIntVal(443)}),
		"wait":       cty.NullVal(cty.String),
		"ready":      cty.True,
		"extra":      cty.TupleVal([]cty.Value{cty.StringVal("x"), cty.NumberFloatVal(1.5)}),
	})
}

func TestRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), ".lab", FileName)
	s, err := Load(path)
	if err != nil {
		t.Fatalf("Load of a missing file: %v", err)
	}
	if len(s.Resources) != 0 || s.Serial != 0 || s.Version != Version {
		t.Fatalf("Load of a missing file = %+v, want an empty state", s)
	}
	s.LabVersion = "v0.1.0"
	nsVal := cty.ObjectVal(map[string]cty.Value{"name": cty.StringVal("dev").Mark("sensitive")})
	for _, step := range []struct {
		addr resource.Addr
		v    cty.Value
		deps []resource.Addr
	}{
		{staging, cty.ObjectVal(map[string]cty.Value{"name": cty.StringVal("staging")}), []resource.Addr{cluster}},
		{cluster, clusterValue(), nil},
		{dev, nsVal, []resource.Addr{cluster, cluster}},
	} {
		if err := s.SetValue(step.addr, step.v, step.deps); err != nil {
			t.Fatalf("SetValue(%s): %v", step.addr, err)
		}
	}
	s.Taint(staging)
	if err := Write(path, s); err != nil {
		t.Fatal(err)
	}
	if s.Serial != 1 || len(s.Lineage) != 36 {
		t.Fatalf("after the first Write: serial %d lineage %q", s.Serial, s.Lineage)
	}

	got, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if got.Serial != 1 || got.Lineage != s.Lineage || got.LabVersion != "v0.1.0" {
		t.Fatalf("loaded serial %d lineage %q version %q", got.Serial, got.Lineage, got.LabVersion)
	}
	var order []string
	for _, r := range got.Resources {
		order = append(order, r.Addr.String())
	}
	if want := "kind_cluster.kind namespace.dev namespace.staging"; strings.Join(order, " ") != want {
		t.Fatalf("resources in order %v, want %s", order, want)
	}
	v, err := got.Value(cluster)
	if err != nil {
		t.Fatal(err)
	}
	if !v.RawEquals(clusterValue()) {
		t.Fatalf("cluster value\n got %#v\nwant %#v", v, clusterValue())
	}
	v, err = got.Value(dev)
	if err != nil {
		t.Fatal(err)
	}
	if !v.RawEquals(cty.ObjectVal(map[string]cty.Value{"name": cty.StringVal("dev")})) {
		t.Fatalf("dev value %#v", v)
	}
	r, ok := got.Get(dev)
	if !ok || len(r.Deps) != 1 || r.Deps[0] != cluster || r.Status != StatusOK {
		t.Fatalf("dev = %+v, %v", r, ok)
	}
	if r, _ := got.Get(staging); r.Status != StatusTainted {
		t.Fatalf("staging status %q, want tainted", r.Status)
	}
	if _, err := got.Value(resource.Addr{Type: "namespace", Name: "nope"}); err == nil {
		t.Fatal("Value of a missing resource: no error")
	}

	got.Remove(dev)
	got.Remove(dev)
	if _, ok := got.Get(dev); ok || len(got.Resources) != 2 {
		t.Fatalf("after Remove: %d resources", len(got.Resources))
	}
	if err := Write(path, got); err != nil {
		t.Fatal(err)
	}
	again, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if again.Serial != 2 || again.Lineage != s.Lineage || len(again.Resources) != 2 {
		t.Fatalf("second write: serial %d lineage %q, %d resources", again.Serial, again.Lineage, len(again.Resources))
	}
}

func TestSetValueRefusesUnknown(t *testing.T) {
	s := New()
	v := cty.ObjectVal(map[string]cty.Value{"kubeconfig": cty.UnknownVal(cty.String)})
	if err := s.SetValue(cluster, v, nil); err == nil {
		t.Fatal("SetValue of an unknown value: no error")
	}
	if err := s.SetValue(cluster, cty.NilVal, nil); err == nil {
		t.Fatal("SetValue of cty.NilVal: no error")
	}
	if err := s.SetValue(cluster, cty.NullVal(cty.EmptyObject), nil); err == nil {
		t.Fatal("SetValue of a null value: no error")
	}
	if len(s.Resources) != 0 {
		t.Fatal("a refused SetValue changed the state")
	}
}

func TestModes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), ".lab")
	path := filepath.Join(dir, FileName)
	if err := Write(path, New()); err != nil {
		t.Fatal(err)
	}
	s, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := Write(path, s); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]os.FileMode{dir: 0o700 | os.ModeDir, path: 0o600, path + ".backup": 0o600} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != want {
			t.Errorf("%s: mode %v, want %v", p, fi.Mode(), want)
		}
	}
	// A state file someone made world-readable is 0600 again after a write.
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Write(path, s); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(path); fi.Mode() != 0o600 {
		t.Errorf("after a write over a 0644 file: mode %v", fi.Mode())
	}
}

func TestBackup(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	s := New()
	if err := Write(path, s); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path + ".backup"); !os.IsNotExist(err) {
		t.Fatalf("backup after the first write ever: %v", err)
	}

	// A run: loads serial 1, writes after each resource.
	run, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []resource.Addr{cluster, dev, staging} {
		if err := run.SetValue(a, cty.EmptyObjectVal, nil); err != nil {
			t.Fatal(err)
		}
		if err := Write(path, run); err != nil {
			t.Fatal(err)
		}
	}
	backup, err := Load(path + ".backup")
	if err != nil {
		t.Fatal(err)
	}
	if backup.Serial != 1 || len(backup.Resources) != 0 {
		t.Fatalf("backup has serial %d and %d resources, want the state from before the run (serial 1, none)", backup.Serial, len(backup.Resources))
	}

	// The next run backs up what the previous run left.
	next, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	next.Remove(dev)
	if err := Write(path, next); err != nil {
		t.Fatal(err)
	}
	backup, err = Load(path + ".backup")
	if err != nil {
		t.Fatal(err)
	}
	if backup.Serial != 4 || len(backup.Resources) != 3 {
		t.Fatalf("backup has serial %d and %d resources, want serial 4 with 3", backup.Serial, len(backup.Resources))
	}
}

// A process killed during Write leaves at most a temp file beside the state;
// the state itself is the last complete write.
func TestCrashLeavesTempFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, FileName)
	s := New()
	if err := s.SetValue(dev, cty.EmptyObjectVal, nil); err != nil {
		t.Fatal(err)
	}
	if err := Write(path, s); err != nil {
		t.Fatal(err)
	}
	full, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	leftover := filepath.Join(dir, "."+FileName+".123456"+tmpSuffix)
	if err := os.WriteFile(leftover, full[:len(full)/2], 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := Load(path)
	if err != nil {
		t.Fatalf("Load with a leftover temp file: %v", err)
	}
	if got.Serial != 1 || len(got.Resources) != 1 {
		t.Fatalf("Load with a leftover temp file: serial %d, %d resources", got.Serial, len(got.Resources))
	}
	if err := Write(path, got); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(leftover); !os.IsNotExist(err) {
		t.Errorf("the next Write left the temp file behind: %v", err)
	}
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if want := FileName + " " + FileName + ".backup"; strings.Join(names, " ") != want {
		t.Errorf("files after a write: %v, want %s", names, want)
	}
}

func TestLoadErrors(t *testing.T) {
	valid := func(mod func(m map[string]any)) string {
		m := map[string]any{"version": 1, "serial": 3, "lineage": "x", "resources": []any{
			map[string]any{"addr": map[string]any{"type": "namespace", "name": "dev"}, "attrs": map[string]any{}, "attrs_type": []any{"object", map[string]any{}}, "status": "ok"},
		}}
		mod(m)
		b, _ := json.Marshal(m)
		return string(b)
	}
	res := func(m map[string]any) map[string]any { return m["resources"].([]any)[0].(map[string]any) }
	for _, tc := range []struct {
		name, content, want string
	}{
		{"empty", "", "is empty"},
		{"spaces", "  \n", "is empty"},
		{"not json", "{", "is not valid JSON"},
		{"truncated", valid(func(map[string]any) {})[:40], "is not valid JSON"},
		{"array", "[]", "is not valid JSON"},
		{"no version", `{"serial": 1}`, "has no format version"},
		{"future", `{"version": 2, "whatever": true}`, "newer than this lab understands"},
		{"zero", `{"version": 0}`, "format version 0"},
		{"unknown field", valid(func(m map[string]any) { m["surprise"] = 1 }), "is not a valid lab state"},
		{"bad serial", valid(func(m map[string]any) { m["serial"] = -1 }), "is not a valid lab state"},
		{"no name", valid(func(m map[string]any) { res(m)["addr"] = map[string]any{"type": "namespace"} }), "without a type or name"},
		{"bad status", valid(func(m map[string]any) { res(m)["status"] = "weird" }), "unknown status"},
		{"bad type", valid(func(m map[string]any) { res(m)["attrs_type"] = "nonsense" }), "is damaged"},
		{"attrs mismatch", valid(func(m map[string]any) { res(m)["attrs"] = "str" }), "is damaged"},
		{"twice", valid(func(m map[string]any) { m["resources"] = append(m["resources"].([]any), res(m)) }), "has namespace.dev twice"},
		{"trailing", valid(func(map[string]any) {}) + "{}", "is not valid JSON"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), FileName)
			if err := os.WriteFile(path, []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := Load(path)
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			wants := []string{path, tc.want, path + ".backup"}
			if tc.name == "future" {
				// The file is fine; only this lab is too old for it.
				wants = []string{path, tc.want, "use the lab release that wrote it"}
				if strings.Contains(msg, ".backup") {
					t.Errorf("error %q suggests restoring a backup of a valid file", msg)
				}
			}
			for _, want := range wants {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q does not contain %q", msg, want)
				}
			}
			if b, _ := os.ReadFile(path); string(b) != tc.content {
				t.Error("Load changed the file")
			}
		})
	}
}

func TestLoadSortsHandEditedFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	content := `{"version":1,"serial":1,"lineage":"l","resources":[
{"addr":{"type":"namespace","name":"dev"},"attrs":{},"attrs_type":["object",{}],"status":"ok"},
{"addr":{"type":"kind_cluster","name":"kind"},"attrs":{},"attrs_type":["object",{}],"status":"ok"}]}`
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []resource.Addr{cluster, dev} {
		if _, ok := s.Get(a); !ok {
			t.Errorf("Get(%s) on a hand-ordered file: not found", a)
		}
	}
}

func TestLoadUnreadable(t *testing.T) {
	dir := t.TempDir()
	// A directory where the file should be.
	path := filepath.Join(dir, FileName)
	if err := os.Mkdir(path, 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path); err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("Load of a directory: %v", err)
	}
}

func FuzzLoad(f *testing.F) {
	f.Add([]byte(`{"version":1,"serial":1,"lineage":"l","resources":[{"addr":{"type":"namespace","name":"dev"},"attrs":{"name":"dev","n":[1,2]},"attrs_type":["object",{"name":"string","n":["list","number"]}],"deps":[{"type":"kind_cluster","name":"kind"}],"status":"ok"}]}`))
	f.Add([]byte(`{"version":1,"resources":[{"addr":{"type":"a","name":"b"},"attrs":{"value":1,"type":"number"},"attrs_type":"dynamic","status":"tainted"}]}`))
	f.Add([]byte(`{"version":2}`))
	f.Add([]byte(`{`))
	f.Add([]byte(``))
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), FileName)
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		s, err := Load(path)
		if err != nil {
			return
		}
		for _, r := range s.Resources {
			if _, err := s.Value(r.Addr); err != nil {
				t.Fatalf("Load accepted %s but Value fails: %v", r.Addr, err)
			}
		}
		// What Load accepts, Write must write and Load read back.
		if err := Write(path, s); err != nil {
			t.Fatal(err)
		}
		if _, err := Load(path); err != nil {
			t.Fatalf("Load after Write: %v", err)
		}
	})
}
