package worker

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"labs.dev/lab/providers/helm/wire"
)

func TestMainProtocolErrors(t *testing.T) {
	for _, tc := range []struct {
		in, want string
	}{
		{"", "cannot read the request"},
		{"{nope", "cannot read the request"},
		{`{"version": 99, "op": "plan"}`, "protocol version 99"},
	} {
		var out, errw bytes.Buffer
		if code := Main(strings.NewReader(tc.in), &out, &errw); code == 0 || !strings.Contains(errw.String(), tc.want) {
			t.Errorf("Main(%q) = %d, stderr %q; want non-zero and %q", tc.in, code, errw.String(), tc.want)
		}
	}
}

func TestMainOperationErrorsAreAnswers(t *testing.T) {
	for _, tc := range []struct {
		req  wire.Request
		want string
	}{
		{wire.Request{Version: wire.Version, Op: "frobnicate", Name: "a", Namespace: "b"}, `unknown operation "frobnicate"`},
		{wire.Request{Version: wire.Version, Op: wire.OpPlan}, "name and namespace are required"},
		{wire.Request{Version: wire.Version, Op: wire.OpApply, Name: "a", Namespace: "b"}, "needs a chart"},
		{wire.Request{Version: wire.Version, Op: wire.OpPlan, Name: "a", Namespace: "b", Timeout: "soon"}, `timeout "soon"`},
		{wire.Request{Version: wire.Version, Op: wire.OpPlan, Name: "a", Namespace: "b", Kubeconfig: "/nonexistent/kubeconfig"}, "/nonexistent/kubeconfig"},
	} {
		in, _ := json.Marshal(tc.req)
		var out, errw bytes.Buffer
		if code := Main(bytes.NewReader(in), &out, &errw); code != 0 {
			t.Errorf("%s: exit %d, stderr %s", tc.want, code, errw.String())
			continue
		}
		var resp wire.Response
		if err := json.Unmarshal(out.Bytes(), &resp); err != nil {
			t.Errorf("%s: answer %q: %v", tc.want, out.String(), err)
			continue
		}
		if !strings.Contains(resp.Error, tc.want) {
			t.Errorf("error = %q, want %q", resp.Error, tc.want)
		}
	}
}

func TestHelmLogBecomesProgress(t *testing.T) {
	var got []wire.Event
	w := &worker{emit: func(e wire.Event) { got = append(got, e) }}
	w.helmLog("beginning wait for %d resources with timeout of %v", 3, "5m0s")
	w.helmLog("Deployment is not ready: %s/%s. %d out of %d expected pods are ready", "staging", "fleet", 1, 2)
	w.helmLog("preparing upgrade for %s", "fleet")
	want := []wire.Event{
		{Level: wire.LevelProgress, Msg: "waiting for 3 resources to be ready", Total: 3},
		{Level: wire.LevelProgress, Msg: "Deployment is not ready: staging/fleet. 1 out of 2 expected pods are ready"},
		{Level: wire.LevelDebug, Msg: "preparing upgrade for fleet"},
	}
	for i := range want {
		if i >= len(got) || got[i] != want[i] {
			t.Fatalf("events = %+v, want %+v", got, want)
		}
	}
}

func TestNormalizeNumbers(t *testing.T) {
	var req wire.Request
	dec := json.NewDecoder(strings.NewReader(`{"values": {"replicas": 3, "ratio": 0.5, "list": [1, {"x": 2}]}}`))
	dec.UseNumber()
	if err := dec.Decode(&req); err != nil {
		t.Fatal(err)
	}
	normalizeNumbers(req.Values)
	if req.Values["replicas"] != int64(3) || req.Values["ratio"] != 0.5 || req.Values["list"].([]any)[1].(map[string]any)["x"] != int64(2) {
		t.Fatalf("values = %#v", req.Values)
	}
}
