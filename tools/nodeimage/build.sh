#!/usr/bin/env bash
# Builds lab's offline kind node image for the pinned Kubernetes from Go
# sources (the module proxy) and Debian packages only, into a cache keyed
# by what goes in, and loads it into podman and/or docker as
# localhost/lab/kind-node:<k8s version>. A run with nothing changed finds
# the build key in the loaded image's label and stops within seconds.
#
#   usage: build.sh               build what is missing, load it, print the image
#          build.sh --print-key   print the build key only
#          build.sh --print-image print the image reference only
#
# Environment:
#   LAB_NODE_IMAGE_ENGINES  where to load: "podman", "docker", "podman docker"
#                           or "none"; default: each engine that answers
#   LAB_CACHE_DIR, XDG_CACHE_HOME  the cache, as tools/controlplane/build.sh
#   LAB_DEBIAN_MIRROR       Debian mirror for debootstrap (default: the
#                           host's apt source, else deb.debian.org)
#
# Needs root (debootstrap, chroot), go, debootstrap, tar and flock. What is
# in the image and why: README.md, "Air-gapped / offline node image".
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cache="${LAB_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/lab}"
work="$cache/nodeimage"
label=dev.labs.lab.nodeimage.key
start=$SECONDS

say() { echo "node-image [$((SECONDS - start))s]: $*" >&2; }
die() { say "error: $*"; exit 1; }

gover() { awk -v m="$2" '$1==m {print $2; exit} $1=="require" && $2==m {print $3; exit}' "$1"; }
k8s=$(gover "$root/tools/controlplane/kubernetes/go.mod" k8s.io/kubernetes)
etcd=$(gover "$root/tools/controlplane/etcd/go.mod" go.etcd.io/etcd/server/v3)
kind=$(gover "$root/go.mod" sigs.k8s.io/kind)
coredns=$(gover "$here/go.mod" github.com/coredns/coredns)
crictl=$(gover "$here/go.mod" sigs.k8s.io/cri-tools)
localpath=$(gover "$here/go.mod" github.com/rancher/local-path-provisioner)
image="localhost/lab/kind-node:$k8s"
suite=bookworm
# The node's userland, as kind's base image installs it (less NFS/iSCSI
# clients), from Debian: containerd 1.6, runc and the CNI plugins included.
packages=(
  systemd dbus conntrack iptables nftables ebtables iproute2 ethtool
  util-linux mount kmod libseccomp2 pigz e2fsprogs bash ca-certificates
  curl jq procps socat containerd runc containernetworking-plugins
  busybox-static
)

# The key covers every input: versions, this directory (script, node
# files, pinned modules, lab's small programs), the Debian package list,
# and the sources of cmd/kindnetd with the module versions it builds with.
key() {
  {
    echo "k8s=$k8s etcd=$etcd kind=$kind coredns=$coredns crictl=$crictl localpath=$localpath suite=$suite"
    echo "${packages[*]}"
    (cd "$here" && find . -type f ! -name '*~' -print0 | LC_ALL=C sort -z | xargs -0 sha256sum)
    (cd "$root" && go list -deps -f '{{if .Module}}{{if .Module.Main}}{{.Dir}}{{end}}{{end}}' ./cmd/kindnetd |
      while read -r d; do find "$d" -maxdepth 1 -name '*.go' ! -name '*_test.go'; done |
      LC_ALL=C sort | sed "s|^$root/||" | xargs sha256sum; sha256sum go.mod go.sum)
  } | sha256sum | cut -c1-12
}

case "${1:-}" in
  --print-image) echo "$image"; exit 0 ;;
  --print-key) echo "k8s-${k8s}_$(key)"; exit 0 ;;
  "") ;;
  *) die "unknown argument $1 (usage: build.sh [--print-key|--print-image])" ;;
esac

command -v go >/dev/null || die "go is not on PATH"
buildkey="k8s-${k8s}_$(key)"
out="$work/$buildkey"

engine_answers() { command -v "$1" >/dev/null && timeout 20 "$1" info >/dev/null 2>&1; }
engines=()
if [[ -n "${LAB_NODE_IMAGE_ENGINES:-}" ]]; then
  for e in $LAB_NODE_IMAGE_ENGINES; do
    case "$e" in
      none) ;;
      podman|docker) engine_answers "$e" || die "LAB_NODE_IMAGE_ENGINES names $e, but \`$e info\` does not answer: start it (or set DOCKER_HOST / CONTAINERS_CONF), or leave $e out"
        engines+=("$e") ;;
      *) die "LAB_NODE_IMAGE_ENGINES: unknown engine $e (podman, docker or none)" ;;
    esac
  done
else
  for e in podman docker; do engine_answers "$e" && engines+=("$e"); done
fi

loaded_key() { "$1" image inspect --format "{{ index .Config.Labels \"$label\" }}" "$image" 2>/dev/null || true; }
stale=()
for e in "${engines[@]}"; do
  [[ "$(loaded_key "$e")" == "$buildkey" ]] || stale+=("$e")
done
if [[ ${#engines[@]} -gt 0 && ${#stale[@]} -eq 0 ]]; then
  say "$image is up to date in ${engines[*]} ($buildkey, $((SECONDS - start)) s)"
  echo "$image"
  exit 0
fi

# One build or load at a time per cache: a second caller waits, then
# finds the work done.
mkdir -p "$work"
exec 9>"$work/.lock"
if ! flock -n 9; then
  say "waiting for another node-image build in $work ..."
  flock 9
fi

if [[ ! -s "$out/image.tar" ]]; then
  [[ $EUID -eq 0 ]] || die "building the node image needs root (debootstrap and chroot); run as root, or load a prebuilt archive with \`docker load\`/\`podman load\`"
  for c in debootstrap tar flock chroot; do
    command -v "$c" >/dev/null || die "$c is missing: apt-get update && apt-get install -y debootstrap tar util-linux coreutils"
  done

  # debootstrap mounts /proc and /sys in its target: never delete through a mount.
  remove() {
    { grep -F " $1/" /proc/mounts || true; } | awk '{print $2}' | sort -r | while read -r m; do umount -l "$m" || true; done
    rm -rf "$1"
  }
  # Under the lock no other build runs: temp dirs left are from killed ones.
  for d in "$work"/.build.*; do if [[ -d "$d" ]]; then remove "$d"; fi; done

  # Everything is made in a temp dir and renamed into place at the end,
  # so an interrupted build never leaves something that looks done.
  tmp=$(mktemp -d "$work/.build.XXXXXX")
  bootstrap_pid=""
  cleanup() {
    if [[ -n "$bootstrap_pid" ]]; then kill -- "-$bootstrap_pid" 2>/dev/null || true; wait "$bootstrap_pid" 2>/dev/null || true; fi
    if [[ -n "${containerd_pid:-}" ]]; then kill "$containerd_pid" 2>/dev/null || true; wait "$containerd_pid" 2>/dev/null || true; fi
    remove "$tmp"
  }
  trap cleanup EXIT
  trap 'exit 130' INT TERM HUP

  # The Debian userland, cached by suite and package list; fetched in the
  # background while the Go programs compile.
  rootfs_tar="$work/rootfs/$suite-$(echo "${packages[*]}" | sha256sum | cut -c1-12).tar"
  if [[ ! -s "$rootfs_tar" ]]; then
    mirror=${LAB_DEBIAN_MIRROR:-$(awk '/^URIs:/ && $2 ~ /\/debian\/?$/ {print $2; exit} /^deb / && $3 ~ /\/debian\/?$/ {print $3; exit}' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null || true)}
    mirror=${mirror:-http://deb.debian.org/debian}
    mkdir -p "$work/rootfs" "$work/debs"
    say "debootstrap $suite from $mirror (in the background) ..."
    set -m # its own process group, so cleanup stops debootstrap's children too
    (
      set -e
      t0=$SECONDS
      debootstrap --variant=minbase --components=main --cache-dir="$work/debs" \
        --include="$(IFS=,; echo "${packages[*]}")" "$suite" "$tmp/bootstrap" "$mirror" >"$tmp/debootstrap.log" 2>&1
      r="$tmp/bootstrap"
      rm -rf "$r"/var/lib/apt/lists/* "$r"/var/cache/apt/*.bin "$r"/var/cache/apt/archives/*.deb \
        "$r"/usr/share/man "$r"/usr/share/info "$r"/usr/share/locale/* "$r"/var/log/* "${r:?}"/dev/* "$r"/tmp/* "$r"/var/tmp/*
      find "$r/usr/share/doc" -mindepth 1 ! -name copyright ! -type d -delete
      find "$r/usr/share/doc" -mindepth 1 -type d -empty -delete
      tar --numeric-owner --xattrs --xattrs-include='*' -C "$r" -cf "$tmp/rootfs.tar" .
      mv -f "$tmp/rootfs.tar" "$rootfs_tar"
      rm -rf "$r"
      echo "debootstrap done in $((SECONDS - t0)) s" >>"$tmp/debootstrap.log"
    ) &
    bootstrap_pid=$!
    set +m
  fi

  # Kubernetes: the control-plane binaries come from tools/controlplane's
  # static build (shared with the simulated runtime); kubelet, kubeadm and
  # kube-proxy are built from the same pinned module, so Go's build cache
  # compiles the shared packages once.
  say "control-plane binaries (tools/controlplane/build.sh) ..."
  cp_dir=$("$root/tools/controlplane/build.sh" | tail -n1)
  export CGO_ENABLED=0 GOFLAGS="${GOFLAGS:-} -buildvcs=false"
  kbin="$work/bin/k8s-${k8s}_static"
  if [[ ! -x "$kbin/kubelet" || ! -x "$kbin/kubeadm" || ! -x "$kbin/kube-proxy" ]]; then
    say "building kubelet, kubeadm, kube-proxy $k8s ..."
    minor=${k8s#v1.}; minor=${minor%%.*}
    ld="-s -w"
    for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
      ld+=" -X $p.gitVersion=$k8s -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean -X $p.buildDate=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    done
    mkdir -p "$tmp/k8s"
    (cd "$root/tools/controlplane/kubernetes" && go build -trimpath -ldflags "$ld" -o "$tmp/k8s/" \
      k8s.io/kubernetes/cmd/kubelet k8s.io/kubernetes/cmd/kubeadm k8s.io/kubernetes/cmd/kube-proxy)
    mkdir -p "$work/bin"; rm -rf "$kbin"; mv -T "$tmp/k8s" "$kbin"
  fi
  abin="$work/bin/addons-$(sha256sum "$here/go.sum" | cut -c1-12)"
  if [[ ! -x "$abin/coredns" || ! -x "$abin/crictl" || ! -x "$abin/local-path-provisioner" ]]; then
    say "building coredns $coredns, crictl $crictl, local-path-provisioner $localpath ..."
    mkdir -p "$tmp/addons"
    (cd "$here" &&
      go build -trimpath -ldflags "-s -w" -o "$tmp/addons/coredns" ./coredns &&
      go build -trimpath -ldflags "-s -w -X sigs.k8s.io/cri-tools/pkg/version.Version=$crictl" -o "$tmp/addons/crictl" sigs.k8s.io/cri-tools/cmd/crictl &&
      go build -trimpath -ldflags "-s -w -X main.VERSION=$localpath" -o "$tmp/addons/local-path-provisioner" github.com/rancher/local-path-provisioner)
    rm -rf "$abin"; mv -T "$tmp/addons" "$abin"
  fi
  say "building lab's programs (kindnetd, sample web server, pause, imagetar) ..."
  own="$tmp/own"; mkdir -p "$own"
  (cd "$here" && go build -trimpath -ldflags "-s -w" -o "$own/" ./pause ./web ./imagetar)
  (cd "$root" && go build -trimpath -ldflags "-s -w" -o "$own/kindnetd" ./cmd/kindnetd)

  # kubeadm names the images it runs; preloading exactly those tags is
  # what keeps kubelet from ever pulling.
  mapfile -t kimages < <("$kbin/kubeadm" config images list --kubernetes-version "$k8s" 2>/dev/null)
  img() { printf '%s\n' "${kimages[@]}" | grep -E "/$1:" || die "kubeadm $k8s lists no $1 image (it lists: ${kimages[*]})"; }
  apiserver_img=$(img kube-apiserver); cm_img=$(img kube-controller-manager); sched_img=$(img kube-scheduler)
  proxy_img=$(img kube-proxy); etcd_img=$(img etcd); pause_img=$(img pause); coredns_img=$(img coredns)
  [[ "${etcd_img##*:}" == "${etcd#v}-0" ]] || die "kubeadm $k8s runs $etcd_img, but tools/controlplane/etcd pins etcd $etcd: pin etcd ${etcd_img##*:} there (without the -0)"
  [[ "${coredns_img##*:}" == "$coredns" ]] || die "kubeadm $k8s runs $coredns_img, but tools/nodeimage/go.mod pins coredns $coredns: pin ${coredns_img##*:}"
  tag="${buildkey#*_}"
  kindnetd_img="localhost/lab/kindnetd:$tag"
  provisioner_img="localhost/lab/local-path-provisioner:$localpath"
  helper_img="localhost/lab/local-path-helper:$tag"
  web_img="docker.io/library/nginx:1.27"

  if [[ -n "$bootstrap_pid" ]]; then
    say "waiting for debootstrap ..."
    wait "$bootstrap_pid" || { tail -n 30 "$tmp/debootstrap.log" >&2; die "debootstrap $suite failed (log above, whole log: $tmp/debootstrap.log)"; }
    bootstrap_pid=""
    tail -n1 "$tmp/debootstrap.log" | sed 's/^/node-image: /' >&2
  fi
  say "assembling the node ..."
  r="$tmp/rootfs"
  mkdir -p "$r"
  tar --numeric-owner --xattrs --xattrs-include='*' -C "$r" -xpf "$rootfs_tar"

  # Images preloaded into the node, each FROM scratch: a staging dir per
  # layer, tarred, and written as an archive ctr can import.
  mkdir -p "$tmp/images" "$tmp/layers"
  layer() { # layer NAME: tar $tmp/layers/NAME.d into $tmp/layers/NAME.tar
    tar --numeric-owner --owner=0 --group=0 -C "$tmp/layers/$1.d" -cf "$tmp/layers/$1.tar" .
  }
  staged() { mkdir -p "$tmp/layers/$1.d"; echo "$tmp/layers/$1.d"; }
  path_env="PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
  imagetar() { "$own/imagetar" -env "$path_env" "$@"; }

  # busybox (Debian's static build) with a link per applet: the shell and
  # tools of the sample, helper and kube-proxy images.
  d=$(staged busybox); mkdir -p "$d/bin" "$d/tmp"; chmod 1777 "$d/tmp"
  cp "$r/bin/busybox" "$d/bin/busybox"
  "$r/bin/busybox" --list-full | while read -r a; do
    [[ "$a" == bin/busybox ]] && continue
    mkdir -p "$d/$(dirname "$a")"; ln -sf /bin/busybox "$d/$a"
  done
  layer busybox

  for b in kube-apiserver kube-controller-manager kube-scheduler etcd; do
    d=$(staged "$b"); mkdir -p "$d/usr/local/bin" "$d/tmp"; chmod 1777 "$d/tmp"
    cp "$cp_dir/$b" "$d/usr/local/bin/"
    layer "$b"
  done
  imagetar -o "$tmp/images/kube-apiserver.tar" -tag "$apiserver_img" -layer "$tmp/layers/kube-apiserver.tar"
  imagetar -o "$tmp/images/kube-controller-manager.tar" -tag "$cm_img" -layer "$tmp/layers/kube-controller-manager.tar"
  imagetar -o "$tmp/images/kube-scheduler.tar" -tag "$sched_img" -layer "$tmp/layers/kube-scheduler.tar"
  imagetar -o "$tmp/images/etcd.tar" -tag "$etcd_img" -layer "$tmp/layers/etcd.tar"

  # kube-proxy drives iptables: Debian's legacy and nft builds with their
  # libraries and extensions, behind a wrapper that picks the node's.
  d=$(staged kube-proxy); mkdir -p "$d/usr/local/bin" "$d/usr/sbin" "$d/run"
  cp "$kbin/kube-proxy" "$d/usr/local/bin/"
  xt=usr/lib/x86_64-linux-gnu/xtables
  { for f in "$r"/usr/sbin/xtables-legacy-multi "$r"/usr/sbin/xtables-nft-multi "$r/$xt"/*.so; do
      f=${f#"$r"}
      echo "$f"; chroot "$r" /usr/bin/ldd "$f" | awk '$2=="=>" {print $3} $1 ~ /^\// {print $1}'
    done; } | sort -u | while read -r f; do
    mkdir -p "$d$(dirname "$f")"; cp -aL "$r$f" "$d$f"
  done
  cp "$here/images/iptables-wrapper" "$d/usr/sbin/iptables-wrapper"
  for c in iptables iptables-save iptables-restore ip6tables ip6tables-save ip6tables-restore; do
    ln -sf iptables-wrapper "$d/usr/sbin/$c"
  done
  mkdir -p "$d/etc"; cp "$r/etc/ethertypes" "$r/etc/protocols" "$d/etc/" 2>/dev/null || true
  layer kube-proxy
  imagetar -o "$tmp/images/kube-proxy.tar" -tag "$proxy_img" -layer "$tmp/layers/busybox.tar" -layer "$tmp/layers/kube-proxy.tar"

  d=$(staged coredns); cp "$abin/coredns" "$d/coredns"; layer coredns
  imagetar -o "$tmp/images/coredns.tar" -tag "$coredns_img" -entrypoint '["/coredns"]' -layer "$tmp/layers/coredns.tar"
  d=$(staged pause); cp "$own/pause" "$d/pause"; layer pause
  imagetar -o "$tmp/images/pause.tar" -tag "$pause_img" -entrypoint '["/pause"]' -layer "$tmp/layers/pause.tar"
  d=$(staged kindnetd); mkdir -p "$d/bin"; cp "$own/kindnetd" "$d/bin/kindnetd"; layer kindnetd
  imagetar -o "$tmp/images/kindnetd.tar" -tag "$kindnetd_img" -entrypoint '["/bin/kindnetd"]' -layer "$tmp/layers/kindnetd.tar" \
    -label "org.opencontainers.image.description=lab's kindnet-compatible pod network agent (cmd/kindnetd)"
  d=$(staged local-path); mkdir -p "$d/usr/bin"; cp "$abin/local-path-provisioner" "$d/usr/bin/"; layer local-path
  imagetar -o "$tmp/images/local-path-provisioner.tar" -tag "$provisioner_img" -layer "$tmp/layers/local-path.tar"
  imagetar -o "$tmp/images/local-path-helper.tar" -tag "$helper_img" -layer "$tmp/layers/busybox.tar"
  d=$(staged web); mkdir -p "$d/usr/sbin" "$d/usr/share/nginx/html"
  cp "$own/web" "$d/usr/sbin/lab-web"; cp "$here/images/index.html" "$d/usr/share/nginx/html/"
  layer web
  imagetar -o "$tmp/images/web.tar" -tag "$web_img" -cmd '["lab-web"]' -layer "$tmp/layers/busybox.tar" -layer "$tmp/layers/web.tar" \
    -label "dev.labs.lab.sample=lab's sample web server (tools/nodeimage/web), preloaded as $web_img in lab's offline node image only; it is not nginx" \
    -label "org.opencontainers.image.description=lab's sample web server standing in for nginx offline"

  # The node itself: kind's base files laid in as kind's base Dockerfile
  # does, with Debian's paths linked where kind's units expect its own builds.
  kindsrc=$(cd "$root" && go mod download -json "sigs.k8s.io/kind@$kind" | awk -F'"' '$2=="Dir" {print $4}')
  [[ -d "$kindsrc/images/base/files" ]] || die "sigs.k8s.io/kind@$kind has no images/base/files (looked in $kindsrc)"
  f="$kindsrc/images/base/files"
  install -m 0755 "$f"/usr/local/bin/* "$r/usr/local/bin/"
  mkdir -p "$r/kind/bin" "$r/kind/manifests" "$r/LICENSES" "$r/etc/containerd" "$r/etc/default" "$r/etc/sysctl.d" \
    "$r/etc/systemd/system/kubelet.service.d" "$r/etc/kubernetes/manifests" "$r/opt/cni"
  install -m 0644 "$f/kind/README.txt" "$r/kind/"
  install -m 0755 "$f"/kind/bin/* "$r/kind/bin/"
  install -m 0644 "$f"/LICENSES/* "$r/LICENSES/"
  install -m 0644 "$f/etc/crictl.yaml" "$r/etc/"
  install -m 0644 "$f"/etc/default/* "$r/etc/default/"
  install -m 0644 "$f"/etc/sysctl.d/* "$r/etc/sysctl.d/"
  install -m 0644 "$f"/etc/systemd/system/*.service "$f"/etc/systemd/system/*.slice "$r/etc/systemd/system/"
  install -m 0644 "$f"/etc/systemd/system/kubelet.service.d/* "$r/etc/systemd/system/kubelet.service.d/"
  chmod 0755 "$r/kind" "$r/kind/bin"
  ln -sf /usr/bin/containerd "$r/usr/local/bin/containerd"
  ln -sfn /usr/lib/cni "$r/opt/cni/bin"
  install -m 0755 "$kbin/kubelet" "$kbin/kubeadm" "$cp_dir/kubectl" "$r/usr/bin/"
  install -m 0755 "$abin/crictl" "$r/usr/local/bin/"
  sub() { sed -e "s|@PAUSE_IMAGE@|$pause_img|g" -e "s|@KINDNETD_IMAGE@|$kindnetd_img|g" \
    -e "s|@PROVISIONER_IMAGE@|$provisioner_img|g" -e "s|@HELPER_IMAGE@|$helper_img|g" "$1" >"$2"; }
  sub "$here/node/etc/containerd/config.toml" "$r/etc/containerd/config.toml"
  sub "$here/node/kind/manifests/default-cni.yaml" "$r/kind/manifests/default-cni.yaml"
  sub "$here/node/kind/manifests/default-storage.yaml" "$r/kind/manifests/default-storage.yaml"
  echo -n "$k8s" >"$r/kind/version"
  chroot "$r" /bin/sh -ec '
    ctr oci spec \
      | jq ".hooks.createContainer[.hooks.createContainer| length] |= . + {\"path\": \"/kind/bin/mount-product-files.sh\"}" \
      | jq "del(.process.rlimits)" > /etc/containerd/cri-base.json
    find /lib/systemd/system/sysinit.target.wants/ -name systemd-tmpfiles-setup.service -delete
    rm -f /lib/systemd/system/multi-user.target.wants/* /etc/systemd/system/*.wants/* \
      /lib/systemd/system/local-fs.target.wants/* /lib/systemd/system/sockets.target.wants/*udev* \
      /lib/systemd/system/sockets.target.wants/*initctl* /lib/systemd/system/basic.target.wants/*
    echo ReadKMsg=no >> /etc/systemd/journald.conf
    ln -sf /usr/lib/systemd/systemd /sbin/init
    systemctl enable kubelet.service containerd.service undo-mount-hacks.service 2>/dev/null
    systemctl mask systemd-binfmt.service 2>/dev/null
  '

  # Preload: containerd from the node's own packages, run in the node's
  # root, imports every image into the k8s.io namespace (not unpacked:
  # kubelet's first use unpacks, as with kind's images).
  say "preloading ${kimages[*]##*/} ${kindnetd_img##*/} ${provisioner_img##*/} ${helper_img##*/} $web_img into containerd ..."
  b="$r/run/lab-build"; mkdir -p "$b/images"
  cat >"$b/config.toml" <<EOF
version = 2
root = "/var/lib/containerd"
state = "/run/lab-build/state"
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs", "io.containerd.internal.v1.opt"]
[grpc]
  address = "/run/lab-build/containerd.sock"
[ttrpc]
  address = "/run/lab-build/containerd.sock.ttrpc"
EOF
  mv "$tmp"/images/*.tar "$b/images/"
  chroot "$r" /usr/bin/containerd --config /run/lab-build/config.toml >"$tmp/containerd.log" 2>&1 &
  containerd_pid=$!
  ctr() { chroot "$r" /usr/bin/ctr --address /run/lab-build/containerd.sock --namespace k8s.io "$@"; }
  for _ in $(seq 100); do ctr version >/dev/null 2>&1 && break; sleep 0.2; done
  ctr version >/dev/null 2>&1 || { cat "$tmp/containerd.log" >&2; die "containerd in the node root did not start (log above)"; }
  for t in "$b"/images/*.tar; do
    ctr images import --no-unpack --all-platforms "/run/lab-build/images/${t##*/}" >/dev/null
  done
  # Marked pinned too (containerd ≥ 1.7 honours it); kind's kubelet config
  # (imageGCHighThresholdPercent: 100) already keeps images from GC.
  for i in "${kimages[@]}" "$kindnetd_img" "$provisioner_img" "$helper_img" "$web_img"; do
    ctr images label "$i" io.cri-containerd.pinned=pinned >/dev/null
  done
  ctr images list -q | sort >"$tmp/preloaded"
  kill "$containerd_pid"; wait "$containerd_pid" 2>/dev/null || true; containerd_pid=""
  rm -rf "$b" "$r/opt/containerd"
  for i in "${kimages[@]}" "$kindnetd_img" "$provisioner_img" "$helper_img" "$web_img"; do
    grep -qxF "$i" "$tmp/preloaded" || die "$i is missing from the node's containerd after import"
  done
  : >"$r/etc/resolv.conf"; : >"$r/etc/hostname"; rm -rf "${r:?}"/dev/* "$r"/tmp/* "$r"/run/* "$r"/var/log/*

  say "writing the image archive ..."
  tar --numeric-owner --xattrs --xattrs-include='*' -C "$r" -cf "$tmp/node-layer.tar" .
  rm -rf "$r"
  mkdir -p "$tmp/out"
  "$own/imagetar" -o "$tmp/out/image.tar" -tag "$image" -layer "$tmp/node-layer.tar" \
    -entrypoint '["/usr/local/bin/entrypoint", "/sbin/init"]' -stopsignal 'SIGRTMIN+3' \
    -env "$path_env" -env container=docker \
    -label "$label=$buildkey" \
    -label "org.opencontainers.image.description=lab's offline kind node image: Kubernetes $k8s for kind $kind, built from Go sources and Debian $suite packages" \
    -label "dev.labs.lab.nodeimage.versions=kubernetes=$k8s etcd=$etcd coredns=$coredns crictl=$crictl local-path-provisioner=$localpath kind=$kind"
  rm -f "$tmp/node-layer.tar"
  { echo "key=$buildkey"; echo "image=$image"; echo "built=$(date -u +%Y-%m-%dT%H:%M:%SZ) in $((SECONDS - start)) s"; echo "preloaded:"; cat "$tmp/preloaded"; } >"$tmp/out/info"
  rm -rf "$out"; mv -T "$tmp/out" "$out"
  say "built $out/image.tar ($(du -h "$out/image.tar" | cut -f1), $((SECONDS - start)) s)"
  # Older builds of this cache are superseded: engines keep what they loaded.
  find "$work" -mindepth 1 -maxdepth 1 -type d -name 'k8s-*' ! -name "$buildkey" -exec rm -rf {} +
fi

for e in "${stale[@]}"; do
  old=$("$e" image inspect --format '{{.Id}}' "$image" 2>/dev/null || true)
  say "loading into $e ..."
  "$e" load -i "$out/image.tar" >/dev/null || die "$e load -i $out/image.tar failed"
  [[ "$(loaded_key "$e")" == "$buildkey" ]] || die "$e has $image but not with $label=$buildkey after loading $out/image.tar"
  # The replaced image goes unless a node container still runs it.
  if [[ -n "$old" ]]; then "$e" image rm "$old" >/dev/null 2>&1 || true; fi
done
if [[ ${#engines[@]} -eq 0 ]]; then
  why="no container engine answers (podman, docker)"
  [[ -z "${LAB_NODE_IMAGE_ENGINES:-}" ]] || why="LAB_NODE_IMAGE_ENGINES=$LAB_NODE_IMAGE_ENGINES"
  say "$why: built $out/image.tar only; load it with \`docker load -i\` or \`podman load -i\`"
fi
say "$image ready ($buildkey, $((SECONDS - start)) s)"
echo "$image"
