package imgproxy_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/criugo/criu/criu/image/remote"
	"github.com/criugo/criu/imgcache"
	"github.com/criugo/criu/imgproxy"
	"github.com/criugo/criu/internal/daemon"
	"github.com/criugo/criu/remoteimg/remotetest"
	"github.com/rs/zerolog"
)

// rig is a cache and a proxy in this process, on real sockets: the proxy
// reaches the cache over TCP loopback, optionally through a man in the
// middle (mitm) that tests use to drop or corrupt the connection.
type rig struct {
	t         *testing.T
	dir       string
	cache     *imgcache.Server
	cacheTCP  net.Listener
	cacheSock string
	proxy     *imgproxy.Server
	proxySock string
	mitm      *remotetest.Relay
	cacheAddr string
	cancelAll context.CancelFunc
	serveWG   sync.WaitGroup
}

type rigOpts struct {
	cacheDir  string // "" memory
	cacheMem  int64
	proxyMem  int64
	reconnect time.Duration
	resume    time.Duration
	mitm      bool
	keep      bool
}

func newRig(t *testing.T, o rigOpts) *rig {
	t.Helper()
	dir := t.TempDir()
	r := &rig{t: t, dir: dir, cacheSock: filepath.Join(dir, "cache.sock"), proxySock: filepath.Join(dir, "proxy.sock")}
	ctx, cancel := context.WithCancel(context.Background())
	r.cancelAll = cancel
	log := zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.InfoLevel)
	r.startCache(ctx, o, log)
	target := r.cacheAddr
	if o.mitm {
		r.mitm = remotetest.NewRelay(t, r.cacheAddr)
		target = r.mitm.Addr()
	}
	r.proxy = &imgproxy.Server{
		Dial: func(ctx context.Context) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "tcp", target)
		},
		MaxMemory: o.proxyMem, ReconnectTimeout: o.reconnect, Log: log.With().Str("d", "proxy").Logger(),
	}
	pln, err := daemon.ListenUnix(r.proxySock)
	if err != nil {
		t.Fatal(err)
	}
	r.serveWG.Add(1)
	go func() { defer r.serveWG.Done(); r.proxy.Serve(ctx, pln) }()
	t.Cleanup(r.close)
	return r
}

func (r *rig) startCache(ctx context.Context, o rigOpts, log zerolog.Logger) {
	t := r.t
	r.cache = &imgcache.Server{Dir: o.cacheDir, MaxMemory: o.cacheMem, Keep: o.keep, ResumeTimeout: o.resume,
		Log: log.With().Str("d", "cache").Logger()}
	addr := "127.0.0.1:0"
	if r.cacheAddr != "" {
		addr = r.cacheAddr
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	r.cacheTCP = ln
	r.cacheAddr = ln.Addr().String()
	uln, err := daemon.ListenUnix(r.cacheSock)
	if err != nil {
		t.Fatal(err)
	}
	srv := r.cache
	r.serveWG.Add(2)
	go func() { defer r.serveWG.Done(); srv.Serve(ctx, ln) }()
	go func() { defer r.serveWG.Done(); srv.Serve(ctx, uln) }()
}

// stopCache force-stops the cache (like a kill: connections cut).
func (r *rig) stopCache() {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r.cache.Shutdown(ctx)
}

func (r *rig) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r.proxy.Shutdown(ctx)
	r.cache.Shutdown(ctx)
	r.cancelAll()
	if r.mitm != nil {
		r.mitm.Close()
	}
	r.serveWG.Wait()
}

func (r *rig) writer(snap, parent string) *remote.Store {
	r.t.Helper()
	st, err := remote.Dial(context.Background(), r.proxySock, remote.Options{Snapshot: snap, Parent: parent, Mode: remote.ModeWrite})
	if err != nil {
		r.t.Fatal(err)
	}
	r.t.Cleanup(func() { st.Close() })
	return st
}

func (r *rig) reader(snap string) *remote.Store { return r.readerWait(snap, 5*time.Second) }

// readerWait returns a read Store whose Open waits up to wait for the
// snapshot to reach the cache.
func (r *rig) readerWait(snap string, wait time.Duration) *remote.Store {
	r.t.Helper()
	st, err := remote.Dial(context.Background(), r.cacheSock, remote.Options{Snapshot: snap, Mode: remote.ModeRead, WaitSnapshot: wait})
	if err != nil {
		r.t.Fatal(err)
	}
	r.t.Cleanup(func() { st.Close() })
	return st
}

// content returns deterministic bytes for an image.
func content(seed uint64, n int) []byte {
	b := make([]byte, n)
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	for i := 0; i < n; i += 8 {
		v := rng.Uint64()
		for j := 0; j < 8 && i+j < n; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return b
}

// put writes one image in writes of varying size.
func put(ctx context.Context, st *remote.Store, name string, data []byte) error {
	w, err := st.Create(ctx, name)
	if err != nil {
		return err
	}
	rest := data
	step := 1000
	for len(rest) > 0 {
		k := min(step, len(rest))
		if _, err := w.Write(rest[:k]); err != nil {
			w.Abort()
			return err
		}
		rest = rest[k:]
		step = step*3 + 17
	}
	return w.Close()
}

func get(ctx context.Context, st *remote.Store, name string) ([]byte, error) {
	rc, err := st.Open(ctx, name)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

func mustGet(t *testing.T, st *remote.Store, name string, want []byte) {
	t.Helper()
	got, err := get(context.Background(), st, name)
	if err != nil {
		t.Fatalf("read %s: %v", name, err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("read %s: %d bytes, want %d (content differs: %v)", name, len(got), len(want), len(got) == len(want))
	}
}

func isErr(err, target error) bool { return errors.Is(err, target) }

// cacheSockRestart starts a new cache on the same address, socket and
// options (after stopCache).
func (r *rig) cacheSockRestart(o rigOpts) {
	ctx := context.Background()
	log := zerolog.New(zerolog.NewTestWriter(r.t)).Level(zerolog.InfoLevel)
	r.startCache(ctx, o, log)
}
