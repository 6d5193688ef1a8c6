package plan

import (
	"errors"
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"labs.dev/lab/lab/config"
	"labs.dev/lab/lab/resource"
)

// DiagError is a configuration problem found while planning.
type DiagError struct{ Diags hcl.Diagnostics }

func (e *DiagError) Error() string {
	return config.SortDiagnostics(e.Diags).Error()
}

// ResourceError is a failure of one resource, named.
type ResourceError struct {
	Addr resource.Addr
	Op   string
	Err  error
}

func (e *ResourceError) Error() string {
	// Kinds often name the resource themselves; say it once.
	msg := strings.TrimPrefix(e.Err.Error(), e.Addr.String()+": ")
	return fmt.Sprintf("%s: %s: %s", e.Addr, e.Op, msg)
}

func (e *ResourceError) Unwrap() error { return e.Err }

// IsDiag reports whether err holds configuration diagnostics.
func IsDiag(err error) (hcl.Diagnostics, bool) {
	var de *DiagError
	if errors.As(err, &de) {
		return de.Diags, true
	}
	return nil, false
}
