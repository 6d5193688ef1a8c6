#!/usr/bin/env bash
# Builds the simulated runtime's control-plane binaries from the pinned modules
# beside this script into a cache keyed by their versions, skipping what is
# already there, so every clone on a machine shares one build.
# The binaries are static (CGO_ENABLED=0): the offline kind node image
# (tools/nodeimage) ships these same files in FROM-scratch images, so CI
# compiles Kubernetes once for both.
#   usage: build.sh            build what is missing, print the directory
#          build.sh --print-dir  print the directory only
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

ver() { awk -v m="$2" '$1==m {print $2; exit} $1=="require" && $2==m {print $3; exit}' "$here/$1/go.mod"; }
k8s=$(ver kubernetes k8s.io/kubernetes)
etcd=$(ver etcd go.etcd.io/etcd/server/v3)
kwok=$(ver kwok sigs.k8s.io/kwok)
key="k8s-${k8s}_etcd-${etcd}_kwok-${kwok}_static"
dir="${LAB_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/lab}/bin/$key"

if [[ "${1:-}" == "--print-dir" ]]; then echo "$dir"; exit 0; fi
mkdir -p "$dir"
export CGO_ENABLED=0

missing() { for b in "$@"; do [[ -x "$dir/$b" ]] || return 0; done; return 1; }

# Builds go to a temp dir and are moved in whole, so an interrupted build
# never leaves a half-written binary that looks done.
tmp=$(mktemp -d "$dir/.build.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

if missing kube-apiserver kube-controller-manager kube-scheduler kubectl; then
  minor=${k8s#v1.}; minor=${minor%%.*}
  pkg=k8s.io/component-base/version
  cpkg=k8s.io/client-go/pkg/version
  date=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  ld="-s -w"
  for p in $pkg $cpkg; do
    ld+=" -X $p.gitVersion=$k8s -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean -X $p.buildDate=$date"
  done
  echo "building kubernetes $k8s (kube-apiserver, kube-controller-manager, kube-scheduler, kubectl) ..." >&2
  (cd "$here/kubernetes" && go build -trimpath -ldflags "$ld" -o "$tmp/" \
    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl)
fi
if missing etcd; then
  echo "building etcd $etcd ..." >&2
  (cd "$here/etcd" && go build -trimpath -ldflags "-s -w" -o "$tmp/etcd" .)
fi
if missing kwok; then
  echo "building kwok $kwok ..." >&2
  (cd "$here/kwok" && go build -trimpath -ldflags "-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=$kwok" -o "$tmp/" sigs.k8s.io/kwok/cmd/kwok)
fi
for f in "$tmp"/*; do [[ -e "$f" ]] && mv -f "$f" "$dir/"; done
echo "$dir"
