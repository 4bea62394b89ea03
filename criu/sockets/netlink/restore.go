package netlink

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/proto/images"
)

// Open makes, in the restorer and the tree's network namespace, the
// netlink socket e describes: bound with its port id and groups,
// connected to its peer. The caller sets the SOL_SOCKET options and the
// file status flags, and closes fd if it fails after Open.
func Open(e *images.NetlinkSkEntry) (fd int, err error) {
	fd, err = unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, int(e.GetProtocol()))
	if err != nil {
		return -1, os.NewSyscallError("socket(AF_NETLINK)", err)
	}
	defer func() {
		if err != nil {
			unix.Close(fd)
			fd = -1
		}
	}()
	g := e.GetGroups()
	var first uint32
	if len(g) > 0 {
		first = g[0]
	}
	if e.GetPortid() != 0 || first != 0 {
		if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Pid: e.GetPortid(), Groups: first}); err != nil {
			return fd, fmt.Errorf("bind to port id %d groups %#x: %w", e.GetPortid(), first, os.NewSyscallError("bind", err))
		}
	}
	for i := 1; i < len(g); i++ {
		for b := range 32 {
			if g[i]&(1<<b) == 0 {
				continue
			}
			group := 32*i + b + 1
			if err := unix.SetsockoptInt(fd, unix.SOL_NETLINK, unix.NETLINK_ADD_MEMBERSHIP, group); err != nil {
				return fd, fmt.Errorf("join group %d: %w", group, os.NewSyscallError("setsockopt(NETLINK_ADD_MEMBERSHIP)", err))
			}
		}
	}
	if e.GetDstPortid() != 0 || e.GetDstGroup() != 0 {
		if err := unix.Connect(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Pid: e.GetDstPortid(), Groups: e.GetDstGroup()}); err != nil {
			return fd, os.NewSyscallError("connect", err)
		}
	}
	return fd, nil
}
