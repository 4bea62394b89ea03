#!/bin/sh
# Regenerates the Go code of every proto/*/*.proto with protoc and a pinned
# protoc-gen-go. Run from anywhere; `make proto` calls it.
#
# Files are compiled with proto/ as the include root, so each registers as
# "<dir>/<file>.proto" (e.g. "images/core.proto") and imports are written
# that way: import "images/fown.proto";
set -eu

PROTOC_GEN_GO_VERSION=v1.36.12 # keep equal to google.golang.org/protobuf in go.mod

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

GOBIN="$root/bin/tools" go install "google.golang.org/protobuf/cmd/protoc-gen-go@$PROTOC_GEN_GO_VERSION"

for dir in proto/*/; do
	set -- "$dir"*.proto
	[ -e "$1" ] || continue
	protoc \
		--plugin=protoc-gen-go="$root/bin/tools/protoc-gen-go" \
		-I proto \
		--go_out=. \
		--go_opt=module=github.com/criugo/criu \
		"$@"
done
