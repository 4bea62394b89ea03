package netlock

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/criugo/criu/criu/crtest"
	"github.com/criugo/criu/criu/nsenter"
	"github.com/criugo/criu/criu/nsenter/nstest"
)

// pair is two fresh network namespaces joined by a veth: the client's
// (198.18.0.1, fd18::1) and the server's (198.18.0.2, fd18::2), with an
// echo server listening in the server's on port 7.
type pair struct {
	client, server int // a task in each namespace
	ln             []net.Listener
}

func requireTool(t *testing.T, m Method) {
	t.Helper()
	tool := "nft"
	if m == IPTables {
		tool = "iptables-restore"
	}
	if _, err := exec.LookPath(tool); err != nil {
		t.Skipf("no %s: %v", tool, err)
	}
}

func testLog(t *testing.T) zerolog.Logger {
	return zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.DebugLevel)
}

func newPair(t *testing.T) *pair {
	t.Helper()
	p := &pair{client: nstest.Start(t, syscall.CLONE_NEWNET), server: nstest.Start(t, syscall.CLONE_NEWNET)}
	veth := fmt.Sprintf("nl%d", os.Getpid()%100000)
	sh := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	sh("link", "add", veth+"a", "type", "veth", "peer", "name", veth+"b")
	sh("link", "set", veth+"a", "netns", fmt.Sprint(p.client))
	sh("link", "set", veth+"b", "netns", fmt.Sprint(p.server))
	for i, side := range []struct {
		pid int
		dev string
	}{{p.client, veth + "a"}, {p.server, veth + "b"}} {
		ns := &Task{Pid: side.pid}
		for _, args := range [][]string{
			{"link", "set", "lo", "up"},
			{"addr", "add", fmt.Sprintf("198.18.0.%d/24", i+1), "dev", side.dev},
			{"addr", "add", fmt.Sprintf("fd18::%d/64", i+1), "dev", side.dev, "nodad"},
			{"link", "set", side.dev, "up"},
		} {
			if _, err := run(context.Background(), ns, nil, "ip", args...); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, addr := range []string{"198.18.0.2:7", "[fd18::2]:7"} {
		var ln net.Listener
		err := nsenter.Do(p.server, nsenter.Net, func() (err error) {
			ln, err = net.Listen("tcp", addr)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				go func() { defer c.Close(); io.Copy(c, c) }()
			}
		}()
		p.ln = append(p.ln, ln)
	}
	return p
}

// dial connects from the client's namespace, with timeout.
func (p *pair) dial(t *testing.T, addr string, timeout time.Duration) (net.Conn, error) {
	var c net.Conn
	err := nsenter.Do(p.client, nsenter.Net, func() (err error) {
		c, err = net.DialTimeout("tcp", addr, timeout)
		return err
	})
	if c != nil {
		t.Cleanup(func() { c.Close() })
	}
	return c, err
}

// silent checks that c's echo times out, without a reset: the lock
// drops the packets.
func silent(t *testing.T, c net.Conn, what string) {
	t.Helper()
	err := crtest.EchoLine(c, "locked", 1500*time.Millisecond)
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("%s: echo while locked: %v, want a timeout (not ECONNRESET)", what, err)
	}
}

// connect dials addr from the client's namespace and checks an echo.
func (p *pair) connect(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := p.dial(t, addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if err := crtest.EchoLine(c, "before", 2*time.Second); err != nil {
		t.Fatal(err)
	}
	return c
}

func connOf(c net.Conn) Conn {
	return Conn{Local: c.LocalAddr().(*net.TCPAddr).AddrPort(), Remote: c.RemoteAddr().(*net.TCPAddr).AddrPort()}
}

var methods = []Method{NFTables, IPTables}

// The host flavor: the locked connections are silent both ways, IPv4
// and IPv6; another connection between the same hosts is not; after
// Unlock the locked ones carry on where they were (the data sent while
// locked is retransmitted and echoed).
func TestLockConns(t *testing.T) {
	for _, m := range methods {
		t.Run(string(m), func(t *testing.T) {
			requireTool(t, m)
			p := newPair(t)
			ctx := context.Background()
			var locked []net.Conn
			var conns []Conn
			for _, addr := range []string{"198.18.0.2:7", "[fd18::2]:7"} {
				c := p.connect(t, addr)
				locked = append(locked, c)
				conns = append(conns, connOf(c))
			}
			var l *Lock
			err := nsenter.Do(p.client, nsenter.Net, func() (err error) {
				l, err = LockConns(ctx, m, "test-conns-"+string(m), conns, testLog(t))
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			if l.Method() != m {
				t.Fatalf("locked with %s, want %s", l.Method(), m)
			}
			for _, c := range locked {
				silent(t, c, c.RemoteAddr().String())
			}
			other, err := p.dial(t, "198.18.0.2:7", 2*time.Second)
			if err != nil {
				t.Fatalf("another connection while locked: %v", err)
			}
			if err := crtest.EchoLine(other, "other", 2*time.Second); err != nil {
				t.Fatalf("another connection while locked: %v", err)
			}
			if err := nsenter.Do(p.client, nsenter.Net, func() error { return l.Unlock(ctx) }); err != nil {
				t.Fatal(err)
			}
			for _, c := range locked {
				// The reply to "locked" first, from a retransmission.
				if err := crtest.ReadLine(c, "locked", 10*time.Second); err != nil {
					t.Fatalf("%s after unlock: %v", c.RemoteAddr(), err)
				}
			}
			if _, err := os.Stat(l.rec.path()); !os.IsNotExist(err) {
				t.Errorf("record left after Unlock: %v", err)
			}
		})
	}
}

// The netns flavor: the whole namespace is silent, a new connection's
// SYN too (the connect times out, it is not refused); after Unlock both
// the old connection and new ones work.
func TestLockNetns(t *testing.T) {
	for _, m := range methods {
		t.Run(string(m), func(t *testing.T) {
			requireTool(t, m)
			p := newPair(t)
			ctx := context.Background()
			c := p.connect(t, "198.18.0.2:7")
			l, err := LockNetns(ctx, m, "test-netns-"+string(m), p.server, testLog(t))
			if err != nil {
				t.Fatal(err)
			}
			silent(t, c, "old connection")
			for _, addr := range []string{"198.18.0.2:7", "198.18.0.2:9", "[fd18::2]:7"} {
				if _, err := p.dial(t, addr, time.Second); !isTimeout(err) {
					t.Fatalf("connect %s while locked: %v, want a timeout", addr, err)
				}
			}
			if err := l.Unlock(ctx); err != nil {
				t.Fatal(err)
			}
			if err := l.Unlock(ctx); err != nil {
				t.Fatalf("second Unlock: %v", err)
			}
			if err := crtest.ReadLine(c, "locked", 10*time.Second); err != nil {
				t.Fatalf("old connection after unlock: %v", err)
			}
			n, err := p.dial(t, "[fd18::2]:7", 2*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			if err := crtest.EchoLine(n, "after", 2*time.Second); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// deadTask is a Task that ran and is gone.
func deadTask(t *testing.T) Task {
	cmd := exec.Command("true")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	tk, err := TaskOf(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	return tk
}

// Sweep removes the lock of a criu that died while locking (here: the
// record's owner rewritten to a task that is gone) and the connection
// answers again; a lock whose owner runs, and one that waits for its
// restore (Keep), stay until UnlockDumped.
func TestSweep(t *testing.T) {
	requireTool(t, NFTables)
	p := newPair(t)
	ctx := context.Background()
	c := p.connect(t, "198.18.0.2:7")
	dead, live, kept := &Lock{}, &Lock{}, &Lock{}
	err := nsenter.Do(p.client, nsenter.Net, func() (err error) {
		if dead, err = LockConns(ctx, NFTables, "test-sweep-dead", []Conn{connOf(c)}, testLog(t)); err != nil {
			return err
		}
		if live, err = LockConns(ctx, NFTables, "test-sweep-live", []Conn{connOf(c)}, testLog(t)); err != nil {
			return err
		}
		kept, err = LockConns(ctx, NFTables, "test-sweep-kept", []Conn{connOf(c)}, testLog(t))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	dead.rec.Owner = deadTask(t)
	if err := dead.rec.write(); err != nil {
		t.Fatal(err)
	}
	if err := kept.Keep(); err != nil {
		t.Fatal(err)
	}
	tables := func() string {
		out, err := run(ctx, &Task{Pid: p.client}, nil, "nft", "list", "tables")
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	// A lock of a dead criu of another namespace is that namespace's
	// criu's to sweep; one of a namespace that is gone goes.
	serverNS, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", p.server))
	if err != nil {
		t.Fatal(err)
	}
	other := record{ID: "test-sweep-other", Method: NFTables, Owner: deadTask(t), Here: serverNS, State: stateLocking}
	gone := record{ID: "test-sweep-gone", Method: NFTables, Owner: deadTask(t), Here: "net:[1]", State: stateDumped}
	// A kept lock whose table another tool deleted (CRIU restoring our
	// images) goes; the kept one with its table stays.
	clientNS, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", p.client))
	if err != nil {
		t.Fatal(err)
	}
	lifted := record{ID: "test-sweep-lifted", Method: NFTables, Owner: deadTask(t), Here: clientNS, State: stateDumped}
	for _, r := range []*record{&other, &gone, &lifted} {
		if err := r.write(); err != nil {
			t.Fatal(err)
		}
		defer r.remove()
	}
	nsenter.Do(p.client, nsenter.Net, func() error { Sweep(ctx, testLog(t)); return nil })
	if _, err := os.Stat(other.path()); err != nil {
		t.Errorf("Sweep removed the record of another namespace's lock: %v", err)
	}
	if _, err := os.Stat(gone.path()); !os.IsNotExist(err) {
		t.Errorf("Sweep kept the record of a namespace that is gone: %v", err)
	}
	if _, err := os.Stat(lifted.path()); !os.IsNotExist(err) {
		t.Errorf("Sweep kept the record of a lock whose table is gone: %v", err)
	}
	if _, err := os.Stat(kept.rec.path()); err != nil {
		t.Errorf("Sweep removed the record of a kept lock with its table: %v", err)
	}
	out := tables()
	if strings.Contains(out, "CRIU-test-sweep-dead") || !strings.Contains(out, "CRIU-test-sweep-live") || !strings.Contains(out, "CRIU-test-sweep-kept") {
		t.Fatalf("after Sweep:\n%s", out)
	}
	if err := nsenter.Do(p.client, nsenter.Net, func() error { return live.Unlock(ctx) }); err != nil {
		t.Fatal(err)
	}
	silent(t, c, "kept lock")
	err = nsenter.Do(p.client, nsenter.Net, func() error {
		return UnlockDumped(ctx, NFTables, kept.ID(), testLog(t))
	})
	if err != nil {
		t.Fatal(err)
	}
	if out := tables(); strings.Contains(out, "CRIU-") {
		t.Fatalf("after UnlockDumped:\n%s", out)
	}
	if err := crtest.ReadLine(c, "locked", 10*time.Second); err != nil {
		t.Fatalf("after unlock: %v", err)
	}
	// UnlockDumped of a dump that locked nothing here is no error.
	if err := UnlockDumped(ctx, NFTables, "test-sweep-none", testLog(t)); err != nil {
		t.Fatal(err)
	}
}

func TestParseProcNetTCP(t *testing.T) {
	const in = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 100 1 0000000000000000 100 0 0 10 0
   1: 0100007F:1F90 0100007F:C350 01 00000000:00000000 00:00000000 00000000     0        0 101 1 0000000000000000 20 4 30 10 -1
   2: 0100007F:1F91 0100007F:C351 01 00000000:00000000 00:00000000 00000000     0        0 102 1 0000000000000000 20 4 30 10 -1
   3: 0000000000000000FFFF00000100007F:1F90 0000000000000000FFFF00000200007F:C352 08 00000000:00000000 00:00000000 00000000 0 0 103 1
`
	got, err := ParseProcNetTCP(strings.NewReader(in), map[uint64]bool{100: true, 101: true, 103: true})
	if err != nil {
		t.Fatal(err)
	}
	want := []Conn{
		{netip.MustParseAddrPort("127.0.0.1:8080"), netip.MustParseAddrPort("127.0.0.1:50000")},
		{netip.MustParseAddrPort("[::ffff:127.0.0.1]:8080"), netip.MustParseAddrPort("[::ffff:127.0.0.2]:50002")},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	if u := got[1].unmapped(); !u.Local.Addr().Is4() {
		t.Errorf("unmapped %v", u)
	}
	if _, err := ParseProcNetTCP(strings.NewReader("h\n 0: zz:1 00:0 01 x x x x x 101\n"), map[uint64]bool{101: true}); err == nil {
		t.Error("bad address parsed")
	}
}

func TestParseMethod(t *testing.T) {
	for s, want := range map[string]Method{"": NFTables, "nftables": NFTables, "iptables": IPTables, "skip": Skip} {
		m, err := ParseMethod(s)
		if err != nil || m != want {
			t.Errorf("ParseMethod(%q) = %v, %v", s, m, err)
		}
		v := m.Inventory()
		if FromInventory(&v) != m {
			t.Errorf("%s: inventory %d does not come back", m, v)
		}
	}
	if _, err := ParseMethod("pf"); !errors.Is(err, ErrMethod) {
		t.Errorf("pf: %v", err)
	}
	if FromInventory(nil) != IPTables {
		t.Error("no method in the inventory is not iptables (CRIU's old images)")
	}
}

// FuzzParseProcNetTCP: any input parses or fails, without a panic; what
// parses is an address pair of one family or a mapped one.
func FuzzParseProcNetTCP(f *testing.F) {
	f.Add("h\n 0: 0100007F:1F90 0100007F:C350 01 0 0 0 0 0 101\n")
	f.Add("h\n 0: 0000000000000000FFFF00000100007F:1F90 0000000000000000FFFF00000200007F:C352 08 0 0 0 0 0 101 1\n")
	f.Add("h\n 0: 1:1 2:2 zz 0 0 0 0 0 101\n")
	f.Fuzz(func(t *testing.T, in string) {
		conns, err := ParseProcNetTCP(strings.NewReader(in), map[uint64]bool{101: true})
		if err != nil {
			return
		}
		for _, c := range conns {
			if !c.Local.IsValid() || !c.Remote.IsValid() {
				t.Fatalf("invalid %v", c)
			}
		}
	})
}
