package sockets

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"

	"github.com/criugo/criu/criu/image"
	"github.com/criugo/criu/criu/sockets/netlink"
	"github.com/criugo/criu/criu/sockets/unsaved"
	"github.com/criugo/criu/proto/images"
)

// addNetlinkSk records a netlink socket (package netlink) with its
// SOL_SOCKET options and filter. cp is this process's copy of it.
func (s *Set) addNetlinkSk(cp int, st *unix.Stat_t, flags uint32) (*images.FileEntry, error) {
	e, err := netlink.Dump(cp)
	if err != nil {
		return nil, err
	}
	if e.Opts, err = dumpSkOpts(cp); err != nil {
		return nil, err
	}
	if err := s.checkUnsaved(cp, unix.AF_NETLINK, unix.SOCK_RAW, int(e.GetProtocol()), false, unsaved.Socket); err != nil {
		return nil, fmt.Errorf("netlink protocol %d: %w", e.GetProtocol(), err)
	}
	id := s.t.FileID()
	e.Id, e.Ino, e.Flags, e.Fown = proto.Uint32(id), proto.Uint32(uint32(st.Ino)), proto.Uint32(flags), image.ZeroFown()
	return &images.FileEntry{Type: images.FdTypes_NETLINKSK.Enum(), Id: proto.Uint32(id), Nlsk: e}, nil
}

// OpenNetlink creates, in the restorer, the netlink socket e describes
// (netlink.Open) with its options, filter and file status flags. It runs
// in the tree's network namespace.
func OpenNetlink(e *images.NetlinkSkEntry) (fd int, err error) {
	fd, err = netlink.Open(e)
	if err != nil {
		return -1, fmt.Errorf("socket:[%d]: %w", e.GetIno(), err)
	}
	defer func() {
		if err != nil {
			unix.Close(fd)
			fd = -1
			err = fmt.Errorf("socket:[%d]: %w", e.GetIno(), err)
		}
	}()
	return fd, setOptsFlags(fd, e.GetOpts(), e.GetFlags())
}

// setOptsFlags gives a socket the restorer made (netlink, packet) its
// socket options, its filter and its file status flags.
func setOptsFlags(fd int, opts *images.SkOptsEntry, flags uint32) error {
	if err := setSkOpts(fd, opts); err != nil {
		return err
	}
	if err := setSkFilter(fd, opts); err != nil {
		return err
	}
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFL, int(flags&^unix.O_ACCMODE)); err != nil {
		return os.NewSyscallError("fcntl(F_SETFL)", err)
	}
	return nil
}
