package netlink

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"

	"github.com/criugo/criu/criu/errdefs"
	"github.com/criugo/criu/internal/linux"
	"github.com/criugo/criu/proto/images"
)

// maxGroupWords caps the group bitmap read (32 words: 1024 groups; the
// most a family registers is far less).
const maxGroupWords = 32

// The sk_state of a netlink socket as CRIU writes it (from
// netlink_diag): NETLINK_CONNECTED, or TCP_CLOSE for a bound socket not
// connected; an unbound one, which netlink_diag does not list, is 0.
const (
	stateConnected = 1
	stateClose     = 7
)

// unsavedOpts are the SOL_NETLINK options CRIU's entry has no field for;
// each reads 0 on a new socket, so one set fails the dump.
var unsavedOpts = []struct {
	opt  int
	name string
}{
	{unix.NETLINK_PKTINFO, "NETLINK_PKTINFO"},
	{unix.NETLINK_BROADCAST_ERROR, "NETLINK_BROADCAST_ERROR"},
	{unix.NETLINK_NO_ENOBUFS, "NETLINK_NO_ENOBUFS"},
	{unix.NETLINK_LISTEN_ALL_NSID, "NETLINK_LISTEN_ALL_NSID"},
	{unix.NETLINK_CAP_ACK, "NETLINK_CAP_ACK"},
	{unix.NETLINK_EXT_ACK, "NETLINK_EXT_ACK"},
	{unix.NETLINK_GET_STRICT_CHK, "NETLINK_GET_STRICT_CHK"},
}

// Dump reads the netlink socket fd (a copy of the task's): every field
// of its entry but id, ino, flags, fown and opts, which the caller
// fills. It refuses what Open could not make again (the package doc).
func Dump(fd int) (*images.NetlinkSkEntry, error) {
	typ, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TYPE)
	if err != nil {
		return nil, os.NewSyscallError("getsockopt(SO_TYPE)", err)
	}
	protocol, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_PROTOCOL)
	if err != nil {
		return nil, os.NewSyscallError("getsockopt(SO_PROTOCOL)", err)
	}
	if typ != unix.SOCK_RAW {
		return nil, fmt.Errorf("%w: netlink socket of type %d (CRIU's images make SOCK_RAW)", errdefs.ErrUnsupported, typ)
	}
	for _, o := range unsavedOpts {
		if v, err := unix.GetsockoptInt(fd, unix.SOL_NETLINK, o.opt); err == nil && v != 0 {
			return nil, fmt.Errorf("%w: netlink socket option %s is set, which the images cannot hold", errdefs.ErrUnsupported, o.name)
		}
	}
	p := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	if _, err := linux.Poll(p, 0); err != nil {
		return nil, err
	}
	switch {
	case p[0].Revents&unix.POLLERR != 0:
		return nil, fmt.Errorf("%w: a netlink socket with a pending error (a lost message: ENOBUFS)", errdefs.ErrUnsupported)
	case p[0].Revents&unix.POLLIN != 0:
		return nil, fmt.Errorf("%w: a netlink socket with messages not read yet", errdefs.ErrUnsupported)
	}
	e := &images.NetlinkSkEntry{Protocol: proto.Uint32(uint32(protocol)), State: proto.Uint32(0)}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return nil, os.NewSyscallError("getsockname", err)
	}
	nl, ok := sa.(*unix.SockaddrNetlink)
	if !ok {
		return nil, fmt.Errorf("getsockname: %T, not a netlink address", sa)
	}
	e.Portid = proto.Uint32(nl.Pid)
	if e.Groups, err = groups(fd, nl.Groups); err != nil {
		return nil, err
	}
	peer, err := unix.Getpeername(fd)
	if err != nil {
		return nil, os.NewSyscallError("getpeername", err)
	}
	dst, _ := peer.(*unix.SockaddrNetlink)
	if dst == nil {
		dst = &unix.SockaddrNetlink{}
	}
	e.DstPortid, e.DstGroup = proto.Uint32(dst.Pid), proto.Uint32(dst.Groups)
	switch {
	case dst.Pid != 0 || dst.Groups != 0:
		e.State = proto.Uint32(stateConnected)
	case nl.Pid != 0:
		e.State = proto.Uint32(stateClose)
	}
	return e, nil
}

// groups returns the groups fd joined as a bitmap of u32 words without
// trailing zero words; first is the bitmap of the first 32
// (getsockname), used where the kernel has no NETLINK_LIST_MEMBERSHIPS.
func groups(fd int, first uint32) ([]uint32, error) {
	w := make([]uint32, maxGroupWords)
	n, err := linux.GetsockoptNetlinkGroups(fd, w)
	if err != nil {
		if first == 0 {
			return nil, nil
		}
		return []uint32{first}, nil
	}
	if n > len(w) {
		return nil, fmt.Errorf("%w: a netlink socket in groups past %d", errdefs.ErrUnsupported, 32*maxGroupWords)
	}
	w = w[:n]
	for len(w) > 0 && w[len(w)-1] == 0 {
		w = w[:len(w)-1]
	}
	return w, nil
}
