package views

import "fmt"

// Version is lab version's view.
type Version interface{ Version(v string) }

func (h human) Version() Version   { return versionHuman{h} }
func (m machine) Version() Version { return versionJSON{m} }

type (
	versionHuman struct{ human }
	versionJSON  struct{ machine }
)

func (v versionHuman) Version(version string) { fmt.Fprintf(v.out, "lab %s\n", version) }
func (v versionJSON) Version(version string) {
	v.writeJSON(map[string]string{"version": version})
}
