package sockets_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/crtest"
)

// criu42 is the reference CRIU, for the side-by-side figures.
var criu42 = crtest.CRIU42()

// echoServer is testdata/echo.c serving one client, and that client:
// a connection held by the test, outside the dumped tree.
type echoServer struct {
	pid   int
	cmd   *exec.Cmd
	ready string
	c     net.Conn
	rd    *bufio.Reader
}

func startEcho(t *testing.T, family string, extra ...*os.File) *echoServer {
	t.Helper()
	bin := crtest.BuildC(t, filepath.Join(crtest.SourceDir(), "echo.c"), false)
	host := "127.0.0.1"
	if family == "6" {
		host = "::1"
	}
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Skipf("no %s loopback: %v", host, err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	e := &echoServer{ready: filepath.Join(t.TempDir(), "ready")}
	if len(extra) == 0 {
		e.cmd = crtest.Start(t, bin, family, strconv.Itoa(port), e.ready)
	} else {
		e.cmd = exec.Command(bin, family, strconv.Itoa(port), e.ready)
		e.cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		e.cmd.ExtraFiles = extra
		if err := e.cmd.Start(); err != nil {
			t.Fatal(err)
		}
	}
	e.pid = e.cmd.Process.Pid
	t.Cleanup(func() {
		if e.c != nil {
			e.c.Close()
		}
		crtest.Kill(e.pid)
	})
	crtest.WaitFor(t, e.ready, "READY", 10*time.Second)
	if e.c, err = net.Dial("tcp", net.JoinHostPort(host, strconv.Itoa(port))); err != nil {
		t.Fatal(err)
	}
	e.rd = bufio.NewReader(e.c)
	e.roundTrip(t, "hello")
	return e
}

// roundTrip sends a line and wants it back.
func (e *echoServer) roundTrip(t *testing.T, line string) {
	t.Helper()
	if _, err := fmt.Fprintf(e.c, "%s\n", line); err != nil {
		t.Fatalf("send %q: %v", line, err)
	}
	e.want(t, line)
}

func (e *echoServer) want(t *testing.T, line string) {
	t.Helper()
	e.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, err := e.rd.ReadString('\n')
	if err != nil || got != line+"\n" {
		t.Fatalf("read %q, %v; want %q", got, err, line)
	}
}

// hold makes the server stop (or start again) reading: what the client
// sends meanwhile waits in the server's receive queue.
func (e *echoServer) hold(t *testing.T, word string) {
	t.Helper()
	n := crtest.Count(e.ready, word)
	if err := unix.Kill(e.pid, unix.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for crtest.Count(e.ready, word) == n {
		if time.Now().After(deadline) {
			t.Fatalf("the server did not say %s", word)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// migrate dumps the server with criu (a path), kills it, restores it,
// and returns the two times. The client stays connected throughout.
func (e *echoServer) migrate(t *testing.T, criu string, dumpArgs ...string) (dump, restore time.Duration) {
	t.Helper()
	dir := t.TempDir()
	// The client's delayed ACK of the last reply arrives first, so that
	// the queues dumped are settled (between the dump and the restore
	// the network lock drops packets to the port; with --network-lock
	// skip a late ACK would be answered with a RST).
	time.Sleep(200 * time.Millisecond)
	t0 := time.Now()
	out, err := crtest.Run(context.Background(), criu, append([]string{"dump", "-t", strconv.Itoa(e.pid), "-D", dir, "-o", "dump.log", "--tcp-established"}, dumpArgs...)...)
	if err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "dump.log"))
		t.Fatalf("dump: %v\n%s\n%s", err, out, tailLines(log))
	}
	dump = time.Since(t0)
	crtest.Reap(e.pid) // our child, or, restored, our orphan (Subreaper)
	t0 = time.Now()
	if out, err = crtest.Run(context.Background(), criu, "restore", "-D", dir, "-o", "restore.log", "-d", "--tcp-established"); err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "restore.log"))
		t.Fatalf("restore: %v\n%s\n%s", err, out, tailLines(log))
	}
	return dump, time.Since(t0)
}

func tailLines(b []byte) string {
	l := strings.Split(strings.TrimSpace(string(b)), "\n")
	return strings.Join(l[max(0, len(l)-15):], "\n")
}

// TestTCPEstablished: an echo server is dumped with --tcp-established
// while a client outside the tree holds a connection with bytes waiting
// in the server's receive queue, killed, restored: the same client
// connection gets those bytes echoed, once and in order, and goes on.
func TestTCPEstablished(t *testing.T) {
	crtest.RequireRoot(t)
	crtest.Subreaper(t)
	criu := crtest.Criu(t)
	for _, fam := range []string{"4", "6"} {
		t.Run("ipv"+fam, func(t *testing.T) {
			e := startEcho(t, fam)
			e.hold(t, "HOLD")
			if _, err := fmt.Fprintf(e.c, "queued\n"); err != nil {
				t.Fatal(err)
			}
			time.Sleep(200 * time.Millisecond) // acked into the server's receive queue (and see migrate)
			dir := t.TempDir()
			if out, err := crtest.Run(context.Background(), criu, "dump", "-t", strconv.Itoa(e.pid), "-D", dir); err == nil || !strings.Contains(out, "--tcp-established") {
				t.Fatalf("dump without --tcp-established: %v\n%s", err, out)
			}
			if out, err := crtest.Run(context.Background(), criu, "dump", "-t", strconv.Itoa(e.pid), "-D", dir, "--tcp-established"); err != nil {
				t.Fatalf("dump: %v\n%s", err, out)
			}
			crtest.Reap(e.pid)
			if out, err := crtest.Run(context.Background(), criu, "restore", "-D", dir, "-d"); err == nil || !strings.Contains(out, "--tcp-established") {
				t.Fatalf("restore without --tcp-established: %v\n%s", err, out)
			}
			if out, err := crtest.Run(context.Background(), criu, "restore", "-D", dir, "-d", "--tcp-established"); err != nil {
				t.Fatalf("restore: %v\n%s", err, out)
			}
			e.hold(t, "GO")
			e.want(t, "queued")
			e.roundTrip(t, "after restore")
			// And again, from the restored tree.
			e.migrate(t, criu)
			e.roundTrip(t, "after the second restore")
		})
	}
}

// TestTCPEstablishedLeaveRunning: with --leave-running the connection
// leaves repair mode and goes on; so it does after a dump that fails
// once the connection was saved (a file lock held at a higher fd than
// the socket's, without --file-locks).
func TestTCPEstablishedLeaveRunning(t *testing.T) {
	crtest.RequireRoot(t)
	criu := crtest.Criu(t)
	e := startEcho(t, "4")
	dir := t.TempDir()
	if out, err := crtest.Run(context.Background(), criu, "dump", "-t", strconv.Itoa(e.pid), "-D", dir, "--tcp-established", "-R"); err != nil {
		t.Fatalf("dump -R: %v\n%s", err, out)
	}
	e.roundTrip(t, "after dump -R")

	// A flock held at fd 9, after the listener (3) and the connection
	// (4): without --file-locks the dump fails there.
	lk, err := os.Create(filepath.Join(t.TempDir(), "lock"))
	if err != nil {
		t.Fatal(err)
	}
	defer lk.Close()
	if err := unix.Flock(int(lk.Fd()), unix.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	f := startEcho(t, "4", nil, nil, nil, nil, nil, nil, lk) // fds 3-8 free
	if l, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/4", f.pid)); !strings.HasPrefix(l, "socket:") {
		t.Fatalf("the server's fd 4 is %q, not its connection", l)
	}
	out, err := crtest.Run(context.Background(), criu, "dump", "-t", strconv.Itoa(f.pid), "-D", t.TempDir(), "--tcp-established")
	if err == nil {
		t.Fatalf("dump with a lock held succeeded:\n%s", out)
	}
	if !strings.Contains(out, "lock") {
		t.Fatalf("dump failed otherwise than on the lock: %v\n%s", err, out)
	}
	f.roundTrip(t, "after a failed dump")
}

// TestTCPEstablishedVsCRIU42 times the echo server's migration with
// this criu and with CRIU 4.2, in the same run, on the same scenario.
func TestTCPEstablishedVsCRIU42(t *testing.T) {
	crtest.RequireRoot(t)
	crtest.Subreaper(t)
	if _, err := os.Stat(criu42); err != nil {
		t.Skipf("no CRIU 4.2: %v", err)
	}
	for _, c := range []struct{ name, bin string }{{"criugo", crtest.Criu(t)}, {"criu-4.2", criu42}} {
		t.Run(c.name, func(t *testing.T) {
			const rounds = 3
			var d, r time.Duration
			e := startEcho(t, "4")
			for i := range rounds {
				dd, rr := e.migrate(t, c.bin)
				d, r = d+dd, r+rr
				e.roundTrip(t, fmt.Sprintf("round %d", i))
			}
			t.Logf("%s: echo server with a client connected: dump %v, restore %v (mean of %d)", c.name, d/rounds, r/rounds, rounds)
		})
	}
}

// TestTCPCloseAndSkipInFlight: a connection not accepted yet fails the
// dump unless --skip-in-flight drops it; restored with --tcp-close, the
// established connection is closed both ways, as CRIU 4.2 makes it: the
// server's next read gets end of file.
func TestTCPCloseAndSkipInFlight(t *testing.T) {
	crtest.RequireRoot(t)
	crtest.Subreaper(t)
	criu := crtest.Criu(t)
	e := startEcho(t, "4")
	// A second client, which the server never accepts.
	c2, err := net.Dial("tcp", e.c.RemoteAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	dir := t.TempDir()
	out, err := crtest.Run(context.Background(), criu, "dump", "-t", strconv.Itoa(e.pid), "-D", dir, "--tcp-established")
	if err == nil || !strings.Contains(out, "--skip-in-flight") {
		t.Fatalf("dump with a connection not accepted: %v\n%s", err, out)
	}
	e.roundTrip(t, "after the refused dump")
	time.Sleep(200 * time.Millisecond) // the client's delayed ACK (see migrate)
	if out, err := crtest.Run(context.Background(), criu, "dump", "-t", strconv.Itoa(e.pid), "-D", dir, "--tcp-established", "--tcp-skip-in-flight"); err != nil {
		t.Fatalf("dump --tcp-skip-in-flight: %v\n%s", err, out)
	}
	crtest.Reap(e.pid)
	if out, err := crtest.Run(context.Background(), criu, "restore", "-D", dir, "-d", "--tcp-close"); err != nil {
		t.Fatalf("restore --tcp-close: %v\n%s", err, out)
	}
	crtest.WaitFor(t, e.ready, "EOF", 10*time.Second)
}

// TestTCPHalfClosed: a connection its client shut down for writing
// (CLOSE_WAIT on the server), with a line the server has not read yet,
// goes through dump and restore: the restored server reads the line,
// echoes it (it may still write), then reads the client's EOF, and the
// client gets the line and then EOF.
func TestTCPHalfClosed(t *testing.T) {
	crtest.RequireRoot(t)
	criu := crtest.Criu(t)
	for _, fam := range []string{"4", "6"} {
		t.Run("ipv"+fam, func(t *testing.T) {
			e := startEcho(t, fam)
			e.hold(t, "HOLD")
			if _, err := fmt.Fprintf(e.c, "tail\n"); err != nil {
				t.Fatal(err)
			}
			if err := e.c.(*net.TCPConn).CloseWrite(); err != nil {
				t.Fatal(err)
			}
			e.migrate(t, criu)
			e.hold(t, "GO")
			e.want(t, "tail")
			e.c.SetReadDeadline(time.Now().Add(10 * time.Second))
			if b, err := e.rd.ReadByte(); err != io.EOF {
				t.Fatalf("after the tail: %q, %v; want EOF", b, err)
			}
		})
	}
}

// TestTCPUnackedSendQueue: the server's reply is sent but never acked
// (an nft rule drops what reaches the client's port), so it waits in
// the server's send queue as sent data when the server is dumped. After
// the restore, once the rule is gone, the restored server retransmits
// it: the client reads it once, and the connection goes on.
func TestTCPUnackedSendQueue(t *testing.T) {
	crtest.RequireRoot(t)
	crtest.Subreaper(t)
	criu := crtest.Criu(t)
	if _, err := exec.LookPath("nft"); err != nil {
		t.Skip("no nft")
	}
	for _, fam := range []string{"4", "6"} {
		t.Run("ipv"+fam, func(t *testing.T) {
			e := startEcho(t, fam)
			port := e.c.LocalAddr().(*net.TCPAddr).Port
			table := fmt.Sprintf("inet criugo-test-unacked-%d", port)
			drop := func(on bool) {
				t.Helper()
				script := fmt.Sprintf("delete table %s\n", table)
				if on {
					script = fmt.Sprintf("add table %s\nadd chain %s out { type filter hook output priority 0; }\nadd rule %s out tcp dport %d drop\n", table, table, table, port)
				}
				cmd := exec.Command("nft", "-f", "-")
				cmd.Stdin = strings.NewReader(script)
				if out, err := cmd.CombinedOutput(); err != nil {
					t.Fatalf("nft: %v\n%s", err, out)
				}
			}
			drop(true)
			dropped := true
			t.Cleanup(func() {
				if dropped {
					drop(false)
				}
			})
			if _, err := fmt.Fprintf(e.c, "unacked\n"); err != nil {
				t.Fatal(err)
			}
			server := e.c.RemoteAddr().(*net.TCPAddr).Port
			deadline := time.Now().Add(5 * time.Second)
			for sendQueue(t, fam, server, port) == 0 {
				if time.Now().After(deadline) {
					t.Fatal("the server's reply is not in its send queue")
				}
				time.Sleep(10 * time.Millisecond)
			}
			e.migrate(t, criu)
			if n := sendQueue(t, fam, server, port); n != len("unacked\n") {
				t.Errorf("restored send queue: %d bytes, want %d", n, len("unacked\n"))
			}
			drop(false)
			dropped = false
			e.want(t, "unacked")
			e.roundTrip(t, "after restore")
		})
	}
}

// sendQueue is the tx_queue of the connection from local port lp to
// remote port rp, from /proc/net/tcp{,6}.
func sendQueue(t *testing.T, fam string, lp, rp int) int {
	t.Helper()
	name := "/proc/net/tcp"
	if fam == "6" {
		name += "6"
	}
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n")[1:] {
		f := strings.Fields(l)
		if len(f) < 5 || !strings.HasSuffix(f[1], fmt.Sprintf(":%04X", lp)) || !strings.HasSuffix(f[2], fmt.Sprintf(":%04X", rp)) {
			continue
		}
		tx, _, _ := strings.Cut(f[4], ":")
		n, err := strconv.ParseInt(tx, 16, 64)
		if err != nil {
			t.Fatalf("%s: %q", name, l)
		}
		return int(n)
	}
	t.Fatalf("%s: no connection %d -> %d", name, lp, rp)
	return 0
}
