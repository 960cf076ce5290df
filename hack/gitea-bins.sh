#!/usr/bin/env bash
# hack/gitea-bins.sh — build Gitea, the forge the pull-request tests open,
# wait for and merge pull requests on, from source through the Go module
# proxy, and print the folder holding it: the `gitea` binary, and the
# options/ and templates/ it reads at run time (point STATIC_ROOT_PATH at the
# folder; the web UI's built assets are not in the module zip, the REST API
# and git over HTTP do not need them).
#
#   GITEA_BINS="$(hack/gitea-bins.sh)"
#
# Gitea v1.27's go.mod says `module gitea.dev` and has replace lines, so
# neither a wrapper module (hack/tools/...) nor `go install` can build it: the
# module is downloaded from the proxy (its hash checked against the one pinned
# below), copied out of the module cache and built as the main module, where
# its own go.sum and replace lines apply. CGO is off: Gitea 1.27 defaults to
# modernc.org/sqlite, a pure-Go SQLite. Its go directive (1.26.4) is met by the
# project's own toolchain.
# Cache: ${GITEA_BINS_CACHE:-$XDG_CACHE_HOME/gitea-bins}/<version>-<key>,
# outside the work tree, keyed by a hash of this script and `go version`; a hit
# costs nothing. A cold build (empty GOCACHE, modules downloaded) takes ~510 s
# of CPU: ~4 min on 2 quiet cores, 20.7 min measured on 2 cores shared with
# other builds; 1.8 GB RAM peak, 1.3 GB of GOCACHE, 1.3 GB of modules, and a
# 126 MB folder (a 115 MB binary).
set -euo pipefail
log() { echo "gitea-bins: $*" >&2; }
ver=v1.27.3
# `go mod download -json code.gitea.io/gitea@v1.27.3` .Sum, checked so that
# the source built is the one these tests were written against.
sum=h1:SRnjvw24ASELKCqyYvAWIlzwOqyFMgfD+UkqQ9SE5eU=
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS="-buildvcs=false"
key=$( { cat "${BASH_SOURCE[0]}"; go version; } | sha256sum | cut -c1-12)
root=${GITEA_BINS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/gitea-bins}
dir=$root/$ver-$key
if [[ -f $dir/.complete ]]; then echo "$dir"; exit 0; fi
mkdir -p "$root"
exec 9>"$root/.lock"; flock 9          # parallel callers wait for one build
if [[ -f $dir/.complete ]]; then echo "$dir"; exit 0; fi

log "building gitea $ver into $dir (cold: ~4 min on 2 quiet cores)"
t0=$SECONDS
tmp=$(mktemp -d "$root/.build.XXXXXX"); chmod 755 "$tmp"; trap 'chmod -R u+w "$tmp" 2>/dev/null; rm -rf "$tmp"' EXIT
info=$(go mod download -json "code.gitea.io/gitea@$ver")
got=$(sed -n 's/^[[:space:]]*"Sum": "\(.*\)",*$/\1/p' <<<"$info")
src=$(sed -n 's/^[[:space:]]*"Dir": "\(.*\)",*$/\1/p' <<<"$info")
[[ $got == "$sum" ]] || { log "code.gitea.io/gitea@$ver has hash $got, want $sum"; exit 1; }
cp -r "$src" "$tmp/src"; chmod -R u+w "$tmp/src"
go -C "$tmp/src" build -mod=readonly -trimpath -tags "sqlite sqlite_unlock_notify" \
  -ldflags "-s -w -X main.Version=${ver#v}" -o "$tmp/gitea" .
cp -r "$tmp/src/options" "$tmp/src/templates" "$tmp/src/public" "$tmp/"
rm -rf "$tmp/src"
"$tmp/gitea" --version >&2
touch "$tmp/.complete"
rm -rf "$dir"; mv -T "$tmp" "$dir"; trap - EXIT
# other versions of this cache are stale once this one is built
find "$root" -mindepth 1 -maxdepth 1 -type d -name 'v*' ! -path "$dir" -exec rm -rf {} +
log "done in $((SECONDS - t0))s"
echo "$dir"
