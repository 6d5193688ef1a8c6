package kubernetes

import (
	"testing"

	"labs.dev/lab/providers/kube/objdiff"
)

func obj(t *testing.T, src string) map[string]any {
	t.Helper()
	objs, err := decode([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return objs[0].Obj.Object
}

// The comparison itself is tested in providers/kube/objdiff; here, that a
// Secret's differing data, written as stringData, is hidden in plans.
func TestSecretStringData(t *testing.T) {
	want := obj(t, "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData: {password: hunter2}\n")
	live := obj(t, "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata: {password: aHVudGVyMg==}\ntype: Opaque\n")
	if d := objdiff.Subset(objdiff.Comparable(want), live); len(d) != 0 {
		t.Errorf("want no differences, got %+v", d)
	}
	live["data"] = map[string]any{"password": "b3RoZXI="}
	d := objdiff.Subset(objdiff.Comparable(want), live)
	if len(d) != 1 || d[0].Path != "data.password" || !sensitive(objID{Kind: "Secret"}, d[0].Path) {
		t.Errorf("got %+v, want one sensitive difference at data.password", d)
	}
}
