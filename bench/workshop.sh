#!/usr/bin/env bash
# Workshops at scale (docs/benchmarks.md, "Workshops at scale"): one
# simulated cluster stands in for an event's existing cluster, and
# examples/workshop/labs.hcl is brought up on it for 10, 25 and 50
# learners, one after the other. For each size, one run of: lab up (wall
# time, peak RSS of lab and its lab-helm worker together, how many
# lab-helm processes at once), lab plan with no changes, the state file's
# size, then, with every learner's solution applied, lab verify
# --all-learners against one kubectl get deploy,rs,pod -A -o json
# (alternated, median of RUNS), and lab down.
# Needs: make build control-plane.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
sizes=${SIZES:-"10 25 50"}
runs=${RUNS:-5}
export PATH="$root/bin:$("$root/tools/controlplane/build.sh" --print-dir):$PATH"
export NO_COLOR=1
work=$(mktemp -d /tmp/lab-bench-workshop.XXXXXX)
cleanup() {
  for d in "$work"/ws*; do [[ -d $d ]] && lab -chdir "$d" down "${vars[@]:-}" >/dev/null 2>&1 || true; done
  lab -chdir "$work/event" down >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
go build -o "$work/peak" "$root/bench/peak"

# The stand-in: kind's 110 pods a node, so 50 learners' fleets (200
# pods) and their solutions (150) need more than one node.
mkdir -p "$work/event"
cat > "$work/event/labs.hcl" <<'HCL'
resource "kind_cluster" "event" {
  name            = "event"
  runtime         = "simulated"
  kubeconfig_path = "kubeconfig"
  nodes           = [{ role = "control-plane" }, { role = "worker" }, { role = "worker" }, { role = "worker" }, { role = "worker" }]
}
HCL
lab -chdir "$work/event" up >/dev/null
export KUBECONFIG=$work/event/kubeconfig
ms() { echo $(( $(date +%s%N) / 1000000 )); }

for n in $sizes; do
  d=$work/ws$n
  mkdir -p "$d"
  (cd "$root/examples/workshop" && cp -r labs.hcl charts solution.yaml "$d/")
  learners=$(python3 -c "import json,sys; print(json.dumps(['l%02d' % i for i in range(int(sys.argv[1]))]))" "$n")
  vars=(-var "kubeconfig=$KUBECONFIG" -var context=kind-event -var "learners=$learners")

  "$work/peak" -o "$d/up.json" -- lab -chdir "$d" up "${vars[@]}" >/dev/null
  "$work/peak" -o "$d/plan.json" -- lab -chdir "$d" plan -detailed-exitcode "${vars[@]}" >/dev/null
  stat -c %s "$d/.lab/state.json" > "$d/state.size"

  for i in $(seq 0 $((n - 1))); do
    kubectl apply --server-side -n "$(printf 'l%02d' "$i")-dev" -f "$d/solution.yaml" >/dev/null
  done
  for i in $(seq 0 $((n - 1))); do
    kubectl rollout status deployment fleet -n "$(printf 'l%02d' "$i")-dev" --timeout=120s >/dev/null
  done
  lab -chdir "$d" verify --all-learners "${vars[@]}" >/dev/null || { echo "lab verify --all-learners does not pass with every solution applied ($n learners)" >&2; lab -chdir "$d" verify --all-learners "${vars[@]}" >&2 || true; exit 1; }
  : > "$d/verify.txt"
  for _ in $(seq "$runs"); do
    a=$(ms); lab -chdir "$d" verify --all-learners -o json "${vars[@]}" >/dev/null; b=$(ms)
    kubectl get deploy,rs,pod -A -o json >/dev/null; c=$(ms)
    echo "$((b - a)) $((c - b))" >> "$d/verify.txt"
  done
  "$work/peak" -o "$d/down.json" -- lab -chdir "$d" down "${vars[@]}" >/dev/null
done

echo "## bench/workshop.sh $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), lab $(lab version | cut -d' ' -f2)"
python3 - "$work" $sizes <<'PY'
import json, statistics, sys
work, sizes = sys.argv[1], sys.argv[2:]
rows, up = [], {}
for n in sizes:
    d = f"{work}/ws{n}"
    u, p, dn = (json.load(open(f"{d}/{x}.json")) for x in ("up", "plan", "down"))
    v = [tuple(map(int, l.split())) for l in open(f"{d}/verify.txt")]
    lab_ms, kc_ms = statistics.median(a for a, _ in v), statistics.median(b for _, b in v)
    up[n] = u["seconds"]
    rows.append((n, u, p, dn, int(open(f"{d}/state.size").read()), lab_ms, kc_ms))
print("| learners | resources | `lab up` | peak RSS lab + lab-helm | lab-helm at once | `lab plan` (no changes) | state file | `lab verify --all-learners` | `kubectl get deploy,rs,pod -A -o json` | ratio | `lab down` |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
for n, u, p, dn, size, lab_ms, kc_ms in rows:
    helm = max(u["most_at_once"].get("lab-helm", 0), p["most_at_once"].get("lab-helm", 0))
    res = 10 * int(n) + 1
    print(f"| {n} | {res} | {u['seconds']:.1f} s | {max(u['peak_rss_mib'], p['peak_rss_mib']):.0f} MiB | {helm} | {p['seconds']:.2f} s | {size/1024:.0f} KiB | {lab_ms/1000:.2f} s | {kc_ms/1000:.2f} s | {lab_ms/kc_ms:.2f}× | {dn['seconds']:.1f} s |")
ns = list(up)
for a, b in zip(ns, ns[1:]):
    print(f"\n`lab up` {a} → {b} learners: {up[b]/up[a]:.2f}× the time for {int(b)/int(a):.1f}× the learners", end="")
print()
PY
