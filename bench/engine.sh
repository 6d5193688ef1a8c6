#!/usr/bin/env bash
# Measures lab against kubectl on the same work in one run, on a simulated
# cluster of its own (see docs/benchmarks.md for the latest figures):
#   1. lab plan, no changes        vs  kubectl diff --server-side   (200 ConfigMaps)
#   2. lab up of 200 new objects   vs  kubectl apply --server-side --validate=false  (200 ConfigMaps)
#   3. lab up of the shipped lab: wall time vs its own critical path, peak RSS
# Needs: make build control-plane; hyperfine and GNU time (installed if missing).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
runs=${RUNS:-10}
command -v hyperfine >/dev/null && [[ -x /usr/bin/time ]] || { apt-get update -qq && apt-get install -y -qq hyperfine time >/dev/null; }
export PATH="$root/bin:$("$root/tools/controlplane/build.sh" --print-dir):$PATH"
work=$(mktemp -d /tmp/lab-bench.XXXXXX)
export KUBECONFIG=$work/kubeconfig NO_COLOR=1
cleanup() {
  lab -chdir "$work/shipped" down >/dev/null 2>&1 || true
  lab -chdir "$work/cluster" down >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

echo "## bench/engine.sh $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, lab $(lab version | cut -d' ' -f2)"
mkdir -p "$work/cluster" "$work/cms"
cat > "$work/cluster/labs.hcl" <<'HCL'
resource "kind_cluster" "bench" {
  name    = "bench"
  runtime = "simulated"
}
HCL
lab -chdir "$work/cluster" up >/dev/null
ctx=kind-bench

for i in $(seq 1 200); do
  printf -- '---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-%03d\n  labels:\n    bench: "yes"\ndata:\n  key: value-%03d\n  other: "%d"\n' "$i" "$i" "$i"
done > "$work/cms/cms.yaml"
cat > "$work/cms/labs.hcl" <<HCL
resource "namespace" "bench" {
  name    = "bench"
  context = "$ctx"
}
resource "manifest" "cms" {
  content   = file("cms.yaml")
  namespace = namespace.bench.name
  context   = "$ctx"
}
HCL
lab -chdir "$work/cms" up >/dev/null
kubectl --context $ctx apply --server-side --field-manager=kubectl -n bench -f "$work/cms/cms.yaml" >/dev/null

echo; echo "### 1. plan with no changes (200 ConfigMaps)"
hyperfine -N --warmup 2 --runs "$runs" --export-markdown "$work/plan.md" \
  -n "lab plan" "lab -chdir $work/cms plan -detailed-exitcode" \
  -n "kubectl diff --server-side" "kubectl --context $ctx diff --server-side --field-manager=kubectl -n bench -f $work/cms/cms.yaml" >/dev/null
cat "$work/plan.md"

echo; echo "### 2. apply of 200 new ConfigMaps"
# One DeleteCollection call: kubectl delete -l sends a request per object.
del="kubectl --context $ctx delete --raw /api/v1/namespaces/bench/configmaps?labelSelector=bench%3Dyes"
hyperfine --warmup 1 --runs "$runs" --export-markdown "$work/apply.md" \
  --prepare "$del" \
  -n "lab up" "lab -chdir $work/cms up" \
  -n "kubectl apply --server-side --validate=false" "kubectl --context $ctx apply --server-side --validate=false --field-manager=kubectl -n bench -f $work/cms/cms.yaml" >/dev/null
cat "$work/apply.md"
lab -chdir "$work/cluster" down >/dev/null

echo; echo "### 3. lab up of the shipped lab (simulated), wall vs critical path"
mkdir -p "$work/shipped"
cp -r "$root/labs.hcl" "$root/charts" "$root/manifests" "$work/shipped/"
/usr/bin/time -f '%e %M' -o "$work/time" lab -chdir "$work/shipped" -o json up -var runtime=simulated > "$work/result.json" 2> "$work/events.json"
lab -chdir "$work/shipped" graph > "$work/graph.dot"
read -r wall rss < "$work/time"
python3 - "$work/events.json" "$work/graph.dot" "$wall" "$rss" <<'PY'
import json, re, sys
events, dot, wall, rss = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
took = {}
for line in open(events):
    line = line.strip()
    if not line.startswith("{"):
        continue
    try:
        e = json.loads(line)
    except ValueError:
        continue
    if e.get("type") == "apply_complete":
        took[e["addr"]] = e.get("elapsed_seconds", 0)
deps = {}
for a, b in re.findall(r'"([^"]+)" -> "([^"]+)"', open(dot).read()):
    deps.setdefault(a, []).append(b)
memo = {}
def path(n):
    if n not in memo:
        memo[n] = took.get(n, 0) + max([path(d) for d in deps.get(n, [])] or [0])
    return memo[n]
crit = max([path(n) for n in took] or [0])
print("| measure | value |\n|---|---|")
for n in sorted(took):
    print(f"| {n} | {took[n]:.2f} s |")
print(f"| critical path (sum along the longest dependency chain) | {crit:.2f} s |")
print(f"| `lab up` wall | {wall:.2f} s |")
print(f"| wall / critical path | {wall/crit if crit else 0:.2f}× |")
print(f"| `lab up` peak RSS | {rss/1024:.0f} MiB |")
PY
