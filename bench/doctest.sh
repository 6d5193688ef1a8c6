#!/usr/bin/env bash
# Measures `lab doc test` of the shipped lesson on a ready cluster of its
# own (the shipped labs.hcl up on the simulated runtime) against the same
# commands run by a plain bash script, alternated in one run. Three
# commands: the whole lesson (its 14 commands and the lab it ends with,
# deploy-fleet, proven: checks fail, solution applied, checks pass,
# solution removed); the same lesson without its verify= mark (the
# commands only, what bash does too); and bash on a script of the 14
# commands, in order, output discarded. Prints medians and ratios.
# Goal: the whole lesson <= 3 s. See docs/benchmarks.md ("Lessons").
# Needs: make build control-plane; jq (installed if missing).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
runs=${RUNS:-10}
command -v jq >/dev/null || { apt-get update -qq && apt-get install -y -qq jq >/dev/null; }
export PATH="$root/bin:$("$root/tools/controlplane/build.sh" --print-dir):$PATH"
work=$(mktemp -d /tmp/lab-bench-doctest.XXXXXX)
export KUBECONFIG=$work/kubeconfig NO_COLOR=1
cleanup() {
  lab -chdir "$work/shipped" down >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$work/shipped"
cp -r "$root/labs.hcl" "$root/charts" "$root/manifests" "$root/lessons" "$work/shipped/"
lab -chdir "$work/shipped" up --var runtime=simulated >/dev/null
lesson=lessons/deploy-a-fleet-of-pods.md
grep -v '^<!-- lab: verify=' "$work/shipped/$lesson" > "$work/shipped/lessons/commands-only.md"

# The plain script: the lesson's commands, in order, from lab's own
# reading of the lesson (so both run exactly the same commands).
lab -chdir "$work/shipped" doc test -o json "$lesson" > "$work/report.json" ||
  { echo "lab doc test does not pass on the shipped lab:" >&2; lab -chdir "$work/shipped" doc test "$lesson" >&2; exit 1; }
{ echo "cd $work/shipped"; jq -r '.lessons[0].steps[].command' "$work/report.json"; } > "$work/commands.sh"
steps=$(jq '.lessons[0].steps | length' "$work/report.json")

whole=(lab -chdir "$work/shipped" doc test "$lesson")
commands=(lab -chdir "$work/shipped" doc test lessons/commands-only.md)
plain=(bash "$work/commands.sh")
for _ in 1 2; do "${whole[@]}" >/dev/null; "${commands[@]}" >/dev/null; "${plain[@]}" >/dev/null 2>&1 || true; done # warm caches

sample() {
  local s e
  s=$(date +%s%N)
  "$@" >/dev/null 2>&1 || true
  e=$(date +%s%N)
  echo $(( (e - s) / 1000 ))
}
: > "$work/whole.txt"; : > "$work/commands.txt"; : > "$work/plain.txt"
for _ in $(seq "$runs"); do
  sample "${whole[@]}" >> "$work/whole.txt"
  sample "${commands[@]}" >> "$work/commands.txt"
  sample "${plain[@]}" >> "$work/plain.txt"
done

echo "## bench/doctest.sh $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg), lab $(lab version | cut -d' ' -f2), $runs alternated runs, $steps commands"
python3 - "$work/whole.txt" "$work/commands.txt" "$work/plain.txt" <<'PY'
import statistics, sys
w, c, p = ([int(l) / 1e6 for l in open(f) if l.strip()] for f in sys.argv[1:4])
print("| command | median | min | max |")
print("|---|---|---|---|")
for name, t in (("`lab doc test` of the lesson (commands + lab deploy-fleet proven)", w),
                ("`lab doc test` of the lesson without its verify= mark (commands only)", c),
                ("`bash` running the same commands", p)):
    print(f"| {name} | {statistics.median(t):.2f} s | {min(t):.2f} s | {max(t):.2f} s |")
mp = statistics.median(p)
print(f"\ncommands only, lab/bash: {statistics.median(c)/mp:.2f}; whole lesson {statistics.median(w):.2f} s (goal <= 3 s), "
      f"of which the lab's proof {statistics.median(w) - statistics.median(c):.2f} s")
PY
