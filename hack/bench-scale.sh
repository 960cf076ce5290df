#!/usr/bin/env bash
# hack/bench-scale.sh — kargo at the size of a large installation:
#   make bench-scale
# creates SCALE_PROJECTS projects, SCALE_WAREHOUSES Warehouses, SCALE_STAGES
# Stages, SCALE_FREIGHT Freight and SCALE_PROMOTIONS Promotions (the issue's
# 100 / 1,000 / 2,000 / 50,000 / 10,000 unless set) through a real
# kube-apiserver, with the built binary's `kargo controller` running with
# GOMAXPROCS=2, and writes what it measured into docs/benchmarks.md (the
# section between the bench-scale markers), then measures the Argo CD
# Application reads of SCALE_HEALTH_STAGES Stages (2,000 unless set) with
# the controller's watch and without (--argocd-live-health). The controller's profiles are
# kept in SCALE_PROFILES (default: a temporary folder, printed).
set -euo pipefail
cd "$(dirname "$0")/.."
out=docs/benchmarks.md
work=$(mktemp -d)
bins=$(ENVTEST_KCM=1 hack/envtest-bins.sh)
export KUBEBUILDER_ASSETS=$bins
ARGOCD_BINS=${ARGOCD_BINS:-$(hack/argocd-bins.sh)}
export ARGOCD_BINS
export KARGO_BIN=$work/kargo
go build -o "$KARGO_BIN" ./cmd/kargo
export SCALE_PROFILES=${SCALE_PROFILES:-$work/profiles}
mkdir -p "$SCALE_PROFILES"
export SCALE_REPORT=$work/report.md
load=$(cut -d' ' -f1 /proc/loadavg)
# Each benchmark on an API server of its own.
go test ./test/scale/ -run '^$' -bench 'BenchmarkScale$' -benchtime=1x -timeout 6h -v | tee "$work/raw.txt" >&2
go test ./test/scale/ -run '^$' -bench 'BenchmarkArgoCDHealthReads$' -benchtime=1x -timeout 1h -v | tee -a "$work/raw.txt" >&2
load="$load → $(cut -d' ' -f1 /proc/loadavg)"

section=$work/section.md
{
  echo "<!-- bench-scale -->"
  echo "## Scale (\`make bench-scale\`)"
  echo
  echo "Written by hack/bench-scale.sh on $(date -u +%Y-%m-%d), $(nproc) cores, load average $load,"
  echo "$(go version | cut -d' ' -f3), $(git rev-parse --short HEAD 2>/dev/null || echo 'no commit'); the controller is the built binary"
  echo "(\`kargo controller\`, GOMAXPROCS=2) against kube-apiserver $("$bins/kube-apiserver" --version | cut -d' ' -f2), everything created through the API."
  echo
  cat "$SCALE_REPORT"
  echo "<!-- /bench-scale -->"
} >"$section"
if grep -q '^<!-- bench-scale -->$' "$out"; then
  awk -v section="$section" '
    /^<!-- bench-scale -->$/ { while ((getline line < section) > 0) print line; skip = 1; next }
    /^<!-- \/bench-scale -->$/ { skip = 0; next }
    !skip { print }' "$out" >"$work/out.md"
else
  awk -v section="$section" '
    /^## Raw output$/ && !done { while ((getline line < section) > 0) print line; print ""; done = 1 }
    { print }' "$out" >"$work/out.md"
fi
cp "$work/out.md" "$out"
echo "bench-scale: results in $out, profiles in $SCALE_PROFILES" >&2
