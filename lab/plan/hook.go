package plan

import (
	"time"

	"labs.dev/lab/lab/resource"
)

// Hook receives the engine's events; the UI implements it. Methods are
// called from several goroutines.
type Hook interface {
	PreRefresh(addr resource.Addr)
	PostRefresh(addr resource.Addr, c *Change, err error)
	PreApply(addr resource.Addr, action resource.Action)
	PostApply(addr resource.Addr, action resource.Action, elapsed time.Duration, err error)
	Progress(p resource.Progress)
}

// NopHook ignores every event.
type NopHook struct{}

func (NopHook) PreRefresh(resource.Addr)                                       {}
func (NopHook) PostRefresh(resource.Addr, *Change, error)                      {}
func (NopHook) PreApply(resource.Addr, resource.Action)                        {}
func (NopHook) PostApply(resource.Addr, resource.Action, time.Duration, error) {}
func (NopHook) Progress(resource.Progress)                                     {}
