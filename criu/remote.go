package main

// Shared glue of the image-proxy and image-cache daemons: sizes, TLS
// flags, readiness (--status-fd, --pidfile) and -d (daemonize by
// re-executing ourselves detached).

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime/pprof"
	"runtime/trace"
	"strconv"
	"syscall"
	"time"

	"github.com/rs/zerolog"
	"github.com/spf13/pflag"

	"github.com/criugo/criu/internal/daemon"
)

// daemonFlags are the flags both daemons share.
type daemonFlags struct {
	dir          string
	localSocket  string
	maxMemory    string
	tls          daemon.TLSFiles
	daemon       bool
	pidfile      string
	statusFD     int
	drainTimeout time.Duration
	linkTimeout  time.Duration
	insecure     bool
	logToFile    bool // -o FILE given: the daemon's stderr can be detached
	fs           *pflag.FlagSet
}

func (d *daemonFlags) add(fs *pflag.FlagSet, dirHelp string) {
	d.fs = fs
	fs.StringVarP(&d.dir, "images-dir", "D", "", dirHelp)
	fs.StringVar(&d.localSocket, "local-socket", "", "`PATH` of the local UNIX socket (default DIR/<daemon>.sock with -D, else /run/criu/<daemon>.sock)")
	fs.StringVar(&d.tls.Cert, "tls-cert", "", "PEM certificate `FILE` of this daemon (mutual TLS)")
	fs.StringVar(&d.tls.Key, "tls-key", "", "PEM private key `FILE` of --tls-cert")
	fs.StringVar(&d.tls.CACert, "tls-cacert", "", "PEM CA `FILE` that signs the peer's certificate")
	fs.BoolVarP(&d.daemon, "daemon", "d", false, "detach and run in the background once ready")
	fs.StringVar(&d.pidfile, "pidfile", "", "write the daemon's pid to `FILE` once ready")
	fs.IntVar(&d.statusFD, "status-fd", -1, "write one byte to file descriptor `FD` once ready, then close it")
	fs.DurationVar(&d.drainTimeout, "drain-timeout", 30*time.Second, "on SIGTERM, how long to let transfers in flight finish")
	fs.BoolVar(&d.insecure, "insecure", false, "allow plain TCP without TLS on a non-loopback address (images readable and forgeable by anyone on the path)")
	fs.DurationVar(&d.linkTimeout, "link-timeout", daemon.LinkTimeout, "how long the TCP leg may stay silent with data or a reply due before it counts as dead (TCP_USER_TIMEOUT, keepalive)")
}

// checkPlainTCP refuses plain TCP (no TLS) on a non-loopback address
// unless --insecure: TLS with client certificates is the default off
// this host. host is the peer (proxy) or the bind address (cache; ""
// binds every address).
func (d *daemonFlags) checkPlainTCP(host string) error {
	if d.tls.Enabled() || d.insecure || isLoopback(host) {
		return nil
	}
	what := "--address " + host + " is not a loopback address"
	if host == "" {
		what = "without --address it listens on every address"
	}
	return usagef("%s and TLS is off: give --tls-cert, --tls-key and --tls-cacert "+
		"(see the README's remote images section), or --insecure to send images in the clear", what)
}

// isLoopback reports whether host names this host only.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// logsToFile reports whether -o names a file (the log is not stderr).
func (d *daemonFlags) logsToFile() bool {
	f := d.fs.Lookup("log-file")
	return f != nil && f.Value.String() != "" && f.Value.String() != "-"
}

const (
	envDaemonChild = "CRIUGO_DAEMON_CHILD"
	daemonReadyFD  = 3
)

// daemonize re-executes us detached (new session) and waits until the
// child reports readiness; then the parent reports it on --status-fd and
// returns done=true (the caller exits 0). In the child it returns
// done=false and the daemon carries on.
func (d *daemonFlags) daemonize(ctx context.Context) (done bool, err error) {
	if !d.daemon || os.Getenv(envDaemonChild) != "" {
		return false, nil
	}
	d.logToFile = d.logsToFile()
	exe, err := os.Executable()
	if err != nil {
		return false, fmt.Errorf("daemonize: %w", err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		return false, fmt.Errorf("daemonize: %w", err)
	}
	defer r.Close()
	devnull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		w.Close()
		return false, fmt.Errorf("daemonize: %w", err)
	}
	defer devnull.Close()
	cmd := exec.Command(exe, os.Args[1:]...)
	cmd.Env = append(os.Environ(), envDaemonChild+"=1")
	// The daemon keeps our stderr only when it logs there (no -o).
	stderr := os.Stderr
	if d.logToFile {
		stderr = devnull
	}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = devnull, devnull, stderr
	cmd.ExtraFiles = []*os.File{w}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		w.Close()
		return false, fmt.Errorf("daemonize: %w", err)
	}
	w.Close()
	stop := context.AfterFunc(ctx, func() { r.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	var b [1]byte
	if n, _ := r.Read(b[:]); n != 1 {
		_ = cmd.Process.Kill()
		_, _ = cmd.Process.Wait()
		return false, errors.New("daemonize: the daemon exited before it was ready (see its log)")
	}
	_ = cmd.Process.Release()
	d.signalStatusFD()
	return true, nil
}

func (d *daemonFlags) signalStatusFD() {
	if d.statusFD >= 0 {
		f := os.NewFile(uintptr(d.statusFD), "status-fd")
		_, _ = f.Write([]byte{0})
		f.Close()
	}
}

// ready writes the pidfile and tells whoever waits (the -d parent, or
// --status-fd) that we accept work.
func (d *daemonFlags) ready() error {
	if d.pidfile != "" {
		tmp := d.pidfile + ".tmp"
		if err := os.WriteFile(tmp, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
			return fmt.Errorf("write pidfile: %w", err)
		}
		if err := os.Rename(tmp, d.pidfile); err != nil {
			return fmt.Errorf("write pidfile: %w", err)
		}
	}
	if os.Getenv(envDaemonChild) != "" {
		f := os.NewFile(daemonReadyFD, "daemon-ready")
		_, _ = f.Write([]byte{0})
		f.Close()
		return nil
	}
	d.signalStatusFD()
	return nil
}

// imageServer is what runServer drives: imgcache.Server or
// imgproxy.Server.
type imageServer interface {
	Serve(ctx context.Context, ln net.Listener) error
	Shutdown(ctx context.Context) error
}

// runServer serves every listener of lns on srv, reports readiness, and
// once a signal arrives (ctx ends) or a Serve fails, drains srv within
// --drain-timeout. closed is srv's "server closed" error, which is not a
// failure; dropped says what a drain cut short gives up.
func (d *daemonFlags) runServer(ctx context.Context, log zerolog.Logger, srv imageServer, closed error, dropped string, lns ...net.Listener) error {
	serveCtx, cancelServe := context.WithCancel(context.Background())
	defer cancelServe()
	errs := make(chan error, len(lns))
	for _, ln := range lns {
		go func() { errs <- srv.Serve(serveCtx, ln) }()
	}
	if err := d.ready(); err != nil {
		srv.Shutdown(context.Background())
		return err
	}
	var serveErr error
	select {
	case <-ctx.Done():
		log.Info().Dur("drain", d.drainTimeout).Msg("signal received, draining transfers")
	case serveErr = <-errs:
	}
	sctx, cancel := context.WithTimeout(context.Background(), d.drainTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn().Err(err).Msg("drain incomplete, " + dropped)
	}
	if serveErr != nil && !errors.Is(serveErr, closed) {
		return fmt.Errorf("serve: %w", serveErr)
	}
	return nil
}

func (d *daemonFlags) cleanup() {
	if d.pidfile != "" {
		_ = os.Remove(d.pidfile)
	}
}

const noTLSWarning = "!!! TLS IS OFF: images cross the network unencrypted and unauthenticated; " +
	"anyone who can reach the port can read or inject images. Use --tls-cert, --tls-key and --tls-cacert. !!!"

// warnNoTLS logs the loud warning for a TCP leg without TLS.
func warnNoTLS(log zerolog.Logger) { log.Warn().Msg(noTLSWarning) }

// warnNoTLSStderr prints the warning on stderr too when the log goes to
// a file (-o): whoever starts the daemon sees it. Called before -d
// detaches.
func (d *daemonFlags) warnNoTLSStderr(e *env, daemon string) {
	if d.logsToFile() && os.Getenv(envDaemonChild) == "" {
		fmt.Fprintf(e.Stderr, "criu %s: warning: %s\n", daemon, noTLSWarning)
	}
}

// envCPUProfile names a hidden knob for benchmarks: when set, a daemon
// (and dump or restore, from opening the images to the end) writes a CPU profile to $CRIUGO_CPUPROFILE.<daemon>.<pid> from start to
// exit (a clean exit: SIGTERM, not SIGKILL).
const envCPUProfile = "CRIUGO_CPUPROFILE"

// envTrace is its sibling: an execution trace (runtime/trace) to
// $CRIUGO_TRACE.<daemon>.<pid>, to see where goroutines wait (go tool
// trace -pprof=net|sync|syscall|sched).
const envTrace = "CRIUGO_TRACE"

// startCPUProfile starts the profile envCPUProfile and the trace envTrace
// ask for; the returned func stops them. Failures are logged, never fatal.
func startCPUProfile(log zerolog.Logger, daemon string) func() {
	stopProf := startProfile(log, envCPUProfile, daemon, pprof.StartCPUProfile, pprof.StopCPUProfile)
	stopTrace := startProfile(log, envTrace, daemon, trace.Start, trace.Stop)
	return func() { stopTrace(); stopProf() }
}

func startProfile(log zerolog.Logger, env, daemon string, start func(io.Writer) error, stop func()) func() {
	prefix := os.Getenv(env)
	if prefix == "" {
		return func() {}
	}
	path := fmt.Sprintf("%s.%s.%d", prefix, daemon, os.Getpid())
	f, err := os.Create(path)
	if err != nil {
		log.Warn().Err(err).Str("env", env).Msg("profile")
		return func() {}
	}
	if err := start(f); err != nil {
		f.Close()
		log.Warn().Err(err).Str("env", env).Msg("profile")
		return func() {}
	}
	log.Info().Str("path", path).Msg("writing profile")
	return func() {
		stop()
		f.Close()
	}
}

// heapLimit is the Go memory limit of a daemon whose image bytes are
// bounded by maxMem: the budget plus a quarter and 64 MiB of headroom.
// A limit just above the budget makes a daemon that holds its whole
// budget (a full cache, a proxy waiting for acks) collect and return
// memory to the kernel continuously, refaulting every new buffer (seen
// as a 3-4x slower transfer).
func heapLimit(maxMem int64) int64 { return maxMem + maxMem/4 + 64<<20 }
