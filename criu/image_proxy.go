package main

import (
	"context"
	"crypto/tls"
	"net"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/spf13/pflag"

	"github.com/criugo/criu/criu/config"
	"github.com/criugo/criu/imgproxy"
	"github.com/criugo/criu/internal/daemon"
	"github.com/criugo/criu/remoteimg"
)

func init() {
	register(&command{
		name:    "image-proxy",
		usage:   "--address HOST --port P [-D DIR] [--local-socket PATH] [--max-memory SIZE] [TLS options] [-d]",
		summary: "forward dump --remote's images to an image-cache (source host)",
		setup: func(fs *pflag.FlagSet) func(ctx context.Context, e *env, args []string) error {
			var (
				d                daemonFlags
				port             int
				address          string
				serverName       string
				reconnectTimeout time.Duration
			)
			fs.StringVar(&address, "address", "", "`HOST` of the image-cache")
			fs.IntVar(&port, "port", -1, "TCP `PORT` of the image-cache")
			d.add(fs, "directory for the default local socket (`DIR`/image-proxy.sock); no image touches it")
			fs.StringVar(&d.maxMemory, "max-memory", "256M", "most image bytes held until the cache acknowledges them")
			fs.StringVar(&serverName, "tls-server-name", "", "name to verify in the cache's certificate (default: --address)")
			fs.DurationVar(&reconnectTimeout, "reconnect-timeout", 30*time.Second, "how long to redial a lost cache before failing pending images")
			return func(ctx context.Context, e *env, args []string) error {
				if len(args) > 0 {
					return usagef("image-proxy takes no arguments, got %q", args)
				}
				if address == "" || port <= 0 || port > 65535 {
					return usagef("image-proxy needs --address and --port of the image-cache")
				}
				maxMem, err := config.ParseSize(d.maxMemory)
				if err != nil {
					return usagef("--max-memory: %v", err)
				}
				sock := d.localSocket
				if sock == "" {
					sock = remoteimg.DefaultProxySocket(d.dir)
				}
				if serverName == "" {
					serverName = address
				}
				if err := d.checkPlainTCP(address); err != nil {
					return err
				}
				return runImageProxy(ctx, e, &d, net.JoinHostPort(address, strconv.Itoa(port)), serverName, sock, maxMem, reconnectTimeout)
			}
		},
	})
}

func runImageProxy(ctx context.Context, e *env, d *daemonFlags, addr, serverName, sock string, maxMem int64, reconnect time.Duration) error {
	log := e.Log.With().Str("daemon", "image-proxy").Logger()
	var tlsCfg *tls.Config
	if d.tls.Enabled() {
		var err error
		if tlsCfg, err = d.tls.ClientConfig(serverName); err != nil {
			return err
		}
	}
	if tlsCfg == nil {
		d.warnNoTLSStderr(e, "image-proxy")
	}
	if done, err := d.daemonize(ctx); done || err != nil {
		return err
	}
	defer startCPUProfile(log, "image-proxy")()
	if tlsCfg == nil {
		warnNoTLS(log)
	}
	dial := func(ctx context.Context) (net.Conn, error) {
		nd := daemon.TCPDialer(d.linkTimeout)
		if tlsCfg != nil {
			td := &tls.Dialer{NetDialer: nd, Config: tlsCfg}
			return td.DialContext(ctx, "tcp", addr)
		}
		return nd.DialContext(ctx, "tcp", addr)
	}
	// Keep the heap near the budget: GC before it grows past it.
	debug.SetMemoryLimit(heapLimit(maxMem))
	srv := &imgproxy.Server{Dial: dial, MaxMemory: maxMem, ReconnectTimeout: reconnect, ReplyTimeout: d.linkTimeout, Log: log}
	ln, err := daemon.ListenUnix(sock)
	if err != nil {
		return err
	}
	defer d.cleanup()
	log.Info().Str("cache", addr).Str("socket", sock).Int64("max_memory", maxMem).Bool("tls", tlsCfg != nil).Msg("image proxy ready")
	if err := d.runServer(ctx, log, srv, imgproxy.ErrServerClosed, "pending images failed", ln); err != nil {
		return err
	}
	log.Info().Msg("image proxy stopped")
	return nil
}
