package restore_test

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/crtest"
)

// mptcpListen listens with MPTCP on loopback (as Go ≥ 1.24's net.Listen
// does), or skips the test on a kernel without MPTCP.
func mptcpListen(t *testing.T) *net.TCPListener {
	t.Helper()
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, unix.IPPROTO_MPTCP)
	if errors.Is(err, unix.EPROTONOSUPPORT) || errors.Is(err, unix.ENOPROTOOPT) {
		t.Skipf("no MPTCP in this kernel: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	unix.Close(fd)
	var lc net.ListenConfig
	lc.SetMultipathTCP(true)
	l, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l.(*net.TCPListener)
}

func listenerFile(t *testing.T, l *net.TCPListener) *os.File {
	t.Helper()
	f, err := l.File()
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// A TCP or MPTCP listener with a connection not yet accepted (its client
// outside the tree) fails the dump by name, unless --skip-in-flight; an
// established MPTCP connection fails it by name (no repair mode for
// MPTCP). The task runs on.
func TestDumpInFlightAndMPTCPConnection(t *testing.T) {
	setup(t)
	bin := crtest.BuildC(t, filepath.Join(crtest.SourceDir(), "counter.c"), false)
	pending := func(t *testing.T, l net.Listener) {
		c, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
	}
	// A plain TCP listener with one connection waiting.
	tcpPending := func(t *testing.T) *os.File {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		pending(t, l)
		return listenerFile(t, l.(*net.TCPListener))
	}
	cases := []struct {
		name  string
		file  func(t *testing.T) *os.File
		flags []string
		want  string // "" if the dump succeeds
	}{
		{"tcp", tcpPending, nil, "1 connection(s) not yet accepted"},
		{"tcp-skip", tcpPending, []string{"--skip-in-flight"}, ""},
		{"mptcp", func(t *testing.T) *os.File {
			l := mptcpListen(t)
			pending(t, l)
			pending(t, l)
			return listenerFile(t, l)
		}, nil, "2 connection(s) not yet accepted"},
		{"mptcp-established", func(t *testing.T) *os.File {
			l := mptcpListen(t)
			var d net.Dialer
			d.SetMultipathTCP(true)
			c, err := d.Dial("tcp", l.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.Close() })
			s, err := l.AcceptTCP()
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if ok, err := s.MultipathTCP(); err != nil || !ok {
				t.Skipf("the connection fell back to TCP: %v", err)
			}
			f, err := s.File()
			if err != nil {
				t.Fatal(err)
			}
			return f
		}, nil, "MPTCP connection 127.0.0.1:"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			f := tc.file(t)
			pid, out := startCounterWith(t, bin, dir, f)
			f.Close()
			args := append([]string{"dump", "-R", "-t", strconv.Itoa(pid), "-D", dir}, tc.flags...)
			res, err := crtest.Run(context.Background(), crtest.Criu(t), args...)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("dump: %v, output %q", err, res)
			case tc.want != "" && (err == nil || !strings.Contains(res, "fd 3 (socket:[") || !strings.Contains(res, tc.want)):
				t.Fatalf("dump: err %v, output %q, want %q", err, res, tc.want)
			}
			checkStillRuns(t, pid, out)
		})
	}
}
