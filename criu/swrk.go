package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"strconv"

	"github.com/spf13/pflag"

	"github.com/criugo/criu/criu/config"
	"github.com/criugo/criu/criu/rpc"
)

func init() {
	register(&command{
		name:    "swrk",
		usage:   "FD",
		summary: "serve CRIU's RPC (runc, Podman, go-criu) on the inherited SOCK_SEQPACKET socket FD",
		setup: func(fs *pflag.FlagSet) func(ctx context.Context, e *env, args []string) error {
			return func(ctx context.Context, e *env, args []string) error {
				if len(args) != 1 {
					return usagef("swrk takes the socket's fd number")
				}
				fd, err := strconv.Atoi(args[0])
				if err != nil || fd < 0 {
					return usagef("swrk: bad fd %q", args[0])
				}
				f := os.NewFile(uintptr(fd), "rpc")
				c, err := net.FileConn(f)
				f.Close()
				if err != nil {
					return fmt.Errorf("swrk: fd %d: %w", fd, err)
				}
				defer c.Close()
				uc, ok := c.(*net.UnixConn)
				if !ok {
					return fmt.Errorf("swrk: fd %d is not a UNIX socket", fd)
				}
				return rpc.Serve(ctx, uc, rpc.Config{Version: version, Log: e.Log, IPTool: os.Getenv("CR_IP_TOOL"),
					ConfigFiles: config.Files(os.Args[1:], os.Getenv)})
			}
		},
	})
}
