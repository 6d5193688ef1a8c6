package plan

import (
	"strings"
	"testing"

	"labs.dev/lab/lab/resource"
)

func TestRedact(t *testing.T) {
	secrets := []string{"hunter22", "7"}
	c := &Change{Sensitive: []string{"labels.token", "values.password"}}
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
