package sockets

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/errdefs"
	"github.com/criugo/criu/criu/sockets/mcast"
	"github.com/criugo/criu/criu/sockets/packet"
	"github.com/criugo/criu/criu/sockets/raw"
	"github.com/criugo/criu/criu/sockets/unixdiag"
	"github.com/criugo/criu/proto/images"
)

// Tree is what the sockets of a dump need of the tree being dumped; the
// dumper implements it.
type Tree interface {
	// NetDo runs f in the tree's network namespace: sock_diag answers,
	// and a new socket is made, in the netns of the thread asking.
	NetDo(f func() error) error
	// FileID numbers a new file description (its files.img id).
	FileID() uint32
	// AddFile adds an entry to files.img that no fd of the tree opens
	// (an external socket, USK_EXTERN).
	AddFile(e *images.FileEntry)
}

// Options are the dump options about sockets.
type Options struct {
	// ExtUnixSk lets a UNIX datagram socket connected to a named socket
	// outside the tree be dumped (criu dump --ext-unix-sk).
	// ExtUnixInodes are the sockets, by inode, connected outside the
	// tree that restore takes from --inherit-fd (--ext-unix-sk=INO,...).
	ExtUnixSk     bool
	ExtUnixInodes map[uint32]bool
	// TCPEstablished saves established TCP connections (tcp_dump.go),
	// TCPClose without their state (both: else refused); SkipInFlight
	// drops TCP and MPTCP connections not accepted yet (else refused). LockConn, if
	// set, locks a connection before its repair (CRIU's nf_lock_connection).
	TCPEstablished, TCPClose, SkipInFlight bool
	LockConn                               func(Conn) error
}

// Set collects, during a dump, the sockets of the tree: Add records each
// fd, Check refuses what restore could not rebuild once every fd is
// recorded, Write writes QueuesImage. It is used by one goroutine.
type Set struct {
	t    Tree
	opts Options
	// unixDiag is every UNIX socket of the netns, read at the first one
	// met; unixSks are those of the tree, by inode in unixByIno.
	unixDiag  map[uint32]*unixdiag.Socket
	unixSks   []*unixSk
	unixByIno map[uint32]*unixSk
	// unixExt are the external peers written (--ext-unix-sk), by inode.
	unixExt map[uint32]bool
	// inetShut is how each inet socket is shut down, by inode, per
	// (family, protocol), read at the first one met.
	inetShut map[[2]int]map[uint32]uint8
	// tcp are the established connections saved, each in repair mode
	// until Release.
	tcp []*tcpConn
	// rawSks are the raw sockets of the netns by family, each family
	// read at its first one met.
	rawSks map[int]map[uint32]*raw.Diag
	// rawNoDiag: the kernel has no raw sock_diag, rawSks are read from
	// /proc/net/raw.
	rawNoDiag bool
	mcast     mcast.Groups // the multicast groups of the netns
	// pingSks are the ping sockets of the netns by family, as rawSks.
	pingSks map[int]map[uint32]*raw.Diag
	// packetDiag is every packet socket of the netns, read at the
	// first one met.
	packetDiag map[uint32]*packet.Diag
	// via: while InFlight records a descriptor, the inode of the socket
	// in whose queue it is.
	via uint32
}

// NewSet returns the collector of the sockets of t.
func NewSet(t Tree, opts Options) *Set {
	return &Set{t: t, opts: opts}
}

// fdAt is where a socket was first seen, to name it in errors: an fd of
// a task, or (via, an inode) in flight in that socket's queue.
type fdAt struct {
	pid, fd int
	via     uint32
}

// Add records the socket open at fd of task pid, by family, and returns
// its files.img entry (an id from Tree.FileID). cp is this process's copy
// of it (pidfd_getfd), which Add does not close; st is its fstat and
// flags its file status flags.
func (s *Set) Add(pid, fd, cp int, st *unix.Stat_t, flags uint32) (*images.FileEntry, error) {
	family, err := unix.GetsockoptInt(cp, unix.SOL_SOCKET, unix.SO_DOMAIN)
	if err != nil {
		return nil, os.NewSyscallError("getsockopt(SO_DOMAIN)", err)
	}
	switch family {
	case unix.AF_UNIX:
		return s.addUnixSk(cp, fdAt{pid: pid, fd: fd, via: s.via}, st, flags)
	case unix.AF_INET, unix.AF_INET6:
		return s.addInetSk(cp, st, flags, family)
	case unix.AF_NETLINK:
		return s.addNetlinkSk(cp, st, flags)
	case unix.AF_PACKET:
		return s.addPacketSk(cp, st, flags)
	}
	return nil, fmt.Errorf("%w: socket family %d", errdefs.ErrUnsupported, family)
}

// Check refuses, once every fd of the tree is recorded, the UNIX sockets
// restore could not rebuild (checkUnix), and adds the external peers
// kept (--ext-unix-sk) to files.img.
func (s *Set) Check() error { return s.checkUnix() }
