#!/usr/bin/env bash
# Builds kube-apiserver, kubectl and etcd from their Go modules into bin/.
# The versions are pinned once, in hack/controlplane/go.mod (k8s.io/kubernetes)
# and hack/etcd/go.mod (go.etcd.io/etcd/server/v3). A build is cached per version
# under $PEERING_OPERATOR_CACHE (default ~/.cache/peering-operator) and never
# repeated while the version is unchanged; bin/ gets a copy.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cache=${PEERING_OPERATOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/peering-operator}
bin=$root/bin
mkdir -p "$bin"

modversion() { (cd "$1" && go list -m -f '{{.Version}}' "$2"); }

k8s=$(modversion "$root/hack/controlplane" k8s.io/kubernetes)
etcdv=$(modversion "$root/hack/etcd" go.etcd.io/etcd/server/v3)
arch=$(go env GOOS)-$(go env GOARCH)

# build DIR PKG OUT LDFLAGS: build PKG (in module DIR) to OUT unless it exists.
build() {
  local dir=$1 pkg=$2 out=$3 ldflags=$4
  if [ -x "$out" ]; then return; fi
  echo "building $(basename "$out") ($pkg) — first time only, a few minutes on 2 cores" >&2
  mkdir -p "$(dirname "$out")"
  (cd "$dir" && CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" -o "$out.tmp" "$pkg")
  mv "$out.tmp" "$out"
}

minor=${k8s#v}; major=${minor%%.*}; minor=${minor#*.}; minor=${minor%%.*}
kver="-s -w -X k8s.io/component-base/version.gitVersion=$k8s -X k8s.io/component-base/version.gitMajor=$major -X k8s.io/component-base/version.gitMinor=$minor -X k8s.io/client-go/pkg/version.gitVersion=$k8s"
kdir=$cache/kubernetes-$k8s-$arch
edir=$cache/etcd-$etcdv-$arch
build "$root/hack/controlplane" k8s.io/kubernetes/cmd/kube-apiserver "$kdir/kube-apiserver" "$kver"
build "$root/hack/controlplane" k8s.io/kubernetes/cmd/kubectl "$kdir/kubectl" "$kver"
build "$root/hack/etcd" go.etcd.io/etcd/server/v3 "$edir/etcd" "-s -w"

for f in "$kdir/kube-apiserver" "$kdir/kubectl" "$edir/etcd"; do
  dst=$bin/$(basename "$f")
  if ! cmp -s "$f" "$dst" 2>/dev/null; then cp -f "$f" "$dst.tmp" && mv "$dst.tmp" "$dst"; fi
done
echo "control plane ready in $bin: kube-apiserver $k8s, kubectl $k8s, etcd $etcdv" >&2
