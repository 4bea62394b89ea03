package imgproxy_test

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/criugo/criu/criu/image/remote"
	"github.com/criugo/criu/remoteimg"
)

func rawDial(t *testing.T, network, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	return c
}

// expectClosed reads until the peer closes, failing on timeout.
func expectClosed(t *testing.T, c net.Conn) {
	t.Helper()
	if _, err := io.Copy(io.Discard, c); err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatal("peer did not disconnect")
		}
	}
}

// TestHostilePeers: wrong version, garbage, oversized frame, traversal
// names and a reader on the TCP port are refused, each on its own
// connection, while a real transfer on another connection completes.
func TestHostilePeers(t *testing.T) {
	cacheDir := t.TempDir()
	r := newRig(t, rigOpts{cacheDir: cacheDir})
	ctx := context.Background()

	// A transfer in flight during the attacks.
	w := r.writer("good", "")
	iw, err := w.Create(ctx, "pages-1.img")
	if err != nil {
		t.Fatal(err)
	}
	data := content(5, 2<<20)
	iw.Write(data[:1<<20])

	t.Run("old version", func(t *testing.T) {
		c2 := rawDial(t, "tcp", r.cacheAddr)
		remoteimg.NewFrameWriter(c2).WriteMsg(0, &remoteimg.Hello{Version: 99, Role: remoteimg.RoleProxy})
		f, err := remoteimg.ReadFrame(c2, remoteimg.MaxPayload)
		if err != nil {
			t.Fatal(err)
		}
		m, _ := remoteimg.Decode(f)
		if res, ok := m.(*remoteimg.Result); !ok || res.Code != remoteimg.CodeVersion {
			t.Fatalf("got %+v", m)
		}
		expectClosed(t, c2)
	})
	t.Run("garbage", func(t *testing.T) {
		c := rawDial(t, "tcp", r.cacheAddr)
		c.Write([]byte("GET / HTTP/1.1\r\nHost: cache\r\n\r\n"))
		expectClosed(t, c)
	})
	t.Run("oversized frame", func(t *testing.T) {
		c := rawDial(t, "tcp", r.cacheAddr)
		rc, err := remoteimg.ClientHandshake(ctx, c, remoteimg.RoleProxy)
		if err != nil {
			t.Fatal(err)
		}
		var h [remoteimg.HeaderSize]byte
		remoteimg.PutHeader(&h, remoteimg.TData, 1, 1<<30)
		rc.Write(h[:])
		expectClosed(t, c)
	})
	t.Run("oversized hello", func(t *testing.T) {
		c := rawDial(t, "unix", r.cacheSock)
		var h [remoteimg.HeaderSize]byte
		remoteimg.PutHeader(&h, remoteimg.THello, 0, remoteimg.MaxHelloPayload+1)
		c.Write(h[:])
		expectClosed(t, c)
	})
	t.Run("traversal names", func(t *testing.T) {
		c := rawDial(t, "tcp", r.cacheAddr)
		rc, err := remoteimg.ClientHandshake(ctx, c, remoteimg.RoleProxy)
		if err != nil {
			t.Fatal(err)
		}
		for i, p := range []*remoteimg.Put{
			{Snapshot: "..", Name: "x.img"},
			{Snapshot: "s", Name: "../../escape.img"},
			{Snapshot: "s", Parent: "a/b", Name: "x.img"},
			{Snapshot: "s", Name: "x\x00.img"},
		} {
			rc.W.WriteMsg(uint64(100+i), p)
			_, m, err := rc.ReadMsg()
			if err != nil {
				t.Fatal(err)
			}
			if res, ok := m.(*remoteimg.Result); !ok || res.Code != remoteimg.CodeBadName {
				t.Fatalf("%+v: got %+v", p, m)
			}
		}
		rd, err := remote.DialUnix(ctx, r.cacheSock, remoteimg.RoleReader)
		if err != nil {
			t.Fatal(err)
		}
		defer rd.Close()
		rd.W.WriteMsg(1, &remoteimg.Get{Snapshot: "good", Name: "../../../etc/passwd"})
		_, m, err := rd.ReadMsg()
		if res, ok := m.(*remoteimg.Result); err != nil || !ok || res.Code != remoteimg.CodeBadName {
			t.Fatalf("get traversal: %+v %v", m, err)
		}
		if _, err := os.Stat(filepath.Join(filepath.Dir(cacheDir), "escape.img")); err == nil {
			t.Fatal("a file escaped the cache dir")
		}
	})
	t.Run("reader on tcp may not release", func(t *testing.T) {
		// A reader over TCP is a proxy relaying a dump's reads of a
		// parent snapshot: Get and List only.
		c := rawDial(t, "tcp", r.cacheAddr)
		rc, err := remoteimg.ClientHandshake(ctx, c, remoteimg.RoleReader)
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		rc.W.WriteMsg(1, &remoteimg.Release{Snapshot: "good"})
		_, m, err := rc.ReadMsg()
		if res, ok := m.(*remoteimg.Result); err != nil || !ok || res.Code != remoteimg.CodePermission {
			t.Fatalf("release over tcp: %+v %v", m, err)
		}
	})
	t.Run("socket modes", func(t *testing.T) {
		for _, p := range []string{r.cacheSock, r.proxySock} {
			fi, err := os.Stat(p)
			if err != nil || fi.Mode().Perm() != 0o600 {
				t.Fatalf("%s: %v %v", p, fi.Mode(), err)
			}
		}
	})

	iw.Write(data[1<<20:])
	if err := iw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Finish(ctx); err != nil {
		t.Fatalf("the honest transfer suffered: %v", err)
	}
	mustGet(t, r.reader("good"), "pages-1.img", data)
}
