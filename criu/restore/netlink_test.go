package restore_test

import (
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/crtest"
)

// A netlink socket with a reply not read yet, or with a NETLINK_* option
// the images have no field for, fails the dump by name; the task runs on.
func TestDumpNetlinkRefused(t *testing.T) {
	setup(t)
	bin := crtest.BuildC(t, filepath.Join(crtest.SourceDir(), "counter.c"), false)
	route := func(t *testing.T) int {
		fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
		if err != nil {
			t.Fatal(err)
		}
		if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
			t.Fatal(err)
		}
		return fd
	}
	cases := []struct {
		name string
		fd   func(t *testing.T) int
		want string
	}{
		{"queued", func(t *testing.T) int {
			fd := route(t)
			// RTM_GETLINK for lo: its answer waits, unread.
			req := make([]byte, unix.NLMSG_HDRLEN+unix.SizeofIfInfomsg)
			le := binary.LittleEndian
			le.PutUint32(req, uint32(len(req)))
			le.PutUint16(req[4:], unix.RTM_GETLINK)
			le.PutUint16(req[6:], unix.NLM_F_REQUEST)
			le.PutUint32(req[unix.NLMSG_HDRLEN+4:], 1) // ifi_index
			if err := unix.Sendto(fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
				t.Fatal(err)
			}
			return fd
		}, "messages not read yet"},
		{"ext-ack", func(t *testing.T) int {
			fd := route(t)
			if err := unix.SetsockoptInt(fd, unix.SOL_NETLINK, unix.NETLINK_EXT_ACK, 1); err != nil {
				t.Fatal(err)
			}
			return fd
		}, "NETLINK_EXT_ACK is set"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			f := os.NewFile(uintptr(tc.fd(t)), "nl")
			pid, out := startCounterWith(t, bin, dir, f)
			f.Close()
			res, err := crtest.Run(context.Background(), crtest.Criu(t), "dump", "-R", "-t", strconv.Itoa(pid), "-D", dir)
			if err == nil || !strings.Contains(res, "fd 3 (socket:[") || !strings.Contains(res, tc.want) {
				t.Fatalf("dump: err %v, output %q, want %q", err, res, tc.want)
			}
			checkStillRuns(t, pid, out)
		})
	}
}
