package worker

import (
	"reflect"
	"testing"

	"labs.dev/lab/providers/helm/wire"
)

func TestObjectDiff(t *testing.T) {
	want := map[string]any{
		"apiVersion": "apps/v1",
		"kind":       "Deployment",
		"metadata": map[string]any{
			"name":   "fleet",
			"labels": map[string]any{"app.kubernetes.io/name": "fleet", "lab.dev/instance": "abc"},
		},
		"spec": map[string]any{
			"replicas": int64(2),
			"template": map[string]any{"spec": map[string]any{
				"containers": []any{map[string]any{
					"name":      "fleet",
					"image":     "nginx:1.27",
					"resources": map[string]any{"requests": map[string]any{"cpu": "0.05", "memory": "64Mi"}},
					"ports":     []any{map[string]any{"containerPort": int64(80)}},
				}},
				"nodeSelector": map[string]any{},
			}},
		},
	}
	live := map[string]any{
		"apiVersion": "apps/v1",
		"kind":       "Deployment",
		"metadata": map[string]any{
			"name":            "fleet",
			"resourceVersion": "12",
			"labels":          map[string]any{"app.kubernetes.io/name": "fleet", "lab.dev/instance": "abc", "extra": "x"},
		},
		"spec": map[string]any{
			"replicas":             int64(2),
			"revisionHistoryLimit": int64(10),
			"template": map[string]any{"spec": map[string]any{
				"containers": []any{map[string]any{
					"name":                   "fleet",
					"image":                  "nginx:1.27",
					"terminationMessagePath": "/dev/termination-log",
					"resources":              map[string]any{"requests": map[string]any{"cpu": "50m", "memory": "64Mi"}},
					"ports":                  []any{map[string]any{"containerPort": float64(80), "protocol": "TCP"}},
				}},
			}},
		},
		"status": map[string]any{"replicas": int64(2)},
	}
	if got := objectDiff(want, live); len(got) != 0 {
		t.Fatalf("server defaults reported as drift: %v", got)
	}

	spec := live["spec"].(map[string]any)
	spec["replicas"] = int64(5)
	c := spec["template"].(map[string]any)["spec"].(map[string]any)["containers"].([]any)[0].(map[string]any)
	c["image"] = "nginx:1.28"
	delete(live["metadata"].(map[string]any)["labels"].(map[string]any), "lab.dev/instance")
	got := objectDiff(want, live)
	wantDiff := []wire.Field{
		{Path: `metadata.labels["lab.dev/instance"]`, Live: "", Want: `"abc"`},
		{Path: "spec.replicas", Live: "5", Want: "2"},
		{Path: "spec.template.spec.containers[name=fleet].image", Live: `"nginx:1.28"`, Want: `"nginx:1.27"`},
	}
	if !reflect.DeepEqual(got, wantDiff) {
		t.Fatalf("objectDiff =\n%v\nwant\n%v", got, wantDiff)
	}

	// a list that changed length is one field, not one per element
	c["ports"] = []any{}
	got = objectDiff(want, live)
	if len(got) != 4 || got[3].Path != "spec.template.spec.containers[name=fleet].ports" {
		t.Fatalf("list length change: %v", got)
	}
}

// Containers are matched by name as the server keys them, so one injected
// by an admission webhook is not drift; a Secret's stringData is compared
// with the data the server wrote it into; of metadata, only labels and
// annotations count.
func TestObjectDiffNormalises(t *testing.T) {
	want := map[string]any{
		"apiVersion": "v1",
		"kind":       "Pod",
		"metadata":   map[string]any{"name": "p", "namespace": "ns"},
		"spec": map[string]any{"containers": []any{
			map[string]any{"name": "app", "image": "nginx"},
		}},
	}
	live := map[string]any{
		"apiVersion": "v1",
		"kind":       "Pod",
		"metadata":   map[string]any{"name": "p", "namespace": "other"},
		"spec": map[string]any{"containers": []any{
			map[string]any{"name": "envoy", "image": "envoy"},
			map[string]any{"name": "app", "image": "nginx"},
		}},
	}
	if got := objectDiff(want, live); len(got) != 0 {
		t.Errorf("injected container or metadata reported as drift: %v", got)
	}
	if want["metadata"].(map[string]any)["namespace"] != "ns" {
		t.Errorf("objectDiff changed the rendered object: %v", want)
	}

	secret := map[string]any{
		"apiVersion": "v1",
		"kind":       "Secret",
		"metadata":   map[string]any{"name": "s"},
		"stringData": map[string]any{"password": "hunter2"},
	}
	liveSecret := map[string]any{
		"apiVersion": "v1",
		"kind":       "Secret",
		"metadata":   map[string]any{"name": "s"},
		"data":       map[string]any{"password": "aHVudGVyMg=="},
	}
	if got := objectDiff(secret, liveSecret); len(got) != 0 {
		t.Errorf("stringData reported as drift: %v", got)
	}
	liveSecret["data"] = map[string]any{"password": "b3RoZXI="}
	got := objectDiff(secret, liveSecret)
	if len(got) != 1 || got[0].Path != "data.password" {
		t.Errorf("changed Secret data: %v", got)
	}
}
