#!/usr/bin/env bash
# hack/argocd-bins.sh — build a real Argo CD (one `argocd` binary that acts as
# application-controller or repo-server by argv[0]), kustomize and helm from
# source through the Go module proxy, and print the folder holding them, with
# Argo CD's own CRDs under crds/ and its default ConfigMaps under config/.
#
#   ARGOCD_BINS="$(hack/argocd-bins.sh)"
#
# Versions are pinned by the wrapper module hack/tools/argocd (go.mod + go.sum;
# its replace block repeats Argo CD's own, which Go ignores in a dependency).
# Argo CD v3.6 says `go 1.27.0`: the build runs with GOTOOLCHAIN=go1.27.3, which
# the go command fetches from the module proxy (~10 s) — the rest of the
# project keeps its own toolchain.
# Cache: ${ARGOCD_BINS_CACHE:-$XDG_CACHE_HOME/argocd-bins}/<version>-<key>,
# outside the work tree, keyed by go.mod, go.sum, this script and the
# toolchain. Cold on 2 cores: ~7 min for argocd (2.4 GB RAM peak), ~40 s
# kustomize, ~2 min helm; a hit costs nothing.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
mod=$here/tools/argocd
log() { echo "argocd-bins: $*" >&2; }
# Argo CD keeps its cache in redis: Debian's redis-server, run as a plain
# process by whoever starts Argo CD, installed here when missing.
if ! command -v redis-server >/dev/null; then
  command -v apt-get >/dev/null || { log "no redis-server and no apt-get to install it: install redis-server"; exit 1; }
  sudo=(); [[ $(id -u) == 0 ]] || sudo=(sudo)
  install=("${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends redis-server)
  log "installing Debian's redis-server: ${install[*]}"
  "${install[@]}" >&2 || { "${sudo[@]}" apt-get update >&2; "${install[@]}" >&2; }
fi
export GOTOOLCHAIN=${ARGOCD_GOTOOLCHAIN:-go1.27.3} CGO_ENABLED=0 GOFLAGS="-buildvcs=false"
ver=$(sed -n 's/^require github.com\/argoproj\/argo-cd\/v3 \(v[0-9.]*\).*/\1/p' "$mod/go.mod" | head -1)
[[ -n $ver ]] || { log "cannot find the argo-cd version in $mod/go.mod"; exit 1; }
key=$( { cat "$mod/go.mod" "$mod/go.sum" "${BASH_SOURCE[0]}"; echo "$GOTOOLCHAIN"; } | sha256sum | cut -c1-12)
root=${ARGOCD_BINS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/argocd-bins}
dir=$root/$ver-$key
if [[ -f $dir/.complete ]]; then echo "$dir"; exit 0; fi
mkdir -p "$root"
exec 9>"$root/.lock"; flock 9          # parallel callers wait for one build
if [[ -f $dir/.complete ]]; then echo "$dir"; exit 0; fi

log "building argo-cd $ver, kustomize and helm into $dir (cold: ~10 min on 2 cores)"
t0=$SECONDS
tmp=$(mktemp -d "$root/.build.XXXXXX"); chmod 755 "$tmp"; trap 'rm -rf "$tmp"' EXIT
v=github.com/argoproj/argo-cd/v3/common
go -C "$mod" build -mod=readonly -trimpath \
  -ldflags "-s -w -X $v.version=${ver#v} -X $v.gitTag=$ver -X $v.gitTreeState=clean -X $v.buildDate=1970-01-01T00:00:00Z" \
  -o "$tmp/argocd" github.com/argoproj/argo-cd/v3/cmd
# kustomize 5.8.3 needs a kube-openapi the proxy refuses; 5.8.1 builds. Helm 4.3.1 is what Argo CD 3.6 ships.
GOBIN=$tmp go install -trimpath -ldflags "-s -w" "sigs.k8s.io/kustomize/kustomize/v5@${KUSTOMIZE_VERSION:-v5.8.1}"
GOBIN=$tmp go install -trimpath -ldflags "-s -w" "helm.sh/helm/v4/cmd/helm@${HELM_VERSION:-v4.3.1}"
for n in argocd-application-controller argocd-repo-server; do ln -s argocd "$tmp/$n"; done
src=$(go -C "$mod" list -m -f '{{.Dir}}' github.com/argoproj/argo-cd/v3)
# the repo-server runs this wrapper around every manifest generation, even with GPG off
install -m 0755 "$src/hack/git-verify-wrapper.sh" "$tmp/"
install -d "$tmp/crds" "$tmp/config"
install -m 0644 "$src"/manifests/crds/{application,appproject}-crd.yaml "$tmp/crds/"
install -m 0644 "$src"/manifests/base/config/argocd-*.yaml "$tmp/config/"
touch "$tmp/.complete"
rm -rf "$dir"; mv -T "$tmp" "$dir"; trap - EXIT
# other versions of this cache are stale once this one is built
find "$root" -mindepth 1 -maxdepth 1 -type d -name 'v*' ! -path "$dir" -exec rm -rf {} +
log "done in $((SECONDS - t0))s"
echo "$dir"
