package remoteimg

import (
	"bufio"
	"context"
	"fmt"
	"hash/crc32"
	"net"
	"path/filepath"
	"sync"
	"time"
)

// Castagnoli returns the CRC table used for image checksums, made at its
// first use: making it (the SSE4.2 tables) at start-up was some 0.2-0.8
// ms of every criu process's start, remote images or not.
var Castagnoli = sync.OnceValue(func() *crc32.Table { return crc32.MakeTable(crc32.Castagnoli) })

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
