package views

import "fmt"

// Version is lab version's view.
type Version interface{ Version(v string) }

func (h human) Version() Version   { return versionHuman{h.view} }
func (m machine) Version() Version { return versionJSON{m.view} }

type (
	versionHuman struct{ v *view }
	versionJSON  struct{ v *view }
)

func (x versionHuman) Version(version string) { fmt.Fprintf(x.v.out, "lab %s\n", version) }
func (x versionJSON) Version(version string) {
	v := x.v
	v.writeJSON(map[string]string{"version": version})
}
