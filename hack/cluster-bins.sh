#!/usr/bin/env bash
# hack/cluster-bins.sh — every binary the single-node test cluster needs
# (hack/cluster/up.sh), built from source through the Go module proxy, in one
# directory whose path it prints:
#
#   bins="$(hack/cluster-bins.sh)"
#
#   from hack/envtest-bins.sh: etcd kube-apiserver kube-controller-manager kubectl
#   built here:                kubelet kube-scheduler kube-proxy (same wrapper
#                              module hack/tools/kube, same release flags), helm
#
# Cache: ${CLUSTER_BINS_CACHE:-$XDG_CACHE_HOME/cluster-bins}/<k8s>-<key>, outside
# the work tree, keyed by the wrapper module, this script, the helm version,
# `go version` and the envtest directory (whose binaries are hard-linked or
# copied in). Measured on 2 cores: with envtest's build cache warm, kubelet +
# kube-scheduler + kube-proxy take about a minute; helm about 4 minutes cold.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
mod=$here/tools/kube
log() { echo "cluster-bins: $*" >&2; }
helm_version=${HELM_VERSION:-v4.3.1}

envtest=$(ENVTEST_KCM=1 "$here/envtest-bins.sh")
k8s=${envtest##*/}; k8s=${k8s%%-*}
key=$( { cat "$mod/go.mod" "$mod/go.sum" "${BASH_SOURCE[0]}"; go version; echo "$helm_version $envtest"; } | sha256sum | cut -c1-12)
root=${CLUSTER_BINS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/cluster-bins}
dir=$root/$k8s-$key
if [[ -f $dir/.complete ]]; then echo "$dir"; exit 0; fi
mkdir -p "$root"
exec 9>"$root/.lock"; flock 9          # parallel callers wait for one build
if [[ -f $dir/.complete ]]; then echo "$dir"; exit 0; fi

log "building kubelet, kube-scheduler, kube-proxy $k8s and helm $helm_version into $dir"
tmp=$(mktemp -d "$root/.build.XXXXXX"); chmod 755 "$tmp"; trap 'rm -rf "$tmp"' EXIT
t0=$SECONDS
minor=${k8s#v1.}; minor=${minor%%.*}
ldf="-s -w"
for p in k8s.io/client-go/pkg/version k8s.io/component-base/version; do
  ldf+=" -X $p.gitVersion=$k8s -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean -X $p.buildDate=1970-01-01T00:00:00Z"
done
export CGO_ENABLED=0
# the flags of hack/envtest-bins.sh, so the two builds share their Go build cache
GOFLAGS="${GOFLAGS:-} -mod=readonly" go -C "$mod" build -buildvcs=false -trimpath -tags selinux,notest,grpcnotrace \
  -ldflags "$ldf" -o "$tmp/" k8s.io/kubernetes/cmd/kubelet k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kube-proxy
log "kubernetes node binaries in $((SECONDS - t0))s"
GOBIN=$tmp go install -trimpath -ldflags "-s -w" "helm.sh/helm/v4/cmd/helm@$helm_version"
for b in etcd kube-apiserver kube-controller-manager kubectl; do
  cp -l "$envtest/$b" "$tmp/$b" 2>/dev/null || cp "$envtest/$b" "$tmp/$b"
done
"$tmp/kubelet" --version >&2; "$tmp/helm" version --short >&2
touch "$tmp/.complete"
rm -rf "$dir"; mv -T "$tmp" "$dir"; trap - EXIT
# other versions are stale once this one is built; nothing runs from them for
# long (a test cluster lives for one test run)
find "$root" -mindepth 1 -maxdepth 1 -type d ! -name '.build.*' ! -path "$dir" -mmin +60 -exec rm -rf {} +
log "done in $((SECONDS - t0))s"
echo "$dir"
