package apps

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The addresses, from 198.18.0.0/15 (reserved for benchmarking): the two
// hosts on the veth pair between them (the image-proxy on A sends to the
// image-cache on B); each host's link to the client host; the client's
// own address; and the service's, which moves with the service from A
// to B.
const (
	hostA     = "198.18.0.1"
	hostB     = "198.18.0.2"
	svcAddr   = "198.18.0.10"
	clientIP  = "198.18.3.1"
	linkA     = "198.18.1.1" // A's end of its link to the client host
	linkAPeer = "198.18.1.2"
	linkB     = "198.18.2.1"
	linkBPeer = "198.18.2.2"
)

// hosts is three network namespaces: hosts A and B joined by a veth
// pair, and a client host C with a link to each. A service starts on A
// with svcAddr; C routes svcAddr to A. After a dump moveAddr gives
// svcAddr to B and C routes it there, as a network does when an address
// moves (routeToB); the clients, on C, keep their address and their
// connections.
type hosts struct {
	a, b, c string // namespace names (ip netns)
}

var hostsSeq atomic.Int32

// newHosts makes the namespaces; t's cleanup deletes them (and with
// them the veths).
func newHosts(t *testing.T) *hosts {
	t.Helper()
	n := hostsSeq.Add(1)
	id := fmt.Sprintf("%d-%d", os.Getpid(), n)
	h := &hosts{a: "apps-a-" + id, b: "apps-b-" + id, c: "apps-c-" + id}
	for _, ns := range []string{h.a, h.b, h.c} {
		ipCmd(t, "netns", "add", ns)
		t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
		// No host forwards (moveAddr counts on A dropping what it gets
		// for svcAddr): a new namespace takes IPv4 forwarding from the
		// machine's, which Podman, LXC or Docker turn on.
		if b, err := exec.Command("ip", "netns", "exec", ns, "sh", "-c", "echo 0 >/proc/sys/net/ipv4/ip_forward").CombinedOutput(); err != nil {
			t.Fatalf("no forwarding in %s: %v\n%s", ns, err, b)
		}
	}
	v := func(s string) string { return fmt.Sprintf("ap%d%s", n, s) }
	for _, s := range [][]string{
		{"link", "add", v("ab"), "netns", h.a, "type", "veth", "peer", "name", v("ba"), "netns", h.b},
		{"link", "add", v("ac"), "netns", h.a, "type", "veth", "peer", "name", v("ca"), "netns", h.c},
		{"link", "add", v("bc"), "netns", h.b, "type", "veth", "peer", "name", v("cb"), "netns", h.c},
		{"-n", h.a, "addr", "add", hostA + "/24", "dev", v("ab")},
		{"-n", h.b, "addr", "add", hostB + "/24", "dev", v("ba")},
		{"-n", h.a, "addr", "add", linkA + "/24", "dev", v("ac")},
		{"-n", h.c, "addr", "add", linkAPeer + "/24", "dev", v("ca")},
		{"-n", h.b, "addr", "add", linkB + "/24", "dev", v("bc")},
		{"-n", h.c, "addr", "add", linkBPeer + "/24", "dev", v("cb")},
		{"-n", h.c, "addr", "add", clientIP + "/32", "dev", "lo"},
		{"-n", h.a, "addr", "add", svcAddr + "/32", "dev", "lo"},
		{"-n", h.a, "link", "set", v("ab"), "up"},
		{"-n", h.a, "link", "set", v("ac"), "up"},
		{"-n", h.b, "link", "set", v("ba"), "up"},
		{"-n", h.b, "link", "set", v("bc"), "up"},
		{"-n", h.c, "link", "set", v("ca"), "up"},
		{"-n", h.c, "link", "set", v("cb"), "up"},
		{"-n", h.a, "link", "set", "lo", "up"},
		{"-n", h.b, "link", "set", "lo", "up"},
		{"-n", h.c, "link", "set", "lo", "up"},
		{"-n", h.a, "route", "add", clientIP + "/32", "via", linkAPeer},
		{"-n", h.b, "route", "add", clientIP + "/32", "via", linkBPeer},
		{"-n", h.c, "route", "add", svcAddr + "/32", "via", linkA},
	} {
		ipCmd(t, s...)
	}
	return h
}

func ipCmd(t *testing.T, args ...string) {
	t.Helper()
	if b, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, b)
	}
}

func nsPath(ns string) string { return filepath.Join("/run/netns", ns) }

// in is the command line that runs argv in network namespace ns (and
// only there: nsenter --net keeps the mount namespace, which `ip netns
// exec` would not).
func in(ns string, argv ...string) []string {
	return append([]string{"nsenter", "--net=" + nsPath(ns), "--"}, argv...)
}

// moveAddr takes svcAddr from A and gives it to B, before the restore
// there (its sockets bind it). The client host still routes it to A,
// which drops what it gets for it (it does not forward), until
// routeToB: so nothing reaches B before its restored sockets do, and
// nothing is answered with a RST.
func (h *hosts) moveAddr(t *testing.T) {
	t.Helper()
	ipCmd(t, "-n", h.a, "addr", "del", svcAddr+"/32", "dev", "lo")
	ipCmd(t, "-n", h.b, "addr", "add", svcAddr+"/32", "dev", "lo")
}

// routeToB makes the client host route svcAddr to B, once the service
// is restored there: the network learns where the address went.
func (h *hosts) routeToB(t *testing.T) {
	t.Helper()
	ipCmd(t, "-n", h.c, "route", "replace", svcAddr+"/32", "via", linkB)
}

// dial connects from the client host (from clientIP) to svcAddr:port.
func (h *hosts) dial(port int) (net.Conn, error) {
	type result struct {
		c   net.Conn
		err error
	}
	ch := make(chan result, 1)
	// The socket is made on a thread switched into A; the thread is
	// switched back, or dies with its goroutine if that fails.
	go func() {
		runtime.LockOSThread()
		back, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			ch <- result{nil, err}
			return
		}
		defer back.Close()
		ns, err := os.Open(nsPath(h.c))
		if err != nil {
			ch <- result{nil, err}
			return
		}
		defer ns.Close()
		if err := unix.Setns(int(ns.Fd()), unix.CLONE_NEWNET); err != nil {
			ch <- result{nil, fmt.Errorf("setns %s: %w", h.c, err)}
			return
		}
		d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(clientIP)}}
		c, err := d.Dial("tcp", net.JoinHostPort(svcAddr, fmt.Sprint(port)))
		if unix.Setns(int(back.Fd()), unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread()
		}
		ch <- result{c, err}
	}()
	r := <-ch
	return r.c, r.err
}

// serverConns lists the TCP sockets of pid's network namespace on
// port that a process holds: neither listeners nor TIME_WAIT.
func serverConns(pid, port int) []string {
	local := fmt.Sprintf(":%04X", port)
	var busy []string
	for _, f := range []string{"tcp", "tcp6"} {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/net/%s", pid, f))
		for _, line := range strings.Split(string(b), "\n")[1:] {
			f := strings.Fields(line)
			// sl local_address rem_address st ...; 0A LISTEN, 06 TIME_WAIT
			if len(f) > 3 && strings.HasSuffix(f[1], local) && f[3] != "0A" && f[3] != "06" {
				busy = append(busy, line)
			}
		}
	}
	return busy
}

// connInode is the inode of the service's socket of the connection
// from the client port cport, from pid's network namespace's
// /proc/net/tcp and tcp6; "" if there is none.
func connInode(pid, cport int) string {
	rem := fmt.Sprintf(":%04X", cport)
	for _, f := range []string{"tcp", "tcp6"} {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/net/%s", pid, f))
		for _, line := range strings.Split(string(b), "\n")[1:] {
			// sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
			if f := strings.Fields(line); len(f) > 9 && strings.HasSuffix(f[2], rem) && f[9] != "0" {
				return f[9]
			}
		}
	}
	return ""
}

// quiet waits until the service pid holds no connection on port.
func quiet(t *testing.T, pid, port int) {
	t.Helper()
	var busy []string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if busy = serverConns(pid, port); len(busy) == 0 {
			return
		}
	}
	t.Fatalf("connections to port %d still open:\n%s", port, strings.Join(busy, "\n"))
}

// daemon is an image-proxy or image-cache started by startDaemon.
type daemon struct {
	cmd *exec.Cmd
	log string
}

// startDaemon starts `criu NAME ARGS...` in network namespace ns and
// waits for the byte it writes on --status-fd when it is ready; t's
// cleanup stops it.
func startDaemon(t *testing.T, ctx context.Context, criu, ns, dir, name string, args ...string) *daemon {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	log := filepath.Join(dir, name+".log")
	argv := in(ns, append([]string{criu, name}, append(args, "--status-fd", "3", "-o", log, "-v4")...)...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.ExtraFiles = []*os.File{w}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	d := &daemon{cmd: cmd, log: log}
	t.Cleanup(func() {
		cmd.Process.Signal(unix.SIGTERM)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	ready := make(chan error, 1)
	go func() {
		b := make([]byte, 1)
		_, err := r.Read(b)
		r.Close()
		ready <- err
	}()
	select {
	case err := <-ready:
		if err != nil {
			b, _ := os.ReadFile(log)
			t.Fatalf("%s did not become ready: %v\n%s", name, err, b)
		}
	case <-time.After(20 * time.Second):
		b, _ := os.ReadFile(log)
		t.Fatalf("%s did not become ready in 20s:\n%s", name, b)
	case <-ctx.Done():
		t.Fatal(ctx.Err())
	}
	return d
}
