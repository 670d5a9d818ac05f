# PhotoVault — the two set-up commands are `make run` and `make test`.
SHELL := /bin/bash
GO ?= go
BIN := bin/photovault
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
LDFLAGS := -s -w -X github.com/photovault/photovault/cmd.version=$(VERSION) -X github.com/photovault/photovault/cmd.commit=$(COMMIT)
GOLANGCI_VERSION := v2.15.0
TOOLS := $(CURDIR)/bin/tools

.PHONY: run build test deps lint unit fuzz static ui bench load clean

## run: build and start the server with embedded defaults (:8080, ./photovault-data)
run: build
	./$(BIN) serve

## build: the static binary (CGO_ENABLED=0); the web UI is already built into embed/dist
build:
	CGO_ENABLED=0 $(GO) build -tags nodynamic -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) .

## test: everything CI checks — deps, formatting, vet, lint, race tests with coverage, fuzz smoke, static build
test: deps lint unit fuzz static
	@echo "make test: all checks passed"

deps:
	@scripts/deps.sh

lint:
	@echo "== gofmt"; out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	@echo "== go vet"; $(GO) vet ./...
	@echo "== golangci-lint (staticcheck, gosec, errcheck, ...)"; \
	  if [ ! -x $(TOOLS)/golangci-lint ]; then GOBIN=$(TOOLS) CGO_ENABLED=0 $(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_VERSION); fi; \
	  $(TOOLS)/golangci-lint run --build-tags nodynamic --timeout 10m ./...

unit:
	@echo "== go test -race"
	CGO_ENABLED=1 $(GO) test -tags nodynamic -race -count=1 -timeout 20m -coverpkg=./... -coverprofile=coverage.out ./...
	@echo "== coverage"; $(GO) tool cover -func=coverage.out | tail -1

fuzz:
	@echo "== fuzz smoke"; scripts/fuzz.sh 8s

static: build
	@file $(BIN); file $(BIN) | grep -Eq 'statically linked|static-pie linked' || { echo "binary is not static"; exit 1; }
	@ls -l $(BIN) | awk '{print "binary size:", $$5, "bytes"}'

## ui: rebuild the web UI into embed/dist (needs node/npm)
ui:
	npm --prefix web ci && npm --prefix web run build

bench:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime=2x ./store/... ./server/...

clean:
	rm -rf bin coverage.out
