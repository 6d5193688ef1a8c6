#!/usr/bin/env bash
# Measures `lab verify deploy-fleet` against one
# `kubectl get deploy,rs,pod -n dev -o json` (the reads a person would do
# to check the same facts), alternated in one run on a ready cluster of
# its own: the shipped labs.hcl brought up with the simulated runtime and
# the reference solution applied. Prints medians, their ratio (goal
# <= 0.5) and peak RSS (goal <= 45 MiB). See docs/benchmarks.md ("Verify").
# Needs: make build control-plane; GNU time (installed if missing).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
runs=${RUNS:-40}
[[ -x /usr/bin/time ]] || { apt-get update -qq && apt-get install -y -qq time >/dev/null; }
export PATH="$root/bin:$("$root/tools/controlplane/build.sh" --print-dir):$PATH"
work=$(mktemp -d /tmp/lab-bench-verify.XXXXXX)
export KUBECONFIG=$work/kubeconfig NO_COLOR=1
cleanup() {
  lab -chdir "$work/shipped" down >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$work/shipped"
cp -r "$root/labs.hcl" "$root/charts" "$root/manifests" "$work/shipped/"
lab -chdir "$work/shipped" up --var runtime=simulated >/dev/null
kubectl apply --server-side -f "$work/shipped/manifests/deploy-fleet/solution.yaml" >/dev/null
kubectl rollout status deployment fleet -n dev --timeout=60s >/dev/null
lab -chdir "$work/shipped" verify deploy-fleet >/dev/null || { echo "lab verify deploy-fleet does not pass on the solution" >&2; exit 1; }

labcmd=(lab -chdir "$work/shipped" verify deploy-fleet)
kubectlcmd=(kubectl get deploy,rs,pod -n dev -o json)
for _ in 1 2 3; do "${labcmd[@]}" >/dev/null; "${kubectlcmd[@]}" >/dev/null; done # warm caches

# One sample: wall microseconds and peak RSS KiB of one command.
sample() {
  local s e
  s=$(date +%s%N)
  /usr/bin/time -f %M -o "$work/rss" "$@" >/dev/null
  e=$(date +%s%N)
  echo "$(( (e - s) / 1000 )) $(cat "$work/rss")"
}
: > "$work/lab.txt"; : > "$work/kubectl.txt"
for _ in $(seq "$runs"); do
  sample "${labcmd[@]}" >> "$work/lab.txt"
  sample "${kubectlcmd[@]}" >> "$work/kubectl.txt"
done

echo "## bench/verify.sh $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, lab $(lab version | cut -d' ' -f2), $runs alternated runs"
python3 - "$work/lab.txt" "$work/kubectl.txt" <<'PY'
import statistics, sys
def load(p):
    rows = [tuple(map(int, l.split())) for l in open(p) if l.strip()]
    return [r[0] / 1e6 for r in rows], [r[1] for r in rows]
lt, lr = load(sys.argv[1])
kt, kr = load(sys.argv[2])
ratios = sorted(a / b for a, b in zip(lt, kt))
print("| command | median | min | max | peak RSS (max) |")
print("|---|---|---|---|---|")
for name, t, r in (("`lab verify deploy-fleet`", lt, lr), ("`kubectl get deploy,rs,pod -n dev -o json`", kt, kr)):
    print(f"| {name} | {statistics.median(t)*1000:.1f} ms | {min(t)*1000:.1f} ms | {max(t)*1000:.1f} ms | {max(r)/1024:.1f} MiB |")
print(f"\nmedian ratio lab/kubectl: {statistics.median(lt)/statistics.median(kt):.2f} (median of per-pair ratios {statistics.median(ratios):.2f}); lab peak RSS {max(lr)/1024:.1f} MiB")
PY
