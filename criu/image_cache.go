package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/spf13/pflag"

	"github.com/criugo/criu/criu/config"
	"github.com/criugo/criu/criu/image/remote"
	"github.com/criugo/criu/imgcache"
	"github.com/criugo/criu/internal/daemon"
	"github.com/criugo/criu/remoteimg"
)

func init() {
	register(&command{
		name:    "image-cache",
		usage:   "--port P [--address BIND] [-D DIR] [--local-socket PATH] [--max-memory SIZE] [--keep] [TLS options] [-d] | --list | --release ID",
		summary: "receive snapshots from image-proxy (target host) and serve them to restore --remote",
		setup: func(fs *pflag.FlagSet) func(ctx context.Context, e *env, args []string) error {
			var (
				d             daemonFlags
				port          int
				address       string
				keep, list    bool
				release       string
				resumeTimeout time.Duration
				idleTimeout   time.Duration
				maxConns      int
			)
			fs.IntVar(&port, "port", -1, "TCP `PORT` to accept image-proxy connections on")
			fs.StringVar(&address, "address", "", "`ADDR` to bind (default: all addresses)")
			d.add(fs, "keep snapshots under `DIR` (they survive a restart); default: in memory")
			fs.StringVar(&d.maxMemory, "max-memory", "1G", "most memory held: image bytes without -D, and every connection's buffers")
			fs.BoolVar(&keep, "keep", false, "keep snapshots after restore releases them")
			fs.DurationVar(&resumeTimeout, "resume-timeout", 30*time.Second, "how long images of a vanished proxy wait to be resumed")
			fs.DurationVar(&idleTimeout, "idle-timeout", imgcache.DefaultIdleTimeout, "drop a TCP peer without a client certificate that has had nothing in flight this long")
			fs.IntVar(&maxConns, "max-conns", imgcache.DefaultMaxConns, "most TCP connections of all peers together")
			fs.BoolVar(&list, "list", false, "client: list the snapshots of the running cache (at --local-socket) and exit")
			fs.StringVar(&release, "release", "", "client: release snapshot `ID` of the running cache and exit")
			return func(ctx context.Context, e *env, args []string) error {
				if len(args) > 0 {
					return usagef("image-cache takes no arguments, got %q", args)
				}
				sock := d.localSocket
				if sock == "" {
					sock = remoteimg.DefaultCacheSocket(d.dir)
				}
				if list {
					return listSnapshots(ctx, e, sock)
				}
				if release != "" {
					st, err := remote.Dial(ctx, sock, remote.Options{Snapshot: release, Mode: remote.ModeRead, Log: e.Log})
					if err != nil {
						return err
					}
					defer st.Close()
					return st.Release(ctx)
				}
				if port < 0 || port > 65535 {
					return usagef("image-cache needs --port")
				}
				maxMem, err := config.ParseSize(d.maxMemory)
				if err != nil {
					return usagef("--max-memory: %v", err)
				}
				if err := d.checkPlainTCP(address); err != nil {
					return err
				}
				return runImageCache(ctx, e, &d, net.JoinHostPort(address, strconv.Itoa(port)), sock, maxMem, keep, resumeTimeout, idleTimeout, maxConns)
			}
		},
	})
}

func listSnapshots(ctx context.Context, e *env, sock string) error {
	snaps, err := remote.ListSnapshots(ctx, sock)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.Stdout, "%-40s %-40s %-9s %7s %14s\n", "SNAPSHOT", "PARENT", "STATE", "IMAGES", "BYTES")
	for _, s := range snaps {
		state := "arriving"
		switch {
		case s.Finished:
			state = "finished"
		case s.Held:
			state = "held" // finished by its proxy, not yet confirmed by its dump
		}
		parent := s.Parent
		if parent == "" {
			parent = "-"
		}
		fmt.Fprintf(e.Stdout, "%-40s %-40s %-9s %7d %14d\n", s.ID, parent, state, s.Images, s.Bytes)
	}
	return nil
}

func runImageCache(ctx context.Context, e *env, d *daemonFlags, addr, sock string, maxMem int64, keep bool, resume, idle time.Duration, maxConns int) error {
	if !d.tls.Enabled() {
		d.warnNoTLSStderr(e, "image-cache")
	}
	if done, err := d.daemonize(ctx); done || err != nil {
		return err
	}
	log := e.Log.With().Str("daemon", "image-cache").Logger()
	defer startCPUProfile(log, "image-cache")()
	if d.dir == "" {
		debug.SetMemoryLimit(heapLimit(maxMem))
	}
	srv := &imgcache.Server{Dir: d.dir, MaxMemory: maxMem, Keep: keep, ResumeTimeout: resume, IdleTimeout: idle, MaxConns: maxConns, Log: log}
	if err := srv.Init(); err != nil {
		return err
	}
	var tcp net.Listener
	tcp, err := daemon.TCPListenConfig(d.linkTimeout).Listen(context.Background(), "tcp", addr)
	if err != nil {
		return fmt.Errorf("listen for proxies: %w", err)
	}
	if d.tls.Enabled() {
		cfg, err := d.tls.ServerConfig()
		if err != nil {
			tcp.Close()
			return err
		}
		tcp = tls.NewListener(tcp, cfg)
	} else {
		warnNoTLS(log)
	}
	unixLn, err := daemon.ListenUnix(sock)
	if err != nil {
		tcp.Close()
		return err
	}
	defer d.cleanup()
	log.Info().Str("tcp", tcp.Addr().String()).Str("socket", sock).Str("dir", d.dir).
		Int64("max_memory", maxMem).Bool("keep", keep).Bool("tls", d.tls.Enabled()).Msg("image cache ready")
	if err := d.runServer(ctx, log, srv, imgcache.ErrServerClosed, "connections closed", tcp, unixLn); err != nil {
		return err
	}
	log.Info().Msg("image cache stopped")
	return nil
}
