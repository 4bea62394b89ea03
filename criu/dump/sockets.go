package dump

import (
	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/sockets"
	"github.com/criugo/criu/internal/linux"
	"github.com/criugo/criu/proto/images"
)

// addSocket records the socket open at fd (package sockets), from a
// copy of it.
func (d *dumper) addSocket(fd int, st *unix.Stat_t, flags uint32) (*images.FileEntry, error) {
	cp, err := linux.CopyFd(d.pid, fd)
	if err != nil {
		return nil, err
	}
	defer unix.Close(cp)
	return d.t.sockets.Add(d.pid, fd, cp, st, flags)
}

// sockTree is what package sockets needs of the tree (sockets.Tree).
type sockTree struct{ t *tree }

func (s sockTree) NetDo(f func() error) error  { return s.t.netDo(f) }
func (s sockTree) FileID() uint32              { return s.t.files.id() }
func (s sockTree) AddFile(e *images.FileEntry) { s.t.files.entries = append(s.t.files.entries, e) }

// newSockets is the collector of t's sockets.
func newSockets(t *tree) *sockets.Set {
	return sockets.NewSet(sockTree{t}, sockets.Options{ExtUnixSk: t.opts.ExtUnixSk, ExtUnixInodes: t.opts.ExtUnixInodes,
		TCPEstablished: t.opts.TCPEstablished, TCPClose: t.opts.TCPClose, SkipInFlight: t.opts.SkipInFlight})
}
