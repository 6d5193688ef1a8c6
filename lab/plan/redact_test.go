package plan

import (
	"strings"
	"testing"

	"labs.dev/lab/lab/resource"
)

func TestRedact(t *testing.T) {
	secrets := []string{"hunter22", "7"}
	c := &Change{Sensitive: []resource.Path{resource.Path{}.Attr("labels").Attr("token"), resource.Path{}.Attr("values").Attr("password")}}
	c.Reason = "drift: hunter22 was changed"
	c.Fields = []resource.FieldDiff{
		{Path: `labels["token"]`, Old: "a", New: "b"},                              // a map key path from a kind
		{Path: "values.password", Old: "x", New: "y"},                              // the sensitive path itself
		{Path: "ConfigMap dev/cm: data.token", Old: "", New: "hunter22"},           // a manifest field built from a sensitive value
		{Path: "ConfigMap dev/cm: data.url", Old: "", New: "https://u:hunter22@h"}, // inside longer text
		{Path: "Secret dev/hunter22: data", Old: "", New: "z"},                     // in the path
		{Path: "spec.replicas", Old: "3", New: "7"},                                // a short secret, whole value
		{Path: "spec.image", Old: "app:1.7", New: "app:1.8"},                       // a short secret is not looked for inside text
		{Path: "labels.team", Old: "a", New: "b"},
	}
	redact(c, secrets)
	for i, f := range c.Fields {
		shown := f.Path + " " + f.Old + " " + f.New + " " + c.Reason
		if strings.Contains(shown, "hunter22") {
			t.Errorf("field %d shows the secret: %s", i, shown)
		}
		want := i < 6
		if f.Sensitive != want {
			t.Errorf("field %d (%s) sensitive = %v, want %v", i, f.Path, f.Sensitive, want)
		}
	}
	if c.Fields[6].New != "app:1.8" || c.Fields[7].New != "b" {
		t.Errorf("redacted more than the secrets: %+v", c.Fields[6:])
	}
}

// TestRedactByPath: a field is hidden by the path of a sensitive value
// when it is that field or lies under it, step by step: a key that only
// begins with a sensitive key's name is another field.
func TestRedactByPath(t *testing.T) {
	labels := resource.Path{}.Attr("labels")
	c := &Change{Sensitive: []resource.Path{labels.Key("app"), resource.Path{}.Attr("values").Attr("db")}}
	c.Fields = []resource.FieldDiff{
		{Path: `labels["app"]`, Old: "a", New: "b"},
		{Path: `labels["app.kubernetes.io/name"]`, Old: "a", New: "b"},
		{Path: `values.db["password"]`, Old: "a", New: "b"},
		{Path: `values.dbname`, Old: "a", New: "b"},
	}
	redact(c, nil)
	for i, want := range []bool{true, false, true, false} {
		if c.Fields[i].Sensitive != want {
			t.Errorf("%s: sensitive = %v, want %v", c.Fields[i].Path, c.Fields[i].Sensitive, want)
		}
	}
}
