#!/usr/bin/env bash
# hack/cluster/test.sh — make test-cluster: kargo installed on a real
# single-node cluster, end to end.
#
#   1. the cluster's binaries (hack/cluster-bins.sh, cached) and Debian's
#      containerd, runc, CNI plugins and iptables (installed when missing)
#   2. kargo's image (hack/image/build.sh) and the pod sandbox image
#   3. the cluster (up.sh) in a private network namespace
#   4. test/cluster, run inside that namespace: helm install of charts/kargo,
#      the installed UI in Chromium,
#      the seed pipeline, the CLI, the leader killed mid-promotion, helm
#      upgrade under traffic, helm uninstall leaving nothing behind
#   5. down.sh, whatever happened
#
# Needs root (network namespaces, mounts, containerd). KEEP_CLUSTER=1 leaves
# the cluster up afterwards (stop it with CLUSTER_DIR=... hack/cluster/down.sh).
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$repo"
export GOTOOLCHAIN=${GOTOOLCHAIN:-local}
[[ $(id -u) == 0 ]] || { echo "test-cluster: needs root (network namespaces, mounts, containerd)" >&2; exit 1; }
t0=$SECONDS
say() { echo "test-cluster: [$((SECONDS - t0))s] $*" >&2; }

missing=()
for p in containerd:containerd runc:runc iptables:iptables /usr/lib/cni/bridge:containernetworking-plugins openssl:openssl; do
  command -v "${p%%:*}" > /dev/null || [[ -x ${p%%:*} ]] || missing+=("${p#*:}")
done
if (( ${#missing[@]} )); then
  say "installing ${missing[*]}"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" > /dev/null
fi

bins=$(hack/cluster-bins.sh)
say "binaries in $bins"
hack/install-ui-deps.sh > /dev/null   # Chromium and playwright-core, for the browser step
say "Chromium and the UI's packages"
work=$(mktemp -d /tmp/kargo-cluster.XXXXXX)
export CLUSTER_DIR=$work/cluster CLUSTER_BIN=$bins CLUSTER_IMAGES=$work/images
mkdir -p "$CLUSTER_DIR" "$CLUSTER_IMAGES"
cleanup() {
  if [[ ${KEEP_CLUSTER:-0} == 1 ]]; then say "left up: CLUSTER_DIR=$CLUSTER_DIR"; return; fi
  hack/cluster/down.sh || true
  rm -rf --one-file-system "$work"
}
trap cleanup EXIT

image=localhost/kargo:test
# The binary as make test builds it (kargolocal.Build: the default flags), so
# that its build cache serves this one: `make image`'s reproducible static
# build (-trimpath, CGO_ENABLED=0) would compile every package again.
# (-ldflags changes only the link: the compiled packages are the same.)
go build -ldflags "-s -w" -o "$work/kargo" ./cmd/kargo   # also the CLI the test runs
say "kargo built"
# gzip level 1: the archive is imported once, on this machine (level 9, make
# image's, costs about a minute of one core for the same layers)
KARGO_BINARY=$work/kargo KARGO_IMAGE=$image KARGO_IMAGE_GZIP_LEVEL=1 hack/image/build.sh "$CLUSTER_IMAGES" > /dev/null
rm -f "$CLUSTER_IMAGES"/kargo{,.digest,.packages}
mkdir -p "$work/pause"
CGO_ENABLED=0 go build -trimpath -buildvcs=false -ldflags "-s -w" -o "$work/pause/pause" ./hack/cluster/pause
go run ./hack/image/ociarchive --name localhost/pause:ci --out "$CLUSTER_IMAGES/pause.tar" \
  --layer "$work/pause" --entrypoint /pause --user 65535:65535 > /dev/null
say "images built"
go test -tags cluster -c -o "$work/cluster.test" ./test/cluster
say "test built"

hack/cluster/up.sh
say "cluster up"
holder=$(cat "$CLUSTER_DIR/holder.pid")
# The test runs in the cluster's network: it serves the pipeline's Git
# server and registry on the node's address, where pods reach them.
(nsenter -t "$holder" -n -m -- /bin/sh -c 'cd "$0" && exec "$@"' "$repo/test/cluster" env KARGO_CLUSTER_DIR="$CLUSTER_DIR" KARGO_CLUSTER_BIN="$bins" \
  KARGO_CLUSTER_KARGO="$work/kargo" KARGO_CLUSTER_IMAGE="$image" \
  "$work/cluster.test" -test.v -test.count=1 -test.timeout=20m) || {
  status=$?
  for f in "$CLUSTER_DIR"/pod-logs/kargo_*/*/*.log; do [[ -f $f ]] && { echo "--- $f"; tail -30 "$f"; }; done >&2 || true
  exit $status
}
say "passed"
