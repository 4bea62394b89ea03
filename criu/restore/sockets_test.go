package restore_test

import (
	"context"
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

// unixListener returns a listening UNIX socket of type typ on a fresh
// abstract name, and that name.
func unixListener(t *testing.T, typ int) (int, *unix.SockaddrUnix) {
	t.Helper()
	l, err := unix.Socket(unix.AF_UNIX, typ|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	sa := &unix.SockaddrUnix{Name: "@criu-sockets-test." + strconv.Itoa(os.Getpid()) + "." + strconv.FormatInt(time.Now().UnixNano(), 36)}
	if err := unix.Bind(l, sa); err != nil {
		t.Fatal(err)
	}
	if err := unix.Listen(l, 4); err != nil {
		t.Fatal(err)
	}
	return l, sa
}

// noInheritedFds marks every fd above 2 close-on-exec (as crtest.Start
// does): an fd the test binary inherited would reach the workload.
func noInheritedFds() {
	ents, _ := os.ReadDir("/proc/self/fd")
	for _, e := range ents {
		if fd, err := strconv.Atoi(e.Name()); err == nil && fd > 2 {
			unix.CloseOnExec(fd)
		}
	}
}

func dial(t *testing.T, sa *unix.SockaddrUnix) int {
	t.Helper()
	c, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Connect(c, sa); err != nil {
		t.Fatal(err)
	}
	return c
}

// Sockets whose state restore could not make again fail the dump,
// naming the socket and what about it; the task runs on.
func TestDumpSocketRefused(t *testing.T) {
	setup(t)
	bin := crtest.BuildC(t, filepath.Join(crtest.SourceDir(), "counter.c"), false)
	cases := []struct {
		name  string
		files func(t *testing.T) []int // given to the task as fds 3, 4...
		want  string
	}{
		// sk-unix-listen02: the client sent data the listener's side
		// has not read (CRIU 4.2 refuses it too).
		{"inflight-data", func(t *testing.T) []int {
			l, sa := unixListener(t, unix.SOCK_STREAM)
			c := dial(t, sa)
			if _, err := unix.Write(c, []byte("packet")); err != nil {
				t.Fatal(err)
			}
			return []int{l, c}
		}, "data sent on a connection not yet accepted"},
		// sk-unix-listen03: the client closed before the accept.
		{"inflight-closed", func(t *testing.T) []int {
			l, sa := unixListener(t, unix.SOCK_STREAM)
			unix.Close(dial(t, sa))
			return []int{l}
		}, "a connection not yet accepted whose client has closed"},
		// Two connections waiting, the later one at the lower fd: restore
		// connects in fd (file id) order, which would swap them.
		{"inflight-order", func(t *testing.T) []int {
			l, sa := unixListener(t, unix.SOCK_STREAM)
			first := dial(t, sa)
			return []int{l, dial(t, sa), first}
		}, "connections not yet accepted in an order restore cannot keep"},
		// sockets03: shut down for writing before connecting; the
		// accepted end is not shut down for reading, which a pair shut
		// down at restore would be.
		{"shutdown-before-connect", func(t *testing.T) []int {
			l, sa := unixListener(t, unix.SOCK_STREAM)
			c, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
			if err != nil {
				t.Fatal(err)
			}
			if err := unix.Shutdown(c, unix.SHUT_WR); err != nil {
				t.Fatal(err)
			}
			if err := unix.Connect(c, sa); err != nil {
				t.Fatal(err)
			}
			a, _, err := unix.Accept4(l, unix.SOCK_CLOEXEC)
			if err != nil {
				t.Fatal(err)
			}
			unix.Close(l)
			return []int{c, a}
		}, "shut down for writing before it connected: its peer socket:["},
		// A connection waiting on a listener outside the tree.
		{"inflight-outside", func(t *testing.T) []int {
			l, sa := unixListener(t, unix.SOCK_STREAM)
			t.Cleanup(func() { unix.Close(l) })
			return []int{dial(t, sa)}
		}, "its connection not yet accepted by socket:["},
		// The peer closed with data unread: the survivor has ECONNRESET
		// pending, which restore cannot set again.
		{"reset", func(t *testing.T) []int {
			p, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := unix.Write(p[0], []byte("unread")); err != nil {
				t.Fatal(err)
			}
			unix.Close(p[1])
			return []int{p[0]}
		}, "it has a pending error"},
		// A datagram whose sender closed and left its socket file: restore
		// could not bind a socket to that name to send it again.
		{"dgram-sender-file", func(t *testing.T) []int {
			dir := t.TempDir()
			srv, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
			if err != nil {
				t.Fatal(err)
			}
			to := &unix.SockaddrUnix{Name: filepath.Join(dir, "srv")}
			if err := unix.Bind(srv, to); err != nil {
				t.Fatal(err)
			}
			c, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
			if err != nil {
				t.Fatal(err)
			}
			if err := unix.Bind(c, &unix.SockaddrUnix{Name: filepath.Join(dir, "gone")}); err != nil {
				t.Fatal(err)
			}
			if err := unix.Sendto(c, []byte("hi"), 0, to); err != nil {
				t.Fatal(err)
			}
			unix.Close(c)
			return []int{srv}
		}, "a name held by a file (its closed sender left it), which restore cannot send from"},
		// A message queued on a socket with SO_PASSCRED carries its
		// sender's credentials: sent again at restore it would carry the
		// restorer's.
		{"passcred-queue", func(t *testing.T) []int {
			p, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
			if err != nil {
				t.Fatal(err)
			}
			if err := unix.SetsockoptInt(p[0], unix.SOL_SOCKET, unix.SO_PASSCRED, 1); err != nil {
				t.Fatal(err)
			}
			if _, err := unix.Write(p[1], []byte("who")); err != nil {
				t.Fatal(err)
			}
			return p[:]
		}, "queued messages carry their sender's credentials (SO_PASSCRED)"},
		// An eBPF filter: SO_GET_FILTER cannot give its program back.
		{"ebpf-filter", func(t *testing.T) []int {
			return []int{ebpfFilteredSocket(t)}
		}, "an eBPF socket filter (SO_ATTACH_BPF) is attached, whose program cannot be read back"},
		// Options the images have no field for (sockopts.go's audit).
		{"tcp-user-timeout", func(t *testing.T) []int {
			l, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
			if err != nil {
				t.Fatal(err)
			}
			if err := unix.SetsockoptInt(l, unix.IPPROTO_TCP, unix.TCP_USER_TIMEOUT, 5000); err != nil {
				t.Fatal(err)
			}
			if err := unix.Bind(l, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
				t.Fatal(err)
			}
			if err := unix.Listen(l, 4); err != nil {
				t.Fatal(err)
			}
			return []int{l}
		}, "socket option TCP_USER_TIMEOUT is 5000 (a new socket's is 0), which the images cannot hold"},
		// socket-tcp-reseted: a client reset by its server (SO_LINGER 0),
		// its ECONNRESET not read yet: SO_ERROR would clear it, and no
		// image holds it.
		{"tcp-reset-error", func(t *testing.T) []int {
			l, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer unix.Close(l)
			if err := unix.Bind(l, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
				t.Fatal(err)
			}
			if err := unix.Listen(l, 4); err != nil {
				t.Fatal(err)
			}
			sa, err := unix.Getsockname(l)
			if err != nil {
				t.Fatal(err)
			}
			c, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
			if err != nil {
				t.Fatal(err)
			}
			if err := unix.Connect(c, sa); err != nil {
				t.Fatal(err)
			}
			a, _, err := unix.Accept4(l, unix.SOCK_CLOEXEC)
			if err != nil {
				t.Fatal(err)
			}
			if err := unix.SetsockoptLinger(a, unix.SOL_SOCKET, unix.SO_LINGER, &unix.Linger{Onoff: 1}); err != nil {
				t.Fatal(err)
			}
			unix.Close(a)
			for i := 0; ; i++ {
				ti, err := unix.GetsockoptTCPInfo(c, unix.IPPROTO_TCP, unix.TCP_INFO)
				if err == nil && ti.State == 7 { // TCP_CLOSE
					break
				}
				if i == 500 {
					t.Fatalf("the connection was not reset: %v, %v", ti, err)
				}
				time.Sleep(10 * time.Millisecond)
			}
			return []int{c}
		}, "a socket with an error not yet reported to its task"},
		// A connected UDP socket whose datagram met a closed port: the
		// ICMP port unreachable left ECONNREFUSED, not read yet.
		{"udp-refused-error", func(t *testing.T) []int {
			l, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
			if err != nil {
				t.Fatal(err)
			}
			if err := unix.Bind(l, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
				t.Fatal(err)
			}
			closed, _ := unix.Getsockname(l)
			unix.Close(l) // its port is closed now
			c, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
			if err != nil {
				t.Fatal(err)
			}
			if err := unix.Connect(c, closed); err != nil {
				t.Fatal(err)
			}
			if _, err := unix.Write(c, []byte("x")); err != nil {
				t.Fatal(err)
			}
			for i := 0; ; i++ {
				p := []unix.PollFd{{Fd: int32(c)}}
				if n, _ := unix.Poll(p, 10); n == 1 && p[0].Revents&unix.POLLERR != 0 {
					break
				}
				if i == 500 {
					t.Fatal("no error came back")
				}
			}
			return []int{c}
		}, "a socket with an error not yet reported to its task"},
		{"peek-off", func(t *testing.T) []int {
			p, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
			if err != nil {
				t.Fatal(err)
			}
			if err := unix.SetsockoptInt(p[0], unix.SOL_SOCKET, unix.SO_PEEK_OFF, 3); err != nil {
				t.Fatal(err)
			}
			return p[:]
		}, "socket option SO_PEEK_OFF is 3 (a new socket's is -1)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			noInheritedFds()
			var files []*os.File
			for _, fd := range tc.files(t) {
				files = append(files, os.NewFile(uintptr(fd), "sk"))
			}
			pid, out := startCounterWith(t, bin, dir, files...)
			for _, f := range files {
				f.Close()
			}
			res, err := crtest.Run(context.Background(), crtest.Criu(t), "dump", "-t", strconv.Itoa(pid), "-D", dir)
			if err == nil || !strings.Contains(res, "(socket:[") || !strings.Contains(res, tc.want) {
				t.Fatalf("dump: err %v, output %q", err, res)
			}
			checkStillRuns(t, pid, out)
		})
	}
}

// --ext-unix-sk: a datagram socket connected to a named socket outside
// the tree (a syslog-like server) is dumped with it (refused without it),
// and restored connected to that name again.
func TestExtUnixSk(t *testing.T) {
	setup(t)
	bin := crtest.BuildC(t, filepath.Join(crtest.SourceDir(), "extunix.c"), false)
	dir := t.TempDir()
	srv, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(srv)
	name := &unix.SockaddrUnix{Name: filepath.Join(dir, "log")}
	if err := unix.Bind(srv, name); err != nil {
		t.Fatal(err)
	}
	c, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Connect(c, name); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out.txt")
	noInheritedFds()
	cmd := exec.Command(bin, out)
	cmd.ExtraFiles = []*os.File{os.NewFile(uintptr(c), "sk")}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	err = cmd.Start()
	cmd.ExtraFiles[0].Close()
	if err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	defer crtest.Kill(pid)
	crtest.WaitFor(t, out, "ready\n", 5*time.Second)
	recv := func(want string) {
		t.Helper()
		b := make([]byte, 64)
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			n, _, err := unix.Recvfrom(srv, b, unix.MSG_DONTWAIT)
			if err == nil {
				if string(b[:n]) != want {
					t.Fatalf("the server got %q, want %q", b[:n], want)
				}
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("the server got nothing: %v", err)
			}
		}
	}
	syscall.Kill(pid, syscall.SIGUSR1)
	recv("ping 0")

	criu, ctx := crtest.Criu(t), context.Background()
	img := filepath.Join(dir, "img")
	os.Mkdir(img, 0o700)
	res, err := crtest.Run(ctx, criu, "dump", "-t", strconv.Itoa(pid), "-D", img)
	if err == nil || !strings.Contains(res, "reaches outside the dumped tree (dump with --ext-unix-sk") {
		t.Fatalf("dump without --ext-unix-sk: err %v, output %q", err, res)
	}
	if !crtest.Alive(pid) {
		t.Fatal("a refused dump killed the task")
	}
	if res, err := crtest.Run(ctx, criu, "dump", "-t", strconv.Itoa(pid), "-D", img, "--ext-unix-sk"); err != nil {
		t.Fatalf("dump --ext-unix-sk: %v\n%s", err, res)
	}
	cmd.Wait()
	// As CRIU 4.2, restore needs no --ext-unix-sk (it accepts it).
	if res, err := crtest.Run(ctx, criu, "restore", "-D", img, "-d", "--ext-unix-sk"); err != nil {
		t.Fatalf("restore --ext-unix-sk: %v\n%s", err, res)
	}
	syscall.Kill(pid, syscall.SIGUSR1)
	recv("ping 1")
}

// --ext-unix-sk=INO and --inherit-fd fd[N]:socket:[INO] (CRIU's way for a
// connection to a peer outside the tree): the stream socket named by its
// inode is dumped, and restore gives the task criu's fd N in its place;
// without the inode at dump, or the fd at restore, each is refused.
func TestExtUnixSkInheritFd(t *testing.T) {
	setup(t)
	bin := crtest.BuildC(t, filepath.Join(crtest.SourceDir(), "extunix.c"), false)
	dir := t.TempDir()
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(pair[1])
	var st unix.Stat_t
	if err := unix.Fstat(pair[0], &st); err != nil {
		t.Fatal(err)
	}
	ino := strconv.FormatUint(st.Ino, 10)
	out := filepath.Join(dir, "out.txt")
	noInheritedFds()
	cmd := exec.Command(bin, out)
	cmd.ExtraFiles = []*os.File{os.NewFile(uintptr(pair[0]), "sk")}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	err = cmd.Start()
	cmd.ExtraFiles[0].Close()
	if err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	defer crtest.Kill(pid)
	crtest.WaitFor(t, out, "ready\n", 5*time.Second)
	read := func(fd int, want string) {
		t.Helper()
		b := make([]byte, 64)
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			n, err := unix.Read(fd, b)
			if n > 0 {
				if string(b[:n]) != want {
					t.Fatalf("got %q, want %q", b[:n], want)
				}
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("nothing came: %v", err)
			}
		}
	}
	unix.SetNonblock(pair[1], true)
	syscall.Kill(pid, syscall.SIGUSR1)
	read(pair[1], "ping 0")

	criu, ctx := crtest.Criu(t), context.Background()
	img := filepath.Join(dir, "img")
	os.Mkdir(img, 0o700)
	res, err := crtest.Run(ctx, criu, "dump", "-t", strconv.Itoa(pid), "-D", img, "--ext-unix-sk")
	if err == nil || !strings.Contains(res, "dump with --ext-unix-sk="+ino+" and give it at restore with --inherit-fd fd[N]:socket:["+ino+"]") {
		t.Fatalf("dump with --ext-unix-sk alone: err %v, output %q", err, res)
	}
	if res, err := crtest.Run(ctx, criu, "dump", "-t", strconv.Itoa(pid), "-D", img, "--ext-unix-sk="+ino); err != nil {
		t.Fatalf("dump --ext-unix-sk=%s: %v\n%s", ino, err, res)
	}
	cmd.Wait()
	res, err = crtest.Run(ctx, criu, "restore", "-D", img, "-d")
	if err == nil || !strings.Contains(res, "give it with --inherit-fd fd[N]:socket:["+ino+"]") {
		t.Fatalf("restore without --inherit-fd: err %v, output %q", err, res)
	}
	if crtest.Alive(pid) {
		t.Fatal("a failed restore left the task")
	}
	// A new connection for the task: criu's fd 3 is one end of it.
	np, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(np[1])
	rc := exec.CommandContext(ctx, criu, "restore", "-D", img, "-d", "--inherit-fd", "fd[3]:socket:["+ino+"]")
	rc.ExtraFiles = []*os.File{os.NewFile(uintptr(np[0]), "new")}
	b, err := rc.CombinedOutput()
	rc.ExtraFiles[0].Close()
	if err != nil {
		t.Fatalf("restore --inherit-fd: %v\n%s", err, b)
	}
	unix.SetNonblock(np[1], true)
	syscall.Kill(pid, syscall.SIGUSR1)
	read(np[1], "ping 1")
}
