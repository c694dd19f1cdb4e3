# peering-operator. The two commands a newcomer needs: `make dev` and `make test`.
SHELL := /usr/bin/env bash -o pipefail
.SHELLFLAGS := -ec
.DEFAULT_GOAL := help

BIN := $(CURDIR)/bin
CONTROLLER_GEN := go tool controller-gen
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X github.com/peering-operator/peering-operator/internal/version.Version=$(VERSION)
IMG ?= ghcr.io/peering-operator/peering-operator:$(VERSION)
# Tests run against the API server and etcd in bin/ (built by hack/build-controlplane.sh)
# and the gobgpd built from the pinned module.
export KUBEBUILDER_ASSETS := $(BIN)
export PEERING_OPERATOR_GOBGPD := $(BIN)/gobgpd

##@ The two commands

.PHONY: dev
dev: controlplane gobgpd build ## Run everything locally: API server, CRDs, operator, samples. Ctrl-C stops it.
	go run ./hack/devenv

.PHONY: test
test: controlplane gobgpd helm-check verify-generated vet test-go ## Every test, against a real API server.

##@ Development

.PHONY: help
help: ## Show the targets.
	@awk 'BEGIN {FS = ":.*##"} /^[a-zA-Z_-]+:.*##/ {printf "  %-18s %s\n", $$1, $$2} /^##@/ {printf "\n%s\n", substr($$0, 5)}' $(MAKEFILE_LIST)

.PHONY: dev-down
dev-down: ## Stop what `make dev` started (by pid), if it is still running.
	go run ./hack/devenv -down

.PHONY: manifests
manifests: ## Generate CRDs and RBAC from the Go types and markers.
	$(CONTROLLER_GEN) rbac:roleName=manager-role crd webhook paths="./api/...;./controllers/...;./internal/webhook/...;./internal/peeringapi/..." output:crd:artifacts:config=config/crd/bases output:rbac:artifacts:config=config/rbac output:webhook:artifacts:config=config/webhook
	hack/helm/sync.sh

.PHONY: generate
generate: ## Generate deepcopy code.
	$(CONTROLLER_GEN) object:headerFile="hack/boilerplate.go.txt" paths="./api/..."

.PHONY: verify-generated
verify-generated: ## Fail when the committed CRDs, RBAC or deepcopy differ from what the types generate.
	hack/verify-generated.sh

.PHONY: fmt
fmt: ## gofmt the code.
	gofmt -w $$(git ls-files '*.go')

.PHONY: vet
vet: ## gofmt check and go vet.
	@bad=$$(gofmt -l $$(git ls-files '*.go' | grep -v '^hack/controlplane/\|^hack/etcd/')); if [ -n "$$bad" ]; then echo "gofmt would change: $$bad"; exit 1; fi
	go vet ./...

.PHONY: test-go
test-go: ## go test ./... (needs bin/ from `make controlplane`).
	@# One package at a time: the live suites (FRR, gobgpd, envtest) each load
	@# both cores, and timing-sensitive BGP tests should not share them.
	@# The full output is in bin/test.json; the log gets each package's
	@# result, the output of failed tests and the skipped ones (a failure
	@# with CI=true).
	go build -o $(BIN)/testsummary ./hack/testsummary
	go test -count=1 -p 1 -timeout 40m -json ./... 2>&1 | tee $(BIN)/test.json | $(BIN)/testsummary

.PHONY: bench
bench: controlplane ## Go benchmarks, with their baselines side by side.
	go test -run '^$$' -bench . -benchmem ./...

.PHONY: build
build: ## Build the manager and the kubectl plugin (kubectl-peering) into bin/.
	CGO_ENABLED=0 go build -ldflags "$(LDFLAGS)" -o $(BIN)/manager ./cmd/manager
	CGO_ENABLED=0 go build -ldflags "$(LDFLAGS)" -o $(BIN)/kubectl-peering ./cmd/kubectl-peering

.PHONY: run
run: manifests generate ## Run the manager against the cluster in $$KUBECONFIG.
	go run -ldflags "$(LDFLAGS)" ./cmd/manager

.PHONY: helm
helm: ## Build Helm (the version in hack/helm/go.mod) into bin/ from its Go module.
	hack/helm/build.sh

.PHONY: helm-sync
helm-sync: ## Copy the CRDs, RBAC, webhooks, alert rules and dashboard of config/ into the Helm chart.
	hack/helm/sync.sh

.PHONY: helm-check
helm-check: helm ## helm lint --strict and helm template of the chart (default and self-signed values), and its drift test against config/.
	$(BIN)/helm lint --strict config/helm/peering-operator
	$(BIN)/helm lint --strict config/helm/peering-operator -f config/helm/peering-operator/ci/selfsigned-values.yaml
	$(BIN)/helm template peering-operator config/helm/peering-operator -n peering-operator-system --include-crds >$(BIN)/helm-default.yaml
	$(BIN)/helm template peering-operator config/helm/peering-operator -n peering-operator-system --include-crds -f config/helm/peering-operator/ci/selfsigned-values.yaml >$(BIN)/helm-selfsigned.yaml
	HELM=$(BIN)/helm go test -count=1 ./hack/helmcheck/

.PHONY: controlplane
controlplane: ## Build kube-apiserver, kubectl and etcd from their Go modules into bin/ (cached per version).
	hack/build-controlplane.sh

.PHONY: gobgpd
gobgpd: ## Build gobgpd (the GoBGP version in go.mod) into bin/ for the tests and make dev.
	go build -o $(BIN)/gobgpd github.com/osrg/gobgp/v3/cmd/gobgpd

.PHONY: docker-build
docker-build: ## Build the container image (needs a Docker engine).
	docker build --build-arg VERSION=$(VERSION) -t $(IMG) .

.PHONY: install
install: manifests ## Install the CRDs into the cluster in $$KUBECONFIG.
	$(BIN)/kubectl apply --server-side -f config/crd/bases

.PHONY: deploy
deploy: manifests ## Deploy the operator into the cluster in $$KUBECONFIG.
	$(BIN)/kubectl apply --server-side -k config/default
