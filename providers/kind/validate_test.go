package kind

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"labs.dev/lab/lab/resource"
)

// Issue 8, defect 3: what is known is checked, every problem reported,
// and what other resources give only after apply (here other.*) is
// skipped, never read as missing or wrong.
func TestValidateKnownArguments(t *testing.T) {
	ctx := &hcl.EvalContext{Variables: map[string]cty.Value{"other": cty.DynamicVal}}
	for _, tc := range []struct {
		src  string
		want []string // arguments with a problem
		text string
	}{
		{`name = other.name
runtime = "lxc"`, []string{"runtime"}, `runtime "lxc"`},
		{`name = "kind"
wait = "soon"
api_server_port = 70000
nodes = [{ role = "master" }]
extra_port_mappings = [{ container_port = 0, protocol = "ICMP" }]`, []string{"wait", "nodes", "api_server_port", "extra_port_mappings", "extra_port_mappings"}, `wait "soon"`},
		{`name = "kind"
nodes = [{ role = other.role }, { role = "worker" }]
extra_port_mappings = [{ container_port = other.port, protocol = other.protocol }]`, nil, ""},
		{`name = "kind"
nodes = other.nodes
wait = other.wait
runtime = other.runtime
api_server_port = other.port`, nil, ""},
		{`name = "kind"
nodes = [{ role = "worker" }]`, []string{"nodes"}, "no control-plane node"},
	} {
		f, diags := hclsyntax.ParseConfig([]byte(tc.src), "labs.hcl", hcl.InitialPos)
		if diags.HasErrors() {
			t.Fatal(diags)
		}
		v, diags := hcldec.Decode(f.Body, schema(), ctx)
		if diags.HasErrors() {
			t.Fatal(diags)
		}
		err := New(nil).(resource.Validator).Validate(resource.Env{}, resource.Addr{Type: "kind_cluster", Name: "kind"}, v)
		var args []string
		for _, e := range resource.Problems(err) {
			var ae *resource.ArgError
			if !errors.As(e, &ae) {
				t.Fatalf("%s: problem %q names no argument", tc.src, e)
			}
			args = append(args, ae.Arg)
		}
		if !reflect.DeepEqual(args, tc.want) || (err != nil && !strings.Contains(err.Error(), tc.text)) {
			t.Errorf("%s:\nproblems with %v (%v), want %v saying %q", tc.src, args, err, tc.want, tc.text)
		}
	}
}
