#!/usr/bin/env bash
# hack/envtest-bins-prune.sh ROOT KEEP — delete the cached envtest binaries
# in ROOT (other versions' <k8s>-<key> directories) that nothing uses.
# hack/envtest-bins.sh runs it after a build, holding the cache lock; it is a
# file of its own so that changing this policy does not change the cache key.
#
# A directory is deleted only when both hold:
#   - it was last handed out (envtest-bins.sh touches its .used on every call)
#     more than ENVTEST_BINS_KEEP_DAYS days ago (default 14), so a shell or a
#     test run that was given it recently keeps it;
#   - no process runs a binary from it or names it in its command line or
#     environment (a running `kargo local --bin-dir DIR`, its etcd and
#     kube-apiserver, a `go test` with KUBEBUILDER_ASSETS=DIR). Without /proc
#     this cannot be told, and nothing is deleted.
# Unfinished builds (.build.*) are deleted: builds happen only under the lock.
set -euo pipefail
root=${1:?usage: envtest-bins-prune.sh ROOT KEEP}
keep=${2:?usage: envtest-bins-prune.sh ROOT KEEP}
days=${ENVTEST_BINS_KEEP_DAYS:-14}
log() { echo "envtest-bins: $*" >&2; }

# last_used prints when dir was last handed out: .used, or for a directory
# built by an older script, when it was built.
last_used() {
  local f
  for f in "$1/.used" "$1/.complete" "$1"; do
    if [[ -e $f ]]; then stat -c %Y "$f"; return; fi
  done
}

# in_use succeeds when a process other than this one runs a binary from dir
# or mentions dir in its command line or environment.
in_use() {
  local d=$1 p exe
  [[ -r /proc/self/cmdline ]] || return 0
  for p in /proc/[0-9]*; do
    [[ $p == "/proc/$$" ]] && continue
    exe=$(readlink "$p/exe" 2>/dev/null) || exe=
    [[ $exe == "$d"/* ]] && return 0
    grep -qsaF -- "$d" "$p/cmdline" "$p/environ" && return 0
  done
  return 1
}

now=$(date +%s)
for d in "$root"/v*/; do
  d=${d%/}
  [[ -d $d && $d != "$keep" ]] || continue
  age=$(( (now - $(last_used "$d")) / 86400 ))
  if (( age < days )); then continue; fi
  if in_use "$d"; then log "keeping $d: unused for $age days but still in use"; continue; fi
  # Out of the way first, so that no caller finds half of it.
  trash=$root/.trash.$(basename "$d").$$
  mv -T "$d" "$trash"
  rm -rf "$trash"
  log "deleted $d: unused for $age days"
done
for d in "$root"/.build.* "$root"/.trash.*; do
  [[ -d $d ]] && rm -rf "$d"
done
exit 0
