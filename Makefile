# lab: the two commands a new user needs are `make up` and `make test`.
SHELL := /bin/bash
GO ?= go
BIN := bin
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)
CP_DIR = $(shell tools/controlplane/build.sh --print-dir)
TEST_TIMEOUT ?= 60m
# Bounded fuzzing in make test: the config loader, the manifest decoder,
# verify, the lesson parser and the blocker's explanations. The bound is
# a count of executions, not a -fuzztime duration: Go 1.26's fuzz
# coordinator can fail a duration-bounded run with "context deadline
# exceeded" when it ends while a worker is busy (golang/go#75804).
# Minimizing each new input is bounded too, so it cannot stall a run.
FUZZ_EXECS ?= 30000
# The real-engine packages run after the rest, one at a time: each makes
# kind clusters of a GB or more, and the machine has two cores.
ENGINE_PKGS := ./providers/kind/enginetest ./providers/kind/e2e
ENGINE_PKGS_FULL := $(patsubst ./%,labs.dev/lab/%,$(ENGINE_PKGS))
# Real-engine tests that live beside unit tests are named *OnReal*.
ENGINE_TESTS := OnReal
LAB_ENGINE_TESTS ?= 1
FUZZ = $(GO) test -run '^$$' -fuzztime $(FUZZ_EXECS)x -fuzzminimizetime 100x -fuzz

.PHONY: all build control-plane node-image up down test test-unit test-engines bench lint clean

all: build

## build: bin/lab, bin/lab-helm, and bin/kubectl from the control-plane cache when built
# Static, as kubectl's releases are: no dynamic loader at each start,
# 2-3 ms of a 30 ms `lab verify` (docs/benchmarks.md, "Verify").
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/lab ./cmd/lab
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/lab-helm ./cmd/lab-helm
	@if [ -x "$(CP_DIR)/kubectl" ]; then ln -sf "$(CP_DIR)/kubectl" $(BIN)/kubectl; fi

## control-plane: build etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok and kubectl from source (cached per version)
control-plane:
	tools/controlplane/build.sh

## node-image: lab's offline kind node image (Kubernetes from source, Debian packages; cached, loaded into podman/docker; needs root)
node-image:
	tools/nodeimage/build.sh

## test-engines: the real-engine tests alone (kind clusters on podman and a private dockerd, with the node image)
test-engines: control-plane build
	LAB_ENGINE_TESTS=1 LAB_BIN_DIR=$$PWD/$(BIN) $(GO) test -count=1 -p 1 -timeout $(TEST_TIMEOUT) $(ENGINE_PKGS)
	LAB_ENGINE_TESTS=1 LAB_BIN_DIR=$$PWD/$(BIN) $(GO) test -count=1 -timeout $(TEST_TIMEOUT) -run '$(ENGINE_TESTS)' ./providers/kind

## up: bring the shipped lab up (a kind cluster with Docker, else the simulated runtime)
up: control-plane build
	$(BIN)/lab up
	@echo
	@echo "Use the cluster:  export PATH=$$PWD/$(BIN):\$$PATH; kubectl get nodes"
	@echo "Check your work:  $(BIN)/lab verify deploy-fleet"
	@echo "Tear it down:     make down"

## down: tear the shipped lab down
down: build
	$(BIN)/lab down

## test: every test: unit, integration on a simulated cluster, end to end (lab's binary, testscripts),
## then kind on real engines (as root it installs podman and docker.io from Debian and builds the
## offline node image once; LAB_ENGINE_TESTS=0 leaves them out outside CI), then bounded fuzzing
test: control-plane build
	$(GO) vet ./...
	LAB_BIN_DIR=$$PWD/$(BIN) $(GO) test -count=1 -timeout $(TEST_TIMEOUT) -skip '$(ENGINE_TESTS)' $$($(GO) list ./... | grep -v -x $(patsubst %,-e %,$(ENGINE_PKGS_FULL)))
	LAB_ENGINE_TESTS=$(LAB_ENGINE_TESTS) LAB_BIN_DIR=$$PWD/$(BIN) $(GO) test -count=1 -p 1 -timeout $(TEST_TIMEOUT) $(ENGINE_PKGS)
	LAB_ENGINE_TESTS=$(LAB_ENGINE_TESTS) LAB_BIN_DIR=$$PWD/$(BIN) $(GO) test -count=1 -timeout $(TEST_TIMEOUT) -run '$(ENGINE_TESTS)' ./providers/kind
	$(FUZZ) '^FuzzLoad$$' ./lab/config
	$(FUZZ) '^FuzzDecode$$' ./providers/kubernetes
	$(FUZZ) '^FuzzLabs$$' ./lab/verify
	$(FUZZ) '^FuzzParse$$' ./lab/lesson
	$(FUZZ) '^FuzzExplain$$' ./providers/kube/blocker

## test-unit: the tests that need no cluster
test-unit:
	$(GO) test -short ./...

## bench: Go benchmarks and the whole-command comparisons against kubectl (see docs/benchmarks.md)
bench: control-plane build
	LAB_BIN_DIR=$$PWD/$(BIN) $(GO) test -run '^$$' -bench . -benchmem ./...
	@for s in bench/*.sh; do [ -x "$$s" ] && "$$s"; done; true

clean:
	rm -rf $(BIN)
