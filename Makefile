# criu-go build. `make demo` shows the product; `make test` runs the tests.
GO      ?= go
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)

.PHONY: all build test test-ns test-short proto bench lint demo clean

all: build

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/criu ./criu
	@if [ -d zdtm/cmd/zdtm ]; then $(GO) build -o bin/zdtm ./zdtm/cmd/zdtm; fi
	@if [ -f zdtm/Makefile ]; then $(MAKE) -s -C zdtm; fi

# The whole test suite. Needs root (ptrace, clone3 set_tid, namespaces):
# the Go tests, then the zdtm suite locally and through image-proxy and
# image-cache in two network namespaces.
test: build
	$(GO) test -count=1 -timeout 60m ./...
	bin/zdtm run -a --keep-going
	bin/zdtm run -a --keep-going --remote --two-hosts

# The zdtm suite in the ns flavor (each test pid 1 of its own pid, net,
# uts, ipc and mount namespaces), locally and through image-proxy and
# image-cache in two network namespaces. Not yet part of `make test`.
test-ns: build
	bin/zdtm run -a --keep-going -f ns
	bin/zdtm run -a --keep-going -f ns --remote --two-hosts

# Unprivileged, quick: the pure packages only.
test-short:
	$(GO) test -short -count=1 ./criu/image/... ./criu/procfs/... ./remoteimg/...

proto:
	bash proto/gen.sh

# Dump/restore of 1 GiB against cp and fresh-memory baselines; the remote
# path against a plain TCP copy. Each prints its ratios.
bench: build
	$(GO) test -run '^$$' -bench 'DumpRestore|TreeSharedMemory|PreDump' -benchtime 1x -timeout 30m ./criu/restore/
	$(GO) test -run '^$$' -bench ProxyToCache -benchtime 2x -timeout 30m ./imgcache/

lint:
	$(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

# The product in one command: migrate a live counter between two network
# namespaces through image-proxy and image-cache (needs root).
demo: build
	bash demo/demo.sh

clean:
	rm -rf bin
