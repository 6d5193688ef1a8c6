#!/usr/bin/env bash
# Measures kind_cluster on real container engines, one run each (see
# docs/benchmarks.md, "kind on podman and docker"):
#   1. kind create cluster alone (kind's library, bench/kindcreate), one
#      node, the same node image and kubelet patch lab uses;
#   2. lab up of the shipped labs.hcl: wall, the kind_cluster resource
#      within it (goal <= 1.10x step 1), the rest of the lab's apply, and
#      lab's peak RSS;
#   3. a stopped node back to ready: <engine> stop kind-control-plane,
#      then lab up;
#   4. lab down.
# Needs: make build control-plane node-image; GNU time; the engines
# (ENGINES, default "podman") answering with this process's environment:
# on a VM like the build machines, CONTAINERS_CONF naming a containers.conf
# with runtime = "runc" and explicit default_ulimits for podman, and
# DOCKER_HOST pointing at a private dockerd (see ../shared/KIND-OFFLINE.md).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
engines=${ENGINES:-podman}
[[ -x /usr/bin/time ]] || { apt-get update -qq && apt-get install -y -qq time >/dev/null; }
export PATH="$root/bin:$("$root/tools/controlplane/build.sh" --print-dir):$PATH"
work=$(mktemp -d /tmp/lab-bench-kind.XXXXXX)
export KUBECONFIG=$work/kubeconfig NO_COLOR=1
(cd "$root" && go build -o "$work/kindcreate" ./bench/kindcreate)
cleanup() {
  for e in $engines; do
    lab -chdir "$work/$e" down >/dev/null 2>&1 || true
    "$work/kindcreate" -engine "$e" -delete >/dev/null 2>&1 || true
  done
  rm -rf "$work"
}
trap cleanup EXIT

secs() { python3 -c 'import sys; print(f"{float(sys.argv[1]):.1f}")' "$1"; }
now() { date +%s.%N; }

echo "## bench/kind.sh $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, lab $(lab version | cut -d' ' -f2)"
echo
echo "| engine | kind create alone | lab up | kind_cluster in lab up | ratio | rest of the apply | stopped node to ready | lab down | lab up peak RSS |"
echo "|---|---|---|---|---|---|---|---|---|"
for e in $engines; do
  image=localhost/lab/kind-node:v1.35.4
  cgroup=$( [[ -e /sys/fs/cgroup/cgroup.controllers ]] && echo false || echo true )

  t0=$(now)
  "$work/kindcreate" -engine "$e" -image "$image" -cgroupv1="$cgroup" -kubeconfig "$work/kindcreate.kubeconfig"
  alone=$(python3 -c "print($(now)-$t0)")
  "$work/kindcreate" -engine "$e" -delete -kubeconfig "$work/kindcreate.kubeconfig"

  mkdir -p "$work/$e"
  cp -r "$root/labs.hcl" "$root/charts" "$root/manifests" "$work/$e/"
  /usr/bin/time -f '%e %M' -o "$work/time" lab -chdir "$work/$e" -o json up -var "runtime=$e" > "$work/$e.json" 2> "$work/$e.events"
  read -r wall rss < "$work/time"
  cluster=$(python3 - "$work/$e.events" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    try:
        e = json.loads(line)
    except ValueError:
        continue
    if e.get("type") == "apply_complete" and e.get("addr") == "kind_cluster.kind":
        print(e.get("elapsed_seconds", 0))
PY
)

  "$e" stop kind-control-plane >/dev/null
  t0=$(now)
  lab -chdir "$work/$e" up >/dev/null
  restart=$(python3 -c "print($(now)-$t0)")

  t0=$(now)
  lab -chdir "$work/$e" down >/dev/null
  down=$(python3 -c "print($(now)-$t0)")

  python3 - "$e" "$alone" "$wall" "$cluster" "$restart" "$down" "$rss" <<'PY'
import sys
e, alone, wall, cluster, restart, down, rss = sys.argv[1], *map(float, sys.argv[2:7]), int(sys.argv[7])
print(f"| {e} | {alone:.1f} s | {wall:.1f} s | {cluster:.1f} s | **{cluster/alone:.2f}×** | {wall-cluster:.1f} s | {restart:.1f} s | {down:.1f} s | {rss/1024:.1f} MiB |")
PY
done
