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

// The two hosts' addresses, from 198.18.0.0/15 (reserved for
// benchmarking), and the service's own address, which moves with the
// service from host A to host B.
const (
	hostA   = "198.18.0.1"
	hostB   = "198.18.0.2"
	svcAddr = "198.18.0.10"
)

// hosts is a pair of network namespaces, two hosts A and B joined by a
// veth pair. A service starts on A with svcAddr; its clients run on A
// and connect from hostA; after a dump, moveAddr gives svcAddr to B,
// where the service is restored and the clients reach it over the veth.
type hosts struct {
	a, b   string // namespace names (ip netns)
	va, vb string // veth ends in a and b
}

var hostsSeq atomic.Int32

// newHosts makes the namespaces; t's cleanup deletes them.
func newHosts(t *testing.T) *hosts {
	t.Helper()
	n := hostsSeq.Add(1)
	id := fmt.Sprintf("%d-%d", os.Getpid(), n)
	h := &hosts{a: "apps-a-" + id, b: "apps-b-" + id, va: fmt.Sprintf("aa%d", n), vb: fmt.Sprintf("ab%d", n)}
	for _, ns := range []string{h.a, h.b} {
		ipCmd(t, "netns", "add", ns)
		t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	}
	// A veth named like ours may be left in the host by a killed run.
	exec.Command("ip", "link", "del", h.va).Run()
	for _, s := range [][]string{
		{"link", "add", h.va, "netns", h.a, "type", "veth", "peer", "name", h.vb, "netns", h.b},
		{"-n", h.a, "addr", "add", hostA + "/24", "dev", h.va},
		{"-n", h.b, "addr", "add", hostB + "/24", "dev", h.vb},
		{"-n", h.a, "addr", "add", svcAddr + "/32", "dev", h.va},
		{"-n", h.a, "link", "set", h.va, "up"},
		{"-n", h.b, "link", "set", h.vb, "up"},
		{"-n", h.a, "link", "set", "lo", "up"},
		{"-n", h.b, "link", "set", "lo", "up"},
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

// moveAddr takes svcAddr from A and gives it to B: the service's
// address moves with it.
func (h *hosts) moveAddr(t *testing.T) {
	t.Helper()
	ipCmd(t, "-n", h.a, "addr", "del", svcAddr+"/32", "dev", h.va)
	ipCmd(t, "-n", h.b, "addr", "add", svcAddr+"/32", "dev", h.vb)
}

// dial connects from host A (from hostA) to svcAddr:port.
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
		ns, err := os.Open(nsPath(h.a))
		if err != nil {
			ch <- result{nil, err}
			return
		}
		defer ns.Close()
		if err := unix.Setns(int(ns.Fd()), unix.CLONE_NEWNET); err != nil {
			ch <- result{nil, fmt.Errorf("setns %s: %w", h.a, err)}
			return
		}
		d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(hostA)}}
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
