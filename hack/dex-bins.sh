#!/usr/bin/env bash
# hack/dex-bins.sh — build Dex, the OpenID Connect provider the single
# sign-on tests sign in through, from source through the Go module proxy.
#
#   export KARGO_DEX="$(hack/dex-bins.sh)"   # prints the path of the dex binary
#
# The version is pinned by the wrapper module hack/tools/dex (go.mod + go.sum):
# the v2.45.1 commit as a pseudo-version, since the proxy serves no v2 tags of
# github.com/dexidp/dex. CGO is off, which leaves out only Dex's SQLite storage;
# the tests use its memory storage.
# Cache: ${DEX_BINS_CACHE:-$XDG_CACHE_HOME/dex-bins}/<key>/dex, OUTSIDE the work
# tree, keyed by a hash of go.mod, go.sum, this script and `go version`; a hit
# costs ~0.1 s, a miss ~2 min on 2 idle cores with a cold GOCACHE
# (measured 9.5 min while other builds shared the cores).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
mod=$here/tools/dex
log() { echo "dex-bins: $*" >&2; }

key=$( { cat "$mod/go.mod" "$mod/go.sum" "${BASH_SOURCE[0]}"; go version; } | sha256sum | cut -c1-12)
root=${DEX_BINS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dex-bins}
dir=$root/$key
if [[ -x $dir/dex ]]; then echo "$dir/dex"; exit 0; fi
mkdir -p "$root"
exec 9>"$root/.lock"; flock 9          # parallel callers wait for one build
if [[ -x $dir/dex ]]; then echo "$dir/dex"; exit 0; fi

log "building Dex into $dir (cold GOCACHE: ~2 min on 2 cores)"
tmp=$(mktemp -d "$root/.build.XXXXXX"); trap 'rm -rf "$tmp"' EXIT
t0=$SECONDS
CGO_ENABLED=0 GOFLAGS="${GOFLAGS:-} -mod=readonly" \
  go -C "$mod" build -buildvcs=false -trimpath -ldflags "-s -w" -o "$tmp/dex" github.com/dexidp/dex/cmd/dex
chmod 755 "$tmp"
mv -T "$tmp" "$dir"; trap - EXIT
log "done in $((SECONDS - t0))s"
echo "$dir/dex"
