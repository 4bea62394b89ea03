// Package gocriutest holds only tests: they drive criu swrk through
// go-criu (github.com/checkpoint-restore/go-criu/v7) exactly as runc
// does. go-criu's rpc package registers the same protobuf names as our
// proto/rpc, so this package links neither criu/rpc nor proto/rpc
// (`go list -deps -test ./criu/rpc/gocriutest` shows it).
package gocriutest
