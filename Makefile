# criu-go build. `make demo` shows the product; `make test` runs the tests.
GO      ?= go
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)

.PHONY: all build test test-apps test-short proto bench lint demo clean

all: build

# criu is built without cgo: a static binary, no dynamic loader and libc
# to map at each start (criu links no C; only net's and os/user's
# optional libc lookups would pull it in). A dump starts criu twice
# (supervise.go), a restore once.
build:
	CGO_ENABLED=0 $(GO) build -ldflags "$(LDFLAGS)" -o bin/criu ./criu
	@if [ -d zdtm/cmd/zdtm ]; then $(GO) build -o bin/zdtm ./zdtm/cmd/zdtm; fi
	@if [ -f zdtm/Makefile ]; then $(MAKE) -s -C zdtm; fi

# The whole test suite. Needs root (ptrace, clone3 set_tid, namespaces):
# the real programs of test-apps, the other Go tests, then the zdtm
# suite in three flavors (h: on the host; ns: each test pid 1 of its own
# pid, net, uts, ipc and mount namespaces; ct: as ns, pivot_root'ed into
# a container's rootfs, restored with --root as runc does), locally and
# through image-proxy and image-cache in two network namespaces; then
# repeated cycles after a pre-dump (what one dump and restore leaves
# behind in a task, such as a stray fd, fails the next).
test: build test-apps
	$(GO) test -count=1 -timeout 60m $$($(GO) list ./... | grep -v '/apps$$')
	bin/zdtm run -a --keep-going -f h,ns,ct
	bin/zdtm run -a --keep-going -f h,ns,ct --remote --two-hosts
	bin/zdtm run -a --keep-going -f h,ns,ct --pre 1 --iters 2 --remote --two-hosts

# Real programs from Debian (redis, nginx, postgres, node, a Java
# HttpServer, tmux) run as services, checkpointed with a client connected
# and migrated between two network namespaces; prints each program's
# dump / restore times beside CRIU 4.2's (needs root, and .ci/run's
# packages).
test-apps: build
	$(GO) test -count=1 -timeout 15m -v ./apps/

# Unprivileged, quick: the pure packages only.
test-short:
	$(GO) test -short -count=1 ./criu/image/... ./criu/procfs/... ./remoteimg/... ./internal/archtest/

proto:
	bash proto/gen.sh

# Ours against CRIU 4.2 side by side (bench/: small, threaded, trees,
# forked workers' Pss, 1 GiB dirty, dump -R), then dump/restore of 1 GiB
# against cp and fresh-memory baselines and the remote path against a
# plain TCP copy. Each prints its ratios.
bench: build
	$(GO) test -run '^$$' -bench VsCRIU42 -benchtime 1x -timeout 60m ./bench/
	$(GO) test -run '^$$' -bench 'DumpRestore|TreeSharedMemory' -benchtime 1x -timeout 30m ./criu/restore/
	$(GO) test -run '^$$' -bench PreDump -benchtime 1x -timeout 30m ./criu/mm/
	$(GO) test -run '^$$' -bench ProxyToCache -benchtime 2x -timeout 30m ./imgcache/

lint:
	$(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	./.ci/lint-syscalls

# The product in one command: migrate a live counter between two network
# namespaces through image-proxy and image-cache (needs root).
demo: build
	bash demo/demo.sh

clean:
	rm -rf bin
