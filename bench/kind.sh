#!/usr/bin/env bash
# Measures kind_cluster on real container engines, one run each, with the
# test harness setting podman and a private dockerd up as this VM needs
# (providers/kind/enginetest): kind's create alone vs lab up (the ratio),
# the rest of the apply, a stopped node back to ready, lab down, lab's
# peak RSS. See docs/benchmarks.md, "kind on podman and docker".
#   usage: make build control-plane && bench/kind.sh   (as root)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
LAB_ENGINE_TESTS=1 LAB_BIN_DIR="$root/bin" go test -count=1 -run '^$' -bench 'LabUp' -benchtime 1x -timeout 60m ./providers/kind/e2e
