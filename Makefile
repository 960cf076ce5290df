# kargo: continuous promotion for GitOps on Kubernetes.
#
#   make run      build what is needed and start `kargo local`
#   make test     run every test: the web UI's unit tests (Vitest), then the Go
#                 tests (unit, component, integration against a real
#                 kube-apiserver built from source, and end to end: the built
#                 binary, and the web UI in headless Chromium)
#
#   make image         build kargo's container image (bin/image/kargo.tar)
#                      without a container engine; see hack/image/build.sh
#   make test-cluster  a real single-node cluster (kubelet, containerd) in a
#                      private network namespace: the image, the Helm chart,
#                      the seed pipeline, leader failover, upgrade, uninstall
#
#   make ui       build the web UI into ui/dist, which is committed and
#                 embedded in bin/kargo (make run needs no Node.js)
#   make ui-api   generate the web UI's API types (ui/src/api/schema.d.ts,
#                 committed) from the API server's /openapi.json; make
#                 generate runs it
#   make ui-deps  install Chromium (Debian's package) and ui/'s npm packages
#                 when missing or stale; make test and make ui run it

SHELL := /usr/bin/env bash
.SHELLFLAGS := -euo pipefail -c
GO ?= go
API_PKG := github.com/kargohq/kargo/api/v1alpha1
# kube-apiserver, etcd, kubectl and kube-controller-manager, built from source
# through the Go module proxy and cached outside the work tree by version.
KUBE_BINS = ENVTEST_KCM=1 hack/envtest-bins.sh
# A real Argo CD (application-controller + repo-server), kustomize and helm,
# built from source through the Go module proxy (with Go 1.27, which the go
# command fetches) and cached outside the work tree; Debian's redis-server.
ARGOCD_BINS = hack/argocd-bins.sh
# Argo Rollouts' controller, which runs Stages' AnalysisRuns in the tests,
# built from source the same way (Go 1.27) and cached outside the work tree.
ROLLOUTS_BINS = hack/rollouts-bins.sh
# Gitea, the forge the pull-request tests run against, built from source the
# same way and cached outside the work tree.
GITEA_BINS = hack/gitea-bins.sh

.PHONY: all build image test-cluster chart-files generate verify-generated kube-bins argocd-bins rollouts-bins gitea-bins ui-deps ui ui-api run test lint bench bench-scale clean

all: build

build: ## Build bin/kargo.
	$(GO) build -o bin/kargo ./cmd/kargo

generate: ## Regenerate deepcopy functions and CRDs from api/v1alpha1, the slim Argo CD types' deepcopy functions, and the web UI's API types.
	$(GO) tool controller-gen object paths=$(API_PKG) crd paths=$(API_PKG) output:crd:dir=config/crd/bases
	$(GO) tool controller-gen object paths=./internal/argocd/v1alpha1
	$(MAKE) chart-files
	$(MAKE) ui-api

chart-files: ## Copy the CRDs and ClusterRoles into the Helm chart (Helm reads no file outside it).
	rm -rf charts/kargo/files/crds charts/kargo/files/rbac
	mkdir -p charts/kargo/files/crds charts/kargo/files/rbac
	cp config/crd/bases/*.yaml charts/kargo/files/crds/
	cp config/rbac/*.yaml charts/kargo/files/rbac/

verify-generated: generate ui ## Fail when generated files or the built UI differ from what is committed.
	@if [ -n "$$(git status --porcelain -- api config/crd internal/argocd/v1alpha1 charts/kargo/files)" ]; then \
	  echo "Generated files are stale; run 'make generate' and commit the result:"; \
	  git status --porcelain -- api config/crd internal/argocd/v1alpha1 charts/kargo/files; git diff --stat -- api config/crd internal/argocd/v1alpha1 charts/kargo/files; exit 1; \
	fi
	@if [ -n "$$(git status --porcelain -- ui/src/api/schema.d.ts)" ]; then \
	  echo "the web UI's API types are stale (the API server's /openapi.json changed); run 'make ui-api' and commit the result:"; \
	  git diff --stat -- ui/src/api/schema.d.ts; exit 1; \
	fi
	@if [ -n "$$(git status --porcelain -- ui/dist)" ]; then \
	  echo "the built UI in ui/dist is stale; run make ui and commit"; \
	  git status --porcelain -- ui/dist; exit 1; \
	fi

kube-bins: ## Build (or find cached) Kubernetes binaries; prints their directory.
	@$(KUBE_BINS)

argocd-bins: ## Build (or find cached) Argo CD, kustomize and helm; prints their directory.
	@$(ARGOCD_BINS)

rollouts-bins: ## Build (or find cached) Argo Rollouts' controller; prints its directory.
	@$(ROLLOUTS_BINS)

gitea-bins: ## Build (or find cached) Gitea, the tests' forge; prints its directory.
	@$(GITEA_BINS)

ui-deps: ## Install Chromium and ui/'s npm packages when missing or stale.
	@hack/install-ui-deps.sh

ui-api: ui-deps ## Generate the web UI's API types from the API server's /openapi.json (its kinds' schemas come from config/crd/bases).
	@doc=$$(mktemp); trap 'rm -f "$$doc"' EXIT; \
	$(GO) run ./internal/server/openapigen >"$$doc"; \
	cd ui && npx --no-install openapi-typescript "$$doc" --output src/api/schema.d.ts

ui: ui-deps ## Build the web UI into ui/dist.
	cd ui && npm run build

run: build ## Start kargo local with the kargo-demo project and a real Argo CD (Ctrl-C stops it; state is kept; ARGS=--reset starts over).
	@bins=$$($(KUBE_BINS)); argocd=$$($(ARGOCD_BINS)); exec bin/kargo local --demo --bin-dir "$$bins" --argocd-bin-dir "$$argocd" $(ARGS)

# (npm packages may ship Go files under ui/node_modules, such as flatted's:
# the go command sees them as packages of this module; they are not kargo's.)
lint: ui-deps ## go vet, gofmt, goimports, import groups and dead code; ESLint (with React's rules of hooks) on the web UI.
	$(GO) vet ./...
	cd api && $(GO) vet ./...
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt would change:"; echo "$$unformatted"; exit 1; fi
	@unsorted=$$($(GO) tool goimports -local github.com/kargohq/kargo -l $$(git ls-files '*.go' | grep -v zz_generated)); \
	if [ -n "$$unsorted" ]; then echo "goimports would change (run: go tool goimports -local github.com/kargohq/kargo -w FILE):"; echo "$$unsorted"; exit 1; fi
	@$(GO) run ./hack/importgroups $$(git ls-files '*.go') || { echo "fix with: go run ./hack/importgroups -w FILE..."; exit 1; }
	@dead=$$($(GO) tool deadcode -test ./... | { grep -v '^ui/node_modules/' || true; }); \
	if [ -n "$$dead" ]; then echo "functions nothing calls, not even a test (delete them):"; echo "$$dead"; exit 1; fi
	cd ui && npm run lint

test: ui-deps ## Run every test; integration tests use a real kube-apiserver, end-to-end tests Chromium.
	cd ui && npm test
	@bins=$$($(KUBE_BINS)); argocd=$$($(ARGOCD_BINS)); rollouts=$$($(ROLLOUTS_BINS)); gitea=$$($(GITEA_BINS)); \
	echo "Integration tests run against a real $$("$$bins/kube-apiserver" --version) and etcd $$("$$bins/etcd" --version | sed -n 's/^etcd Version: //p') from $$bins"; \
	echo "Argo CD tests run against a real Argo CD $$("$$argocd/argocd" version --client --short | sed "s/^argocd: //; s/+.*//") (application-controller, repo-server) from $$argocd"; \
	echo "Analysis tests run against a real Argo Rollouts $$("$$rollouts/rollouts-controller" --version) from $$rollouts"; \
	echo "Pull-request tests run against a real $$("$$gitea/gitea" --version | cut -d' ' -f1-3) from $$gitea"; \
	KUBEBUILDER_ASSETS="$$bins" ARGOCD_BINS="$$argocd" ROLLOUTS_BINS="$$rollouts" KARGO_GITEA_BINS="$$gitea" $(GO) test -count=1 ./... ; \
	cd api && $(GO) test -count=1 ./...

image: ## Build kargo's container image into bin/image/kargo.tar (OCI archive); prints its digest.
	hack/image/build.sh bin/image

test-cluster: ## Install kargo with its Helm chart on a real single-node cluster and run the seed pipeline through it (needs root).
	hack/cluster/test.sh

bench: ## Run the performance benchmarks and write docs/benchmarks.md.
	hack/bench.sh

bench-scale: ## Measure kargo at 2,000 Stages and 50,000 Freight (SCALE_* env overrides) and write docs/benchmarks.md.
	hack/bench-scale.sh

clean:
	rm -rf bin
