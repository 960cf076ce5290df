#!/usr/bin/env bash
# hack/cluster-bins.sh — every binary the single-node test cluster needs
# (hack/cluster/up.sh), in one directory whose path it prints:
#
#   bins="$(hack/cluster-bins.sh)"
#
#   from hack/envtest-bins.sh (ENVTEST_NODE=1): etcd kube-apiserver
#       kube-controller-manager kubectl, and kubelet kube-scheduler
#       kube-proxy built in the same go build (one compile of what they share)
#   from hack/argocd-bins.sh ($ARGOCD_BINS when set): helm, the one Argo CD
#       runs, which make test builds anyway
#
# Nothing is built here: the binaries are hard-linked (or copied) into
# ${CLUSTER_BINS_CACHE:-$XDG_CACHE_HOME/cluster-bins}/<k8s>-<key>, keyed by
# this script and the two directories it takes them from.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
log() { echo "cluster-bins: $*" >&2; }

envtest=$(ENVTEST_KCM=1 ENVTEST_NODE=1 "$here/envtest-bins.sh")
argocd=${ARGOCD_BINS:-$("$here/argocd-bins.sh")}
k8s=${envtest##*/}; k8s=${k8s%%-*}
key=$( { cat "${BASH_SOURCE[0]}"; echo "$envtest $argocd"; } | sha256sum | cut -c1-12)
root=${CLUSTER_BINS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/cluster-bins}
dir=$root/$k8s-$key
if [[ -f $dir/.complete ]]; then echo "$dir"; exit 0; fi
mkdir -p "$root"
exec 9>"$root/.lock"; flock 9          # parallel callers wait for one another
if [[ -f $dir/.complete ]]; then echo "$dir"; exit 0; fi

tmp=$(mktemp -d "$root/.build.XXXXXX"); chmod 755 "$tmp"; trap 'rm -rf "$tmp"' EXIT
for b in etcd kube-apiserver kube-controller-manager kubectl kubelet kube-scheduler kube-proxy; do
  cp -l "$envtest/$b" "$tmp/$b" 2>/dev/null || cp "$envtest/$b" "$tmp/$b"
done
cp -l "$argocd/helm" "$tmp/helm" 2>/dev/null || cp "$argocd/helm" "$tmp/helm"
"$tmp/kubelet" --version >&2; "$tmp/helm" version --short >&2
touch "$tmp/.complete"
rm -rf "$dir"; mv -T "$tmp" "$dir"; trap - EXIT
# other versions are stale once this one is assembled; nothing runs from them
# for long (a test cluster lives for one test run)
find "$root" -mindepth 1 -maxdepth 1 -type d ! -name '.build.*' ! -path "$dir" -mmin +60 -exec rm -rf {} +
log "assembled in $dir"
echo "$dir"
