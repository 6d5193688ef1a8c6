package kind

import (
	"context"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"labs.dev/lab/providers/kind/host"
)

func TestDiagnose(t *testing.T) {
	f := newFixture(t)
	f.host.engines["podman"] = "4.3.1|v1|/var/lib/containers/storage|false\n"
	f.host.images["podman "+host.OfflineImage] = true
	ctx := context.Background()
	cfg := decode(t, `name = "kind"`)
	rep, err := f.kind.Diagnose(ctx, f.env, addr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Uses != Podman || rep.Runtime != Auto || !strings.Contains(rep.Why, "kind on podman with node image "+host.OfflineImage) {
		t.Fatalf("report = %+v", rep)
	}
	var checks []string
	for _, f := range rep.Findings {
		checks = append(checks, f.Engine+" "+f.Check+" "+string(f.Status))
	}
	want := "docker engine fail, podman engine ok, podman image ok, podman cgroup note, podman modules ok, podman disk ok,  inotify ok"
	if strings.Join(checks, ", ") != want {
		t.Errorf("checks = %s\nwant     %s", strings.Join(checks, ", "), want)
	}

	// Once the cluster is there and a node stopped, doctor says lab up
	// starts it, and checks its ports rather than a create's.
	f.apply(t, cfg, cty.NilVal, f.plan(t, cfg, cty.NilVal))
	f.engine.setState("kind", "kind-control-plane", "exited")
	rep, _ = f.kind.Diagnose(ctx, f.env, addr, cfg)
	var said []string
	for _, f := range rep.Findings {
		said = append(said, f.Message)
	}
	if rep.Uses != Podman || !strings.Contains(strings.Join(said, "\n"), "kind cluster kind on podman has stopped node(s) kind-control-plane: lab up starts them") {
		t.Errorf("report = %+v", rep)
	}

	// Nothing can make it: no engine, and an explicit runtime.
	delete(f.host.engines, "podman")
	rep, _ = f.kind.Diagnose(ctx, f.env, addr, decode(t, "name = \"kind\"\nruntime = \"podman\""))
	if rep.Uses != "" || !strings.Contains(rep.Why, "lab up cannot make the cluster on podman") || len(host.Failed(rep.Findings)) != 1 {
		t.Errorf("report = %+v", rep)
	}
}
