#!/usr/bin/env bash
# hack/bench.sh — run the performance benchmarks and write docs/benchmarks.md.
#   make bench
# Each benchmark runs in its own `go test` so a slow one cannot starve
# another of CPU; the raw output is kept in the document under the summary.
set -euo pipefail
cd "$(dirname "$0")/.."
out=docs/benchmarks.md
raw=$(mktemp)
trap 'rm -f "$raw"' EXIT
bins=$(ENVTEST_KCM=1 hack/envtest-bins.sh)
export KUBEBUILDER_ASSETS=$bins
ARGOCD_BINS=$(hack/argocd-bins.sh)
export ARGOCD_BINS

run() { # package, benchmark regexp, extra flags...
  local pkg=$1 re=$2; shift 2
  echo "bench: $pkg $re" >&2
  go test -run '^$' -bench "$re" -benchmem "$@" "$pkg" | tee -a "$raw" >&2
}
run ./internal/git/ 'BenchmarkSemverTagSelection|BenchmarkDiscoverFanIn' -benchtime=20x
run ./internal/git/ 'BenchmarkRefreshTogether' -benchtime=10x
run ./internal/git/ 'BenchmarkPromotionCommit' -benchtime=20x
run ./internal/promote/steps/ 'BenchmarkTenStepPromotion' -benchtime=20x
run ./internal/git/ 'BenchmarkConcurrentPromotions50' -benchtime=2x
run ./internal/image/ 'BenchmarkSemverSelection10kTags' -count=3
run ./internal/helmrepo/ 'BenchmarkIndexParse' -count=3
run ./test/discovery/ 'BenchmarkWebhookToFreight' -benchtime=30x
run ./test/access/ 'BenchmarkAdmission' -benchtime=200x
run ./test/verification/ 'BenchmarkPromotionToVerified' -benchtime=20x
run ./test/promotion/ 'BenchmarkMechanismPromotion' -benchtime=30x
run ./test/api/ 'BenchmarkListFreight10k' -benchtime=50x
run ./test/ui/ 'BenchmarkUIAtScale' -benchtime=1x -timeout=90m

metric() { # benchmark name, unit -> value of the first matching line
  awk -v name="$1" -v unit="$2" '$1 ~ "^"name"(-[0-9]+)?$" { for (i = 3; i < NF; i++) if ($(i+1) == unit) { print $i; exit } }' "$raw"
}
ms() { awk -v ns="$1" 'BEGIN { printf "%.1f ms", ns / 1e6 }'; }

{
  echo "# Benchmarks"
  echo
  echo "Written by \`make bench\` (hack/bench.sh) on $(date -u +%Y-%m-%d), $(nproc) cores,"
  echo "$(go version | cut -d' ' -f3), $(git rev-parse --short HEAD 2>/dev/null || echo 'no commit')."
  echo "Every source is real and on loopback: the git CLI against a smart-HTTP server, an OCI"
  echo "registry, a Helm repository, and kube-apiserver $("$bins/kube-apiserver" --version | cut -d' ' -f2) with the kargo controllers."
  echo
  echo "| what | goal | measured |"
  echo "|---|---|---|"
  echo "| 100 Warehouses on one Git repository: network operations per interval with one change | 1 fetch | $(metric BenchmarkDiscoverFanIn 'fetches/interval') fetch, $(metric BenchmarkDiscoverFanIn 'ls-refs/interval') listing |"
  for n in 1 20 100 500; do
    echo "| $n Warehouses on one repository refreshed together, a request each: git HTTP requests per push / last answer p50 | ≤ 3 requests; last ≤ 1.5× N=1 | $(metric BenchmarkRefreshTogether/N=$n git-http-requests/push) / $(metric BenchmarkRefreshTogether/N=$n last-p50-ms) ms |"
  done
  echo "| webhook received → Freight created, 100 Warehouses on one repository, p50 | < 250 ms | $(metric BenchmarkWebhookToFreight p50-ms) ms |"
  echo "| same, p99 | < 500 ms | $(metric BenchmarkWebhookToFreight p99-ms) ms |"
  echo "| same, Git operations per push | 1 fetch | $(metric BenchmarkWebhookToFreight 'fetches/push') fetch, $(metric BenchmarkWebhookToFreight 'ls-remotes/push') listing |"
  echo "| SemVer selection over 10,000 image tags once listed | < 50 ms | $(ms "$(metric BenchmarkSemverSelection10kTags ns/op)") |"
  echo "| SemVer selection over 10,000 Git tags once listed (highest) | < 50 ms | $(ms "$(metric BenchmarkSemverTagSelection/highest ns/op)") |"
  echo "| parse a Helm index.yaml with 5,000 versions | | $(ms "$(metric BenchmarkIndexParse ns/op)") |"
  echo "| promotion commit ÷ raw \`git fetch + commit + push\` on a warm clone, 1,000 commits of history | ≤ 1.5× | $(metric BenchmarkPromotionCommit/history=1000 x-raw)× ($(metric BenchmarkPromotionCommit/history=1000 median-ms) ms vs $(metric BenchmarkPromotionCommit/history=1000 raw-median-ms) ms) |"
  echo "| a Promotion of 10 steps (git-clone, 4 edits, copy, delete, compose-output, git-commit, git-push) ÷ the same change by hand with the git CLI on a warm clone, 200 files | ≤ 1.5× | $(metric BenchmarkTenStepPromotion x-raw)× ($(metric BenchmarkTenStepPromotion median-ms) ms vs $(metric BenchmarkTenStepPromotion raw-median-ms) ms) |"
  echo "| same, 100,000 commits of history | ≤ 1.5×, flat | $(metric BenchmarkPromotionCommit/history=100000 x-raw)× ($(metric BenchmarkPromotionCommit/history=100000 median-ms) ms vs $(metric BenchmarkPromotionCommit/history=100000 raw-median-ms) ms) |"
  echo "| 50 Stages promoting concurrently into one branch (all 50 commits land) | none lost | $(metric BenchmarkConcurrentPromotions50/one-branch ms/promotion) ms per promotion |"
  echo "| 50 Stages promoting concurrently into 50 Stage branches | none lost | $(metric BenchmarkConcurrentPromotions50/50-branches ms/promotion) ms per promotion |"
  echo "| create a ConfigMap (no webhook), p50 — the baseline | | $(metric BenchmarkAdmission/configmap-baseline p50-ms) ms |"
  echo "| create a Stage (project check), p50 / p99 | | $(metric BenchmarkAdmission/stage p50-ms) ms / $(metric BenchmarkAdmission/stage p99-ms) ms |"
  echo "| create Freight (alias sync, fingerprint, alias uniqueness), p50 / p99 | | $(metric BenchmarkAdmission/freight p50-ms) ms / $(metric BenchmarkAdmission/freight p99-ms) ms |"
  echo "| same, in a project that holds 2,000 Freight | flat | $(metric BenchmarkAdmission/freight-in-project-of-2000 p50-ms) ms / $(metric BenchmarkAdmission/freight-in-project-of-2000 p99-ms) ms |"
  echo "| create a Promotion as alice (SubjectAccessReview for \`promote\`), p50 / p99 | | $(metric BenchmarkAdmission/promotion-as-alice p50-ms) ms / $(metric BenchmarkAdmission/promotion-as-alice p99-ms) ms |"
  echo "| Promotion created → Freight verified, one Application of a real Argo CD v3.6.1 (commit to the Stage branch, Application update, Argo CD refresh + sync + health), p50 / p99 | | $(metric BenchmarkPromotionToVerified p50-ms) ms / $(metric BenchmarkPromotionToVerified p99-ms) ms (first after start: $(metric BenchmarkPromotionToVerified first-ms) ms; the simulator it replaced gave 195 / 358 ms) |"
  echo "| Promotion created → Succeeded by \`promotionMechanisms\` (one gitRepoUpdate, a kustomize image, main → stages/test; its steps check, git-update-0 through the step engine), p50 / p99 | not slower than before the engine ran them | $(metric BenchmarkMechanismPromotion p50-ms) ms / $(metric BenchmarkMechanismPromotion p99-ms) ms |"
  echo "| API: list Freight, a page of 500 of 10,000, p50 / p99 | p99 < 100 ms | $(metric BenchmarkListFreight10k page500-p50-ms) ms / $(metric BenchmarkListFreight10k page500-p99-ms) ms |"
  echo "| API: list all 10,000 Freight (pages of 5,000), p50 / p99 | | $(metric BenchmarkListFreight10k all10k-p50-ms) ms / $(metric BenchmarkListFreight10k all10k-p99-ms) ms |"
  echo "| heap in use of the test process (API server and controllers, both caching 10,000 Freight) | | $(metric BenchmarkListFreight10k heap-inuse-MB) MB |"
  echo "| UI: first render of a project of 10,000 Freight, 200 Stages and 20 Warehouses in Chromium (every Stage card, the timeline's first row and count), p50 / p99 of 7 loads | p50 < 1 s | $(metric BenchmarkUIAtScale first-render-p50-ms) ms / $(metric BenchmarkUIAtScale first-render-p99-ms) ms (load average $(metric BenchmarkUIAtScale load-avg-1m)) |"
  echo "| UI: same project, open a Stage view from its card, p50 / p99 | < 200 ms | $(metric BenchmarkUIAtScale open-stage-p50-ms) ms / $(metric BenchmarkUIAtScale open-stage-p99-ms) ms |"
  echo "| UI: same project, a promotion's live update: the Stage's status write seen by a watch → its card changed in the page, p50 / p99 of 20 | < 500 ms | $(metric BenchmarkUIAtScale live-update-p50-ms) ms / $(metric BenchmarkUIAtScale live-update-p99-ms) ms |"
  echo "| UI: same project, scroll to the oldest Freight / open the promote dialog | | $(metric BenchmarkUIAtScale scroll-to-oldest-ms) ms / $(metric BenchmarkUIAtScale open-dialog-ms) ms |"
  echo "| UI: same project, elements in the page / timeline rows drawn / JavaScript heap | | $(metric BenchmarkUIAtScale dom-nodes) / $(metric BenchmarkUIAtScale timeline-rows-drawn) / $(metric BenchmarkUIAtScale js-heap-MB) MB |"
  echo "| 10,000 Freight created by 8 clients into a project of 200 Stages (admission, then each Stage's available Freight kept current) | | $(metric BenchmarkUIAtScale freight-created/s) Freight/s |"
  echo
  echo "## Raw output"
  echo
  echo '```'
  grep -E '^(Benchmark|goos|goarch|cpu|pkg)' "$raw"
  echo '```'
} > "$out"
echo "bench: wrote $out" >&2
