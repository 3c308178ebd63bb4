# Strata build and test entry points. `make test` is the project's one test
# command: the README names it and .ci/run calls it.

GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.Version=$(VERSION) -X main.Build=$(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)

.PHONY: build test lint image clean

## build: a static strata binary in ./bin
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/strata ./cmd/strata

## lint: gofmt and go vet must be clean, also for a 32-bit target (where
## int is 32 bits and a constant such as math.MaxUint32 overflows it)
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	GOARCH=386 $(GO) vet ./...

## test: lint, then every package's tests under the race detector
test: lint
	$(GO) test -race -count=1 -timeout 30m ./...

## image: the strata:dev container image, FROM scratch around the static binary
image: build
	docker build -t strata:dev -f Dockerfile bin

clean:
	rm -rf bin
