package remoteimg

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"
)

// Castagnoli is the CRC table used for image checksums.
var Castagnoli = crc32.MakeTable(crc32.Castagnoli)

// HandshakeTimeout bounds the Hello exchange.
const HandshakeTimeout = 10 * time.Second

// Conn is a connection after the handshake: a buffered frame reader and a
// frame writer on the same net.Conn.
type Conn struct {
	net.Conn
	R    *bufio.Reader
	W    *FrameWriter
	Peer Role // the role the other side announced
}

// ReadFrame reads the next frame (payload cap MaxPayload).
func (c *Conn) ReadFrame() (Frame, error) { return ReadFrame(c.R, MaxPayload) }

// ReadMsg reads the next frame and decodes it.
func (c *Conn) ReadMsg() (uint64, Msg, error) {
	f, err := c.ReadFrame()
	if err != nil {
		return 0, nil, err
	}
	m, err := Decode(f)
	return f.Stream, m, err
}

// ClientHandshake sends Hello with role and waits for the server's Hello.
// A Result instead of Hello is the server's refusal (ErrVersion...).
func ClientHandshake(ctx context.Context, nc net.Conn, role Role) (*Conn, error) {
	c := &Conn{Conn: nc, R: bufio.NewReaderSize(nc, 64<<10), W: NewFrameWriter(nc)}
	stop := deadlineFromContext(ctx, nc)
	defer stop()
	if err := c.W.WriteMsg(0, &Hello{Version: Version, Role: role}); err != nil {
		return nil, fmt.Errorf("send hello: %w", err)
	}
	f, err := ReadFrame(c.R, MaxHelloPayload+MaxMsgLen+8)
	if err != nil {
		return nil, fmt.Errorf("read hello: %w", err)
	}
	m, err := Decode(f)
	if err != nil {
		return nil, fmt.Errorf("read hello: %w", err)
	}
	switch m := m.(type) {
	case *Result:
		if err := ResultError(*m); err != nil {
			return nil, fmt.Errorf("handshake refused: %w", err)
		}
		return nil, fmt.Errorf("%w: ok result instead of hello", ErrProtocol)
	case *Hello:
		if m.Version != Version {
			return nil, fmt.Errorf("%w: server speaks version %d, we speak %d", ErrVersion, m.Version, Version)
		}
		c.Peer = m.Role
		return c, nil
	}
	return nil, fmt.Errorf("%w: %s instead of hello", ErrProtocol, m.Type())
}

// ServerHandshake reads the peer's Hello, checks version and that its role
// is one of allowed, and answers. On refusal it sends a Result with the
// reason (best effort) and returns the error; the caller closes nc.
func ServerHandshake(ctx context.Context, nc net.Conn, allowed ...Role) (*Conn, error) {
	c := &Conn{Conn: nc, R: bufio.NewReaderSize(nc, 64<<10), W: NewFrameWriter(nc)}
	stop := deadlineFromContext(ctx, nc)
	defer stop()
	f, err := ReadFrame(c.R, MaxHelloPayload)
	if err != nil {
		return nil, fmt.Errorf("read hello: %w", err)
	}
	if f.Type != THello {
		return nil, fmt.Errorf("%w: first frame is %s, not Hello", ErrProtocol, f.Type)
	}
	var h Hello
	if err := h.Unmarshal(f.Payload); err != nil {
		return nil, err
	}
	refuse := func(err error) (*Conn, error) {
		r := ErrorResult(err)
		_ = c.W.WriteMsg(0, &r)
		return nil, err
	}
	if h.Version != Version {
		return refuse(fmt.Errorf("%w: peer speaks version %d, we speak %d", ErrVersion, h.Version, Version))
	}
	ok := false
	for _, r := range allowed {
		ok = ok || r == h.Role
	}
	if !ok {
		return refuse(fmt.Errorf("%w: role %s not served here", ErrPermission, h.Role))
	}
	if err := c.W.WriteMsg(0, &Hello{Version: Version, Role: RoleServer}); err != nil {
		return nil, fmt.Errorf("send hello: %w", err)
	}
	c.Peer = h.Role
	return c, nil
}

// deadlineFromContext sets nc's deadline from ctx (or HandshakeTimeout)
// and interrupts I/O when ctx ends; the returned func undoes both.
func deadlineFromContext(ctx context.Context, nc net.Conn) func() {
	d := time.Now().Add(HandshakeTimeout)
	if dl, ok := ctx.Deadline(); ok && dl.Before(d) {
		d = dl
	}
	_ = nc.SetDeadline(d)
	stop := context.AfterFunc(ctx, func() { _ = nc.SetDeadline(time.Unix(1, 0)) })
	return func() {
		stop()
		_ = nc.SetDeadline(time.Time{})
	}
}

// ListenUnix listens on a UNIX socket at path, owner-only (0600). A stale
// socket file at path is removed; any other file there is an error.
func ListenUnix(path string) (*net.UnixListener, error) {
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode()&fs.ModeSocket == 0 {
			return nil, fmt.Errorf("listen %s: %w: exists and is not a socket", path, fs.ErrExist)
		}
		if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
			c.Close()
			return nil, fmt.Errorf("listen %s: %w: another daemon is listening", path, fs.ErrExist)
		}
		_ = os.Remove(path)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("listen %s: %w", path, err)
	}
	old := unix.Umask(0o177)
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	unix.Umask(old)
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("chmod %s: %w", path, err)
	}
	return ln, nil
}

// CheckPeer allows a UNIX connection only from our own uid or root
// (SO_PEERCRED). Other connection types pass.
func CheckPeer(nc net.Conn) error {
	uc, ok := nc.(*net.UnixConn)
	if !ok {
		return nil
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return err
	}
	var cred *unix.Ucred
	var serr error
	if err := raw.Control(func(fd uintptr) {
		cred, serr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return err
	}
	if serr != nil {
		return os.NewSyscallError("getsockopt SO_PEERCRED", serr)
	}
	if cred.Uid != 0 && int(cred.Uid) != os.Getuid() {
		return fmt.Errorf("%w: peer uid %d (pid %d) is neither us nor root", ErrPermission, cred.Uid, cred.Pid)
	}
	return nil
}

// TLSFiles names the PEM files of a mutual-TLS setup.
type TLSFiles struct {
	Cert, Key, CACert string
}

// Enabled reports whether any TLS file is set.
func (t TLSFiles) Enabled() bool { return t.Cert != "" || t.Key != "" || t.CACert != "" }

// ServerConfig builds the cache's TLS config: its certificate, and client
// certificates required and verified against CACert.
func (t TLSFiles) ServerConfig() (*tls.Config, error) {
	cert, pool, err := t.load()
	if err != nil {
		return nil, err
	}
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    pool,
		MinVersion:   tls.VersionTLS13,
	}, nil
}

// ClientConfig builds the proxy's TLS config: its client certificate, and
// the cache's certificate verified against CACert for serverName.
func (t TLSFiles) ClientConfig(serverName string) (*tls.Config, error) {
	cert, pool, err := t.load()
	if err != nil {
		return nil, err
	}
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		RootCAs:      pool,
		ServerName:   serverName,
		MinVersion:   tls.VersionTLS13,
	}, nil
}

func (t TLSFiles) load() (tls.Certificate, *x509.CertPool, error) {
	if t.Cert == "" || t.Key == "" || t.CACert == "" {
		return tls.Certificate{}, nil, errors.New("TLS needs all of --tls-cert, --tls-key and --tls-cacert")
	}
	cert, err := tls.LoadX509KeyPair(t.Cert, t.Key)
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("load TLS key pair: %w", err)
	}
	pem, err := os.ReadFile(t.CACert)
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("read TLS CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return tls.Certificate{}, nil, fmt.Errorf("read TLS CA %s: no certificate found", t.CACert)
	}
	return cert, pool, nil
}

// Default socket names.
const (
	ProxySocketName = "image-proxy.sock"
	CacheSocketName = "image-cache.sock"
)

// DefaultProxySocket is the proxy's local socket: DIR/image-proxy.sock
// with an images dir, else /run/criu/image-proxy.sock.
func DefaultProxySocket(dir string) string { return defaultSocket(dir, ProxySocketName) }

// DefaultCacheSocket is the cache's local socket: DIR/image-cache.sock
// with a cache dir, else /run/criu/image-cache.sock.
func DefaultCacheSocket(dir string) string { return defaultSocket(dir, CacheSocketName) }

func defaultSocket(dir, name string) string {
	if dir == "" {
		dir = "/run/criu"
	}
	return filepath.Join(dir, name)
}

// RetryAccept reports whether err, returned by a listener's Accept, is
// transient (a timeout, or this process or the system out of file
// descriptors); if so it logs it and sleeps before the caller accepts
// again, doubling *delay from 5 ms up to 1 s. The caller resets *delay to
// 0 after a successful Accept. ConnSet.Serve uses it.
func RetryAccept(err error, delay *time.Duration, log zerolog.Logger) bool {
	var ne net.Error
	if !(errors.As(err, &ne) && ne.Timeout()) && !errors.Is(err, unix.EMFILE) && !errors.Is(err, unix.ENFILE) {
		return false
	}
	*delay = min(max(2**delay, 5*time.Millisecond), time.Second)
	log.Warn().Err(err).Dur("retry", *delay).Msg("accept")
	time.Sleep(*delay)
	return true
}

// Liveness of the TCP leg. A link whose peer vanished (a cable pulled, a
// veth down for good) sends nothing back: without these the kernel
// retransmits for some 15 minutes before it gives up, and a keepalive
// is sent only after two idle hours.
const (
	// LinkTimeout is how long sent data may stay unacknowledged by the
	// peer's TCP (TCP_USER_TIMEOUT), and how long an idle link may stay
	// silent to keepalive probes, before the connection is dropped.
	LinkTimeout = 10 * time.Second
	keepIdle    = 3 * time.Second
	keepIntvl   = 2 * time.Second
)

// TCPDialer returns a dialer whose connections detect a dead peer within
// about userTimeout (LinkTimeout when 0): TCP_USER_TIMEOUT, and
// keepalive probes from keepIdle.
func TCPDialer(userTimeout time.Duration) *net.Dialer {
	if userTimeout <= 0 {
		userTimeout = LinkTimeout
	}
	return &net.Dialer{
		KeepAliveConfig: net.KeepAliveConfig{Enable: true, Idle: keepIdle, Interval: keepIntvl,
			Count: max(1, int(userTimeout/keepIntvl))},
		Control: userTimeoutControl(userTimeout),
	}
}

// TCPListenConfig is TCPDialer's counterpart for the cache's listener:
// accepted connections inherit TCP_USER_TIMEOUT and get keepalives.
func TCPListenConfig(userTimeout time.Duration) *net.ListenConfig {
	if userTimeout <= 0 {
		userTimeout = LinkTimeout
	}
	return &net.ListenConfig{
		KeepAliveConfig: net.KeepAliveConfig{Enable: true, Idle: keepIdle, Interval: keepIntvl,
			Count: max(1, int(userTimeout/keepIntvl))},
		Control: userTimeoutControl(userTimeout),
	}
}

func userTimeoutControl(d time.Duration) func(network, address string, c syscall.RawConn) error {
	return func(network, _ string, c syscall.RawConn) error {
		if !strings.HasPrefix(network, "tcp") {
			return nil
		}
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_USER_TIMEOUT, int(d.Milliseconds()))
		})
		if err == nil && serr != nil {
			err = os.NewSyscallError("setsockopt TCP_USER_TIMEOUT", serr)
		}
		return err
	}
}

// Permanent reports whether a dial or handshake error will not go away
// by retrying: the peer's certificate does not verify, the peer refused
// ours (a TLS alert), the peer speaks no TLS or another protocol
// version, or refused our role.
func Permanent(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, ErrVersion) || errors.Is(err, ErrPermission) {
		return true
	}
	var (
		ua  x509.UnknownAuthorityError
		ci  x509.CertificateInvalidError
		he  x509.HostnameError
		cve *tls.CertificateVerificationError
		rhe tls.RecordHeaderError
		ae  tls.AlertError
	)
	if errors.As(err, &ua) || errors.As(err, &ci) || errors.As(err, &he) || errors.As(err, &cve) ||
		errors.As(err, &rhe) || errors.As(err, &ae) {
		return true
	}
	// An alert received from the peer during the handshake.
	var oe *net.OpError
	return errors.As(err, &oe) && oe.Op == "remote error"
}
