package plan

import "labs.dev/lab/lab/resource"

// Options configure planning and applying.
type Options struct {
	Env         resource.Env // Addr-independent parts; Progress is set from Hook
	Parallelism int
	Hook        Hook
	// VarFiles are hashed into ConfigHash with the lab file.
	VarFiles []string
	Vars     []string
}

func (o *Options) defaults() {
	if o.Parallelism <= 0 {
		o.Parallelism = 10
	}
	if o.Hook == nil {
		o.Hook = NopHook{}
	}
	hook := o.Hook
	o.Env.Progress = func(p resource.Progress) { hook.Progress(p) }
}
