package resource

import (
	"encoding/json"
	"testing"

	"github.com/zclconf/go-cty/cty"
)

func TestPathString(t *testing.T) {
	for _, tc := range []struct {
		p    Path
		want string
	}{
		{Path{}.Attr("spec").Attr("replicas"), "spec.replicas"},
		{Path{}.Attr("spec").Attr("containers").Index(0).Attr("image"), "spec.containers[0].image"},
		{Path{}.Attr("labels").Key("team"), `labels["team"]`},
		{Path{}.Attr("metadata").Attr("labels").Field("app.kubernetes.io/name"), `metadata.labels["app.kubernetes.io/name"]`},
		{Path{}.Attr("values").Field("max-surge").Field("9lives").Field(""), `values.max-surge["9lives"][""]`},
		{Path{}.Field("a b"), `["a b"]`},
		{Path{}.Attr("spec").Attr("containers").Item("app").Attr("ports").Splat(), "spec.containers[name=app].ports[*]"},
		{CtyPath(cty.GetAttrPath("labels").IndexString("team").IndexString("app.kubernetes.io/x").IndexInt(2)), `labels.team["app.kubernetes.io/x"][2]`},
	} {
		if got := tc.p.String(); got != tc.want {
			t.Errorf("%#v: got %s, want %s", tc.p, got, tc.want)
		}
		back, err := ParsePath(tc.want)
		if err != nil || back.String() != tc.want {
			t.Errorf("ParsePath(%s) = %v, %v", tc.want, back, err)
		}
	}
}

func TestPathSteps(t *testing.T) {
	base := Path{}.Attr("spec")
	a, b := base.Attr("a"), base.Attr("b")
	if a.String() != "spec.a" || b.String() != "spec.b" {
		t.Errorf("one path changed another: %s %s", a, b)
	}
}

func TestParsePathRefuses(t *testing.T) {
	for _, s := range []string{"Deployment dev/fleet: spec", "a..b", `a["b`, "a[x]", "a[", `a["b"]c`, "node kind-control-plane", "a[-1]"} {
		if p, err := ParsePath(s); err == nil {
			t.Errorf("ParsePath(%q) = %v, want an error", s, p)
		}
	}
}

func TestPathHasPrefix(t *testing.T) {
	labels := Path{}.Attr("labels")
	for _, tc := range []struct {
		p, prefix Path
		want      bool
	}{
		{labels.Key("token"), labels.Attr("token"), true},
		{labels.Attr("token"), labels.Key("token"), true},
		{labels.Key("token").Attr("x"), labels.Attr("token"), true},
		{labels, labels, true},
		{labels.Key("app.kubernetes.io/name"), labels.Attr("app"), false},
		{labels.Attr("tokens"), labels.Attr("token"), false},
		{labels, labels.Attr("token"), false},
		{Path{}.Attr("list").Index(1), Path{}.Attr("list").Index(0), false},
	} {
		if got := tc.p.HasPrefix(tc.prefix); got != tc.want {
			t.Errorf("%s.HasPrefix(%s) = %v, want %v", tc.p, tc.prefix, got, tc.want)
		}
	}
}

func TestPathJSON(t *testing.T) {
	in := []Path{Path{}.Attr("labels").Key("token"), Path{}.Attr("values").Attr("password")}
	b, err := json.Marshal(in)
	if err != nil || string(b) != `["labels[\"token\"]","values.password"]` {
		t.Fatalf("Marshal = %s, %v", b, err)
	}
	var out []Path
	// A path an older lab wrote, which ParsePath cannot read, comes back
	// as it was.
	if err := json.Unmarshal([]byte(`["labels[\"token\"]","labels.app.kubernetes.io/name x"]`), &out); err != nil {
		t.Fatal(err)
	}
	if len(out) != 2 || out[0].String() != `labels["token"]` || out[1].String() != "labels.app.kubernetes.io/name x" {
		t.Errorf("Unmarshal = %v", out)
	}
}

// FuzzParsePath: no input panics, and what ParsePath reads it writes
// back so that it reads the same again.
func FuzzParsePath(f *testing.F) {
	for _, s := range []string{"spec.replicas", `labels["a.b"]`, "a[0][*][name=x].b", "a..b", `["k"]`, "containers.0.image"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePath(s)
		if err != nil {
			return
		}
		q, err := ParsePath(p.String())
		if err != nil || q.String() != p.String() || !q.HasPrefix(p) || !p.HasPrefix(q) {
			t.Errorf("%q reads as %#v, written %q, which reads as %#v (%v)", s, p, p.String(), q, err)
		}
	})
}
