package lesson

import (
	"strings"
	"testing"
)

func step(command, expected string, marks Marks, elided bool) *Step {
	return &Step{Command: command, Expected: &Output{Text: expected, Elided: elided}, Marks: marks}
}

const podsLesson = `NAME                                         READY   STATUS    RESTARTS   AGE
coredns-558bd4d5db-qxdcd                     1/1     Running   1          9d
coredns-558bd4d5db-vzdrc                     1/1     Running   1          9d
etcd-kind-control-plane                      1/1     Running   1          9d
kube-proxy-sc7qw                             1/1     Running   1          9d
`

func TestTablesMatchByColumnAndRowName(t *testing.T) {
	// Other widths, other order, other ages, suffixes and restarts.
	printed := `NAME                                   READY   STATUS    RESTARTS      AGE
kube-proxy-bzk7c                       1/1     Running   0             3s
etcd-kind-control-plane                1/1     Running   0             9s
coredns-55b99f6b6-khsbc                1/1     Running   2 (5m ago)    3m20s
coredns-55b99f6b6-hjzzc                1/1     Running   0             3s
`
	c := compare(step("kubectl get pods -n kube-system", podsLesson, Marks{}, false), printed)
	if c.mode != TableMode || !c.ok() {
		t.Fatalf("mode %s, problems %q\n%s", c.mode, c.problems, c.diff)
	}

	wrong := strings.Replace(printed, "kube-proxy-bzk7c                       1/1     Running", "kube-proxy-bzk7c                       0/1     Pending", 1)
	c = compare(step("kubectl get pods", podsLesson, Marks{}, false), wrong)
	want := []string{
		"row kube-proxy-<id>, column READY: expected 1/1, actual 0/1",
		"row kube-proxy-<id>, column STATUS: expected Running, actual Pending",
	}
	if strings.Join(c.problems, "\n") != strings.Join(want, "\n") {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(c.problems, "\n"), strings.Join(want, "\n"))
	}
	if !strings.Contains(c.diff, "-kube-proxy-<id> 1/1 Running <restarts> <age>") || !strings.Contains(c.diff, "+kube-proxy-<id> 0/1 Pending <restarts> <age>") {
		t.Errorf("diff:\n%s", c.diff)
	}

	// A row too many or too few.
	extra := printed + "kindnet-hmwbj                          1/1     Running   0             3s\n"
	c = compare(step("kubectl get pods", podsLesson, Marks{}, false), extra)
	if len(c.problems) != 1 || c.problems[0] != "row kindnet-<id>: printed, not in the lesson" {
		t.Errorf("extra row: %q", c.problems)
	}
	if c = compare(step("kubectl get pods", podsLesson, Marks{Contains: true}, false), extra); !c.ok() {
		t.Errorf("contains: %q", c.problems)
	}
	fewer := strings.Join(strings.Split(printed, "\n")[:3], "\n")
	c = compare(step("kubectl get pods", podsLesson, Marks{}, false), fewer)
	if len(c.problems) != 2 || !strings.Contains(c.problems[0], "row coredns-<hash>-<id>: in the lesson, not printed") {
		t.Errorf("fewer rows: %q", c.problems)
	}
	// A column more (kubectl -o wide, a newer kubectl).
	wide := "NAME   STATUS   AGE   NODE\ndev    Active   2d    x\n"
	c = compare(step("kubectl get ns", "NAME   STATUS   AGE\ndev    Active   9d\n", Marks{}, false), wide)
	if len(c.problems) != 1 || c.problems[0] != "column NODE: printed, not in the lesson" {
		t.Errorf("extra column: %q", c.problems)
	}
	// Headers with spaces and empty-looking cells.
	ds := "NAME         DESIRED   CURRENT   READY   UP-TO-DATE   AVAILABLE   NODE SELECTOR            AGE\nkube-proxy   1         1         1       1            1           kubernetes.io/os=linux   9d\n"
	c = compare(step("kubectl get ds", ds, Marks{}, false), strings.Replace(ds, "9d", "16s", 1))
	if !c.ok() || c.mode != TableMode {
		t.Errorf("daemonsets: %s %q", c.mode, c.problems)
	}
	c = compare(step("kubectl get ds", ds, Marks{}, false), strings.Replace(ds, "kubernetes.io/os=linux", "<none>                ", 1))
	if len(c.problems) != 1 || !strings.Contains(c.problems[0], "column NODE SELECTOR: expected kubernetes.io/os=linux, actual <none>") {
		t.Errorf("node selector: %q", c.problems)
	}
	// Not a table at all.
	c = compare(step("kubectl get ds", ds, Marks{}, false), "No resources found in default namespace.\n")
	if c.ok() || c.mode != TextMode {
		t.Errorf("no table printed: %s %q", c.mode, c.problems)
	}
}

func TestTextNormalisation(t *testing.T) {
	cases := []struct{ lesson, printed string }{
		// A pod row without its header (| grep).
		{"coredns-558bd4d5db-qxdcd                     1/1     Running   1          9d", "coredns-55b99f6b6-hjzzc   1/1   Running   0   11s"},
		{"kube-proxy-sc7qw", "kube-proxy-bzk7c"},
		{"CreationTimestamp:      Tue, 11 Jan 2022 01:02:18 +0000", "CreationTimestamp:   Tue, 01 Dec 2026 22:16:18 +0000"},
		{"    Ports:       53/UDP, 53/TCP, 9153/TCP", "    Ports:       53/UDP (dns), 53/TCP (dns-tcp), 9153/TCP (metrics)"},
		{"NewReplicaSet:   coredns-558bd4d5db (2/2 replicas created)", "NewReplicaSet:   coredns-55b99f6b6 (2/2 replicas created)"},
		{"uid: 61a669f1-9bf5-468f-af5e-bddbb70e0dd8\nip: 10.244.0.5", "uid: f3285e5e-bd7a-46be-afad-336bb7d7f87e\nip: 172.18.0.2"},
		{"Events:          <none>", "Events:\n  Type    Reason   Age   From   Message\n  ----    ------   ----  ----   -------\n  Normal  Scaled   11s   dc     Scaled up"},
		{"\x1b[32mok\x1b[0m\n\n", "ok"},
	}
	for _, c := range cases {
		if got := compareText(c.lesson, c.printed, false); !got.ok() {
			t.Errorf("%q vs %q: %q\n%s", c.lesson, c.printed, got.problems, got.diff)
		}
	}
	// What must still differ.
	differ := []struct{ lesson, printed string }{
		{"cpu: 100m", "cpu: 200m"},
		{"kube-proxy", "kube-prxxy"},
		{"image: k8s.gcr.io/kube-proxy:v1.21.1", "image: registry.k8s.io/kube-proxy:v1.35.0"},
		{"coredns-558bd4d5db-qxdcd   1/1   Running   1   9d", "coredns-55b99f6b6-hjzzc   0/1   Running   0   11s"},
		{"a\nb", "a\nb\nc"},
	}
	for _, c := range differ {
		if got := compareText(c.lesson, c.printed, false); got.ok() {
			t.Errorf("%q and %q compare equal", c.lesson, c.printed)
		}
	}
	// contains: the lesson's lines, in order, among what was printed.
	if c := compareText("b\nd", "a\nb\nc\nd", true); !c.ok() {
		t.Errorf("contains: %q", c.problems)
	}
	if c := compareText("d\nb", "a\nb\nc\nd", true); c.ok() || !strings.Contains(c.problems[0], "not printed (in this order): b") {
		t.Errorf("contains out of order: %q", c.problems)
	}
}

const podYAMLLesson = `apiVersion: v1
kind: Pod
metadata:
  generateName: kube-proxy-
  name: kube-proxy-sc7qw
  ownerReferences:
  - apiVersion: apps/v1
    kind: DaemonSet
    name: kube-proxy
spec:
  containers:
  - image: k8s.gcr.io/kube-proxy:v1.21.1
    name: kube-proxy
    volumeMounts:
      ...
  dnsPolicy: ClusterFirst
  ...
  volumes:
  - configMap:
      name: kube-proxy
    name: kube-proxy
  - ...
`

const podYAMLPrinted = `apiVersion: v1
kind: Pod
metadata:
  creationTimestamp: "2026-12-01T22:16:24Z"
  generateName: kube-proxy-
  name: kube-proxy-bzk7c
  ownerReferences:
  - apiVersion: apps/v1
    blockOwnerDeletion: true
    kind: DaemonSet
    name: kube-proxy
    uid: f3285e5e-bd7a-46be-afad-336bb7d7f87e
  resourceVersion: "312"
spec:
  containers:
  - image: k8s.gcr.io/kube-proxy:v1.21.1
    name: kube-proxy
    volumeMounts:
    - mountPath: /var/lib/kube-proxy
      name: kube-proxy
  dnsPolicy: ClusterFirst
  enableServiceLinks: true
  volumes:
  - hostPath:
      path: /run/xtables.lock
    name: xtables-lock
  - configMap:
      name: kube-proxy
    name: kube-proxy
`

func TestElidedYAMLIsASubset(t *testing.T) {
	st := step("kubectl get pods $kppod -o yaml", podYAMLLesson, Marks{}, true)
	c := compare(st, podYAMLPrinted)
	if c.mode != YAMLMode || !c.ok() {
		t.Fatalf("%s %q", c.mode, c.problems)
	}
	wrong := strings.Replace(podYAMLPrinted, "  dnsPolicy: ClusterFirst", "  dnsPolicy: Default", 1)
	wrong = strings.Replace(wrong, "    kind: DaemonSet", "    kind: ReplicaSet", 1)
	c = compare(st, wrong)
	want := []string{
		`.metadata.ownerReferences[0].kind: expected "DaemonSet", actual "ReplicaSet"`,
		`.spec.dnsPolicy: expected "ClusterFirst", actual "Default"`,
	}
	if strings.Join(c.problems, "\n") != strings.Join(want, "\n") {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(c.problems, "\n"), strings.Join(want, "\n"))
	}
	gone := strings.Replace(podYAMLPrinted, "  - configMap:\n      name: kube-proxy\n    name: kube-proxy\n", "", 1)
	if c = compare(st, gone); c.ok() {
		t.Error("a list item the lesson shows went missing unnoticed")
	}
	if c = compare(st, "Error from server (NotFound): pods \"x\" not found\n"); c.ok() || c.mode != YAMLMode {
		t.Errorf("an error instead of YAML: %s %q", c.mode, c.problems)
	}
}

func TestFullYAMLMustMatch(t *testing.T) {
	lesson := "apiVersion: apps/v1\nkind: DaemonSet\nmetadata:\n  creationTimestamp: \"2022-01-11T01:02:18Z\"\n  name: kube-proxy\n  resourceVersion: \"503\"\n  uid: 61a669f1-9bf5-468f-af5e-bddbb70e0dd8\nspec:\n  template:\n    metadata:\n      creationTimestamp: null\n      labels:\n        k8s-app: kube-proxy\n"
	printed := "apiVersion: apps/v1\nkind: DaemonSet\nmetadata:\n  creationTimestamp: \"2026-12-01T22:16:18Z\"\n  name: kube-proxy\n  resourceVersion: \"314\"\n  uid: f3285e5e-bd7a-46be-afad-336bb7d7f87e\nspec:\n  template:\n    metadata:\n      labels:\n        k8s-app: kube-proxy\n"
	st := step("kubectl get ds kube-proxy -o yaml", lesson, Marks{}, false)
	if c := compare(st, printed); !c.ok() {
		t.Fatalf("%q", c.problems)
	}
	more := strings.Replace(printed, "spec:\n", "spec:\n  minReadySeconds: 5\n", 1)
	c := compare(st, more)
	if len(c.problems) != 1 || c.problems[0] != ".spec.minReadySeconds: printed, not in the lesson: 5" {
		t.Errorf("%q", c.problems)
	}
	if c := compare(step("kubectl get ds -o yaml", lesson, Marks{Contains: true}, false), more); !c.ok() {
		t.Errorf("contains: %q", c.problems)
	}
	// JSON too.
	js := step("kubectl get ns dev -o json", `{"kind": "Namespace", "metadata": {"name": "dev"}}`, Marks{}, false)
	if c := compare(js, "{\n  \"kind\": \"Namespace\",\n  \"metadata\": {\"name\": \"dev\"}\n}\n"); !c.ok() {
		t.Errorf("json: %q", c.problems)
	}
	if c := compare(js, `{"kind": "Namespace", "metadata": {"name": "prod"}}`); c.ok() {
		t.Error("json: a different name compares equal")
	}
}

func TestDiffIsBounded(t *testing.T) {
	big := strings.Repeat("y\n", 100000)
	c := compareText("n\n", big, false)
	if c.ok() {
		t.Fatal("equal")
	}
	if n := strings.Count(c.diff, "\n"); n > maxDiffLines+1 {
		t.Errorf("diff of %d lines", n)
	}
	bin := compareText("ok", "\x00\xff\x1b[2J", false)
	if strings.ContainsAny(bin.diff, "\x00\xff") || !strings.Contains(bin.diff, `\x00\xff`) {
		t.Errorf("binary shown raw: %q", bin.diff)
	}
}
