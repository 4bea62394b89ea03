package imgcache_test

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/criugo/criu/criu/image/remote"
	"github.com/criugo/criu/remoteimg"
)

// waitingReaders opens n reader connections to the cache at port, from
// peers 127.0.0.2, 127.0.0.3, ... (perPeer each), each sending a Get of
// a snapshot that never comes. It returns the connections that were
// accepted and the errors of those refused.
func waitingReaders(t *testing.T, port string, n, perPeer int) (waiting []*remoteimg.Conn, refused []error) {
	t.Helper()
	var mu sync.Mutex
	sem := make(chan struct{}, 32) // below the cache's maxRefusing
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			ip := net.IPv4(127, 0, byte(i/perPeer/250), byte(2+i/perPeer%250))
			d := net.Dialer{Timeout: 10 * time.Second, LocalAddr: &net.TCPAddr{IP: ip}}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			nc, err := d.DialContext(ctx, "tcp", "127.0.0.1:"+port)
			var rc *remoteimg.Conn
			if err == nil {
				rc, err = remoteimg.ClientHandshake(ctx, nc, remoteimg.RoleReader)
				if err != nil {
					nc.Close()
				}
			}
			if err == nil {
				err = rc.W.WriteMsg(1, &remoteimg.Get{Snapshot: "never", Name: "x.img", WaitMillis: 120_000})
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				refused = append(refused, err)
				return
			}
			waiting = append(waiting, rc)
		}()
	}
	wg.Wait()
	t.Cleanup(func() {
		for _, rc := range waiting {
			rc.Close()
		}
	})
	// An accepted reader may still be refused at its Get (a peer's
	// reader cap): those answer, the others wait.
	var still []*remoteimg.Conn
	for _, rc := range waiting {
		rc.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	}
	for _, rc := range waiting {
		_, m, err := rc.ReadMsg()
		if r, ok := m.(*remoteimg.Result); ok {
			err = remoteimg.ResultError(*r)
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			still = append(still, rc)
			continue
		}
		refused = append(refused, err)
	}
	return still, refused
}

func fdCount(t *testing.T, pid int) int {
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

func vmRSS(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return -1
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) > 1 && f[0] == "VmRSS:" {
			var v int64
			fmt.Sscan(f[1], &v)
			return v << 10
		}
	}
	return -1
}

// TestFaultWaitingReadersBounded (item 14): 2000 unauthenticated
// readers waiting for a snapshot that never comes, from 125 peers (16
// each, within the per-peer caps). Every connection's buffers are
// charged against --max-memory (24M, on -D: all of it is the buffers'
// share, three quarters of it for TCP peers) before its handshake, so
// at most 18 MiB / 96 KiB = 192 wait and the others are refused at the
// handshake with ErrNoSpace naming --max-memory; the cache's RSS and
// fds stay within that. Main accepted all 2000 (2000 fds, about 200 MB).
// Then --max-conns 100 caps the TCP connections of all peers together;
// and a memory cache (no -D) gives TCP peers three quarters of the
// connections' share (4 MiB at 64M: 32 readers), keeping the rest for
// the local restore that would free it.
func TestFaultWaitingReadersBounded(t *testing.T) {
	needBinary(t)
	p := newProcRig(t)
	cache := startDaemon(t, "image-cache", "--address", "127.0.0.1", "--port", p.port,
		"-D", p.cacheDir, "--local-socket", p.cacheSock, "--max-memory", "24M")
	pid := cache.cmd.Process.Pid
	base, baseFDs := vmRSS(pid), fdCount(t, pid)
	waiting, refused := waitingReaders(t, p.port, 2000, 16)
	const connCharge = 96 << 10 // what the cache charges a connection
	const most = (24 << 20) / 4 * 3 / connCharge
	rss, fds := vmRSS(pid), fdCount(t, pid)
	hwm := vmHWM(pid) << 10
	t.Logf("2000 readers: %d wait, %d refused; cache RSS %d MiB (peak %d, at start %d), %d fds (%d at start)",
		len(waiting), len(refused), rss>>20, hwm>>20, base>>20, fds, baseFDs)
	if len(waiting) > most || len(waiting) < most/2 {
		t.Errorf("%d readers wait, want at most %d (--max-memory 24M) and not far fewer", len(waiting), most)
	}
	for _, err := range refused {
		if !errors.Is(err, remoteimg.ErrNoSpace) || !strings.Contains(err.Error(), "--max-memory") {
			t.Fatalf("a reader was refused with %v, want ErrNoSpace naming --max-memory", err)
		}
	}
	if fds > baseFDs+len(waiting)+8 {
		t.Errorf("cache holds %d fds for %d waiting readers (%d at start)", fds, len(waiting), baseFDs)
	}
	if hwm-base > 24<<20+16<<20 {
		t.Errorf("cache RSS grew by %d MiB with --max-memory 24M", (hwm-base)>>20)
	}
	msg := "none"
	if len(refused) > 0 {
		msg = refused[0].Error()
	}
	scenario(t, "2000 waiting readers from 125 peers, cache -D --max-memory 24M", "n/a (raw clients)", "n/a",
		fmt.Sprintf("%d wait (bound %d), %d refused; RSS +%d MiB, %d fds", len(waiting), most, len(refused), (hwm-base)>>20, fds), msg)

	// The cap on all TCP connections.
	port := freePort(t)
	cache2 := startDaemon(t, "image-cache", "--address", "127.0.0.1", "--port", port,
		"-D", p.cacheDir+"2", "--local-socket", p.cacheSock+"2", "--max-conns", "100")
	baseFDs = fdCount(t, cache2.cmd.Process.Pid)
	waiting, refused = waitingReaders(t, port, 150, 15)
	fds = fdCount(t, cache2.cmd.Process.Pid)
	if len(waiting) != 100 || len(refused) != 50 {
		t.Fatalf("150 readers from 10 peers with --max-conns 100: %d wait, %d refused", len(waiting), len(refused))
	}
	for _, err := range refused {
		if !errors.Is(err, remoteimg.ErrPermission) || !strings.Contains(err.Error(), "--max-conns") {
			t.Fatalf("a reader was refused with %v, want ErrPermission naming --max-conns", err)
		}
	}
	if fds > baseFDs+100+8 {
		t.Errorf("cache holds %d fds for 100 connections (%d at start)", fds, baseFDs)
	}
	scenario(t, "150 readers from 10 peers, --max-conns 100", "n/a (raw clients)", "n/a",
		fmt.Sprintf("100 wait, 50 refused, %d fds", fds), refused[0].Error())

	// In memory, connection buffers have a sixteenth of --max-memory (at
	// least 4 MiB), three quarters of it for TCP peers: 32 readers at
	// 64M. The last quarter is the UNIX socket's: the local restore that
	// would free the cache still gets in.
	port = freePort(t)
	sock := p.cacheSock + "3"
	startDaemon(t, "image-cache", "--address", "127.0.0.1", "--port", port, "--local-socket", sock, "--max-memory", "64M")
	waiting, refused = waitingReaders(t, port, 200, 16)
	if len(waiting) != (4<<20)/4*3/connCharge || len(refused) != 200-len(waiting) {
		t.Fatalf("200 readers into a memory cache of --max-memory 64M: %d wait, %d refused, want %d wait",
			len(waiting), len(refused), (4<<20)/4*3/connCharge)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := remote.ListSnapshots(ctx, sock); err != nil {
		t.Fatalf("a local reader with the TCP peers' share full: %v", err)
	}
	scenario(t, "200 TCP readers into a memory cache --max-memory 64M, then a local one", "n/a (raw clients)", "n/a",
		fmt.Sprintf("%d wait, %d refused, the local one served", len(waiting), len(refused)), refused[0].Error())
}

// TestFaultProxyFrameBuffersCharged (item 14): on -D, a proxy
// connection's 1 MiB frame buffer is charged when its first Data comes.
// 10 proxy connections each start an image at --max-memory 8M (TCP
// share 6 MiB, a connection 96 KiB + 1 MiB once it writes): 5 get their
// buffer and their Data acknowledged, the others' transfer fails at
// once with ErrNoSpace naming --max-memory, and their connection goes
// on (a later Put on it is taken). Main allocated every connection's
// buffer uncharged and took all 10.
func TestFaultProxyFrameBuffersCharged(t *testing.T) {
	needBinary(t)
	p := newProcRig(t)
	startDaemon(t, "image-cache", "--address", "127.0.0.1", "--port", p.port,
		"-D", p.cacheDir, "--local-socket", p.cacheSock, "--max-memory", "8M")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const n = 10
	data := pattern(1, 1<<20)
	ok := 0
	var refused []*remoteimg.Conn
	var told error
	for i := range n {
		nc, err := net.DialTimeout("tcp", "127.0.0.1:"+p.port, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		rc, err := remoteimg.ClientHandshake(ctx, nc, remoteimg.RoleProxy)
		if err != nil {
			t.Fatalf("proxy connection %d: %v", i, err)
		}
		defer rc.Close()
		if err := rc.W.WriteMsg(1, &remoteimg.Put{Snapshot: fmt.Sprintf("s%d", i), Name: "pages-1.img"}); err != nil {
			t.Fatal(err)
		}
		if err := rc.W.WriteData(1, 0, data); err != nil {
			t.Fatal(err)
		}
		rc.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, m, err := rc.ReadMsg()
		if err != nil {
			t.Fatalf("proxy connection %d: %v", i, err)
		}
		switch m := m.(type) {
		case *remoteimg.Ack:
			if m.Offset != uint64(len(data)) {
				t.Fatalf("proxy connection %d: ack of %d bytes, want %d", i, m.Offset, len(data))
			}
			ok++
		case *remoteimg.Result:
			err := remoteimg.ResultError(*m)
			if !errors.Is(err, remoteimg.ErrNoSpace) || !strings.Contains(err.Error(), "--max-memory") {
				t.Fatalf("proxy connection %d: %v, want ErrNoSpace naming --max-memory", i, err)
			}
			told = err
			refused = append(refused, rc)
		default:
			t.Fatalf("proxy connection %d: %s", i, m.Type())
		}
	}
	if want := (6<<20 - n*(96<<10)) / (1 << 20); ok != want {
		t.Fatalf("%d of %d proxy connections got a frame buffer at --max-memory 8M on -D, want %d", ok, n, want)
	}
	// A refused transfer leaves its connection usable: a small image
	// (frames that fit its small buffer) goes through.
	rc := refused[0]
	if err := rc.W.WriteMsg(3, &remoteimg.Put{Snapshot: "small", Name: "x.img"}); err != nil {
		t.Fatal(err)
	}
	if err := rc.W.WriteData(3, 0, []byte("hello")); err != nil {
		t.Fatal(err)
	}
	crc := crc32.Checksum([]byte("hello"), remoteimg.Castagnoli())
	if err := rc.W.WriteMsg(3, &remoteimg.Commit{Size: 5, CRC: crc}); err != nil {
		t.Fatal(err)
	}
	for {
		_, m, err := rc.ReadMsg()
		if err != nil {
			t.Fatal(err)
		}
		if r, isResult := m.(*remoteimg.Result); isResult {
			if err := remoteimg.ResultError(*r); err != nil {
				t.Fatalf("small image on a connection whose large one was refused: %v", err)
			}
			break
		}
	}
	scenario(t, "10 proxy connections writing at once, cache -D --max-memory 8M", "n/a (raw clients)", "yes (5 acknowledged whole)",
		fmt.Sprintf("%d acknowledged, %d refused, the refused connections go on", ok, len(refused)), told.Error())
}
