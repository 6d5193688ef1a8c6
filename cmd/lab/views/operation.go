package views

import (
	"bufio"
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"

	"labs.dev/lab/lab/apply"
	"labs.dev/lab/lab/plan"
	"labs.dev/lab/lab/resource"
	"labs.dev/lab/lab/ui"
)

// Operation is what every command that refreshes or applies shows while
// the engine works: its events, through the engine's hook.
type Operation interface {
	// Hook receives the engine's events until finish is called; with a
	// total of resources to apply, on a terminal, a progress bar counts
	// them.
	Hook(total int) (hook plan.Hook, finish func())
}

// Plan is lab plan's view.
type Plan interface {
	Operation
	Plan(p *plan.Plan)
	// Saved says where -out saved the plan.
	Saved(path string)
}

// Apply is the view of lab apply, up, destroy and down.
type Apply interface {
	Operation
	// Proposed shows the plan before it is applied.
	Proposed(p *plan.Plan)
	// Unchanged says there is nothing to do.
	Unchanged(p *plan.Plan)
	// Ask asks question and reads the answer's line.
	Ask(question string) (string, error)
	// Result reports what the apply did.
	Result(res *apply.Result, destroy, interrupted bool)
}

func (v *view) humanHook(total int) (plan.Hook, func()) {
	l := ui.NewLines(v.out, v.outStyle, v.width, total)
	return l, l.Finish
}

func (v *view) jsonHook(int) (plan.Hook, func()) { return ui.NewJSONLines(v.out), func() {} }

// asker asks apply's question, the same in every format: on stdout for
// text, on stderr beside a JSON document.
type asker struct{ v *view }

func (a asker) Ask(question string) (string, error) {
	fmt.Fprintf(a.v.out, "\n%s\n  Only 'yes' will be accepted to approve.\n\n  Enter a value: ", question)
	return bufio.NewReader(a.v.in).ReadString('\n')
}

func (h human) Plan() Plan   { return planHuman{h.view} }
func (m machine) Plan() Plan { return planJSON{m.view} }

func (h human) Apply() Apply   { return applyHuman{asker{h.view}} }
func (m machine) Apply() Apply { return applyJSON{asker{m.view}} }

type (
	planHuman  struct{ v *view }
	planJSON   struct{ v *view }
	applyHuman struct{ asker }
	applyJSON  struct{ asker }
)

func (x planHuman) Hook(total int) (plan.Hook, func()) { return x.v.humanHook(total) }
func (x planHuman) Plan(p *plan.Plan)                  { ui.WritePlan(x.v.out, p, x.v.outStyle) }
func (x planHuman) Saved(path string) {
	fmt.Fprintf(x.v.out, "\nSaved the plan to %s. Apply exactly these actions with: lab apply %s\n", path, path)
}

func (x planJSON) Hook(total int) (plan.Hook, func()) { return x.v.jsonHook(total) }
func (x planJSON) Plan(p *plan.Plan)                  { x.v.writeJSON(ui.NewPlanJSON(p)) }
func (planJSON) Saved(string)                         {}

func (x applyHuman) Hook(total int) (plan.Hook, func()) { return x.v.humanHook(total) }

func (x applyHuman) Proposed(p *plan.Plan) {
	v := x.v
	ui.WritePlan(v.out, p, v.outStyle)
	fmt.Fprintln(v.out)
}

func (x applyHuman) Unchanged(p *plan.Plan) {
	v := x.v
	if p.Destroy {
		fmt.Fprintln(v.out, "Nothing to destroy: lab has created nothing here (or it is all gone already).")
		return
	}
	ui.WritePlan(v.out, p, v.outStyle)
}

func (x applyHuman) Result(res *apply.Result, destroy, interrupted bool) {
	v := x.v
	st := v.outStyle
	for _, err := range res.Failed {
		fmt.Fprintf(v.err, "%s %s\n", st.Red("Error:"), err)
	}
	if len(res.Failed) > 1 {
		for _, g := range ui.GroupFailures(res.Failed) {
			fmt.Fprintf(v.err, "%s\n", st.Bold(g.String()))
		}
	}
	if len(res.Skipped) > 0 {
		var names []string
		for _, s := range res.Skipped {
			names = append(names, s.String())
		}
		why := "because a resource they depend on failed"
		if interrupted {
			why = "because the run was interrupted"
		}
		fmt.Fprintf(v.out, "Not done %s: %s\n", why, strings.Join(names, ", "))
	}
	if interrupted {
		fmt.Fprintf(v.out, "\n%s Resources: %s before stopping. State holds everything finished; run the command again to carry on.\n",
			st.Yellow("Interrupted."), doneCounts(res.Done, destroy))
		return
	}
	if len(res.Failed) == 0 {
		fmt.Fprintf(v.out, "\n%s\n", st.Green(ui.Summary(res.Done, destroy)))
	}
	if len(res.Outputs) > 0 {
		fmt.Fprintln(v.out, "\nOutputs:")
		for name, val := range res.Outputs {
			fmt.Fprintf(v.out, "  %s = %s\n", name, renderValue(val))
		}
	}
}

// doneCounts says what an interrupted run finished.
func doneCounts(done map[resource.Action]int, destroy bool) string {
	if destroy {
		return fmt.Sprintf("%d destroyed", done[resource.Delete])
	}
	return fmt.Sprintf("%d added, %d changed, %d destroyed", done[resource.Create]+done[resource.Replace], done[resource.Update], done[resource.Delete])
}

func (x applyJSON) Hook(total int) (plan.Hook, func()) { return x.v.jsonHook(total) }

// Proposed shows nothing: the document is the apply's result.
func (applyJSON) Proposed(*plan.Plan) {}

func (x applyJSON) Unchanged(p *plan.Plan) { x.v.writeJSON(ui.NewPlanJSON(p)) }

func (x applyJSON) Result(res *apply.Result, _, interrupted bool) {
	v := x.v
	failed := []string{}
	for _, e := range res.Failed {
		failed = append(failed, e.Error())
	}
	v.writeJSON(map[string]any{"done": res.Done, "failed": failed, "failed_by_reason": ui.GroupFailures(res.Failed), "skipped": res.Skipped, "outputs": outputsJSON(res.Outputs), "interrupted": interrupted})
}

// renderValue shows a value as HCL would, hiding sensitive ones.
func renderValue(v cty.Value) string {
	if v.IsMarked() || v.ContainsMarked() {
		return "(sensitive value)"
	}
	if !v.IsWhollyKnown() {
		return "(known after apply)"
	}
	return string(hclwrite.TokensForValue(v).Bytes())
}

func outputsJSON(values map[string]cty.Value) map[string]any {
	out := map[string]any{}
	for n, v := range values {
		if v.IsMarked() || v.ContainsMarked() {
			out[n] = map[string]any{"sensitive": true}
			continue
		}
		b, err := ctyjson.Marshal(v, v.Type())
		if err != nil {
			continue
		}
		out[n] = map[string]any{"value": rawJSON(b)}
	}
	return out
}
