package apply

import (
	"testing"

	"github.com/zclconf/go-cty/cty"
)

func TestUnknownPath(t *testing.T) {
	for _, c := range []struct {
		v    cty.Value
		want string
	}{
		{cty.NilVal, ""},
		{cty.ObjectVal(map[string]cty.Value{"name": cty.StringVal("cm"), "namespace": cty.StringVal("dev")}), ""},
		{cty.ObjectVal(map[string]cty.Value{"name": cty.StringVal("cm"), "namespace": cty.UnknownVal(cty.String)}), "namespace"},
		{cty.ObjectVal(map[string]cty.Value{"values": cty.ObjectVal(map[string]cty.Value{"token": cty.UnknownVal(cty.String).Mark("sensitive")})}), "values.token"},
		{cty.UnknownVal(cty.EmptyObject), "the whole block"},
	} {
		if got := unknownPath(c.v); got != c.want {
			t.Errorf("unknownPath(%#v) = %q, want %q", c.v, got, c.want)
		}
	}
}
