package skqueue

import (
	"context"
	"fmt"
	"io"

	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"

	"github.com/criugo/criu/criu/errdefs"
	"github.com/criugo/criu/criu/image"
	"github.com/criugo/criu/proto/images"
)

// Image is the image of the messages queued on the tree's sockets.
const Image = "sk-queues.img"

// Packet is one message (or, for a stream socket, a run of bytes) of a
// socket's receive queue: an SkPacketEntry of Image and its bytes.
type Packet struct {
	IDFor uint32 // file id of the socket it is queued on
	Data  []byte
	// Addr is a datagram's sender name as the kernel gives it (a
	// leading NUL: abstract; empty: unnamed); nil for a stream, and
	// where the image names no sender (CRIU's images).
	Addr []byte
	// Rights are the file ids of the descriptors passed with the
	// message (SCM_RIGHTS), in order. At dump, Fds are this process's
	// copies of those descriptors (from the peek), open until
	// ClosePackets; Rights is filled in as the dumper records them.
	Rights []uint32
	Fds    []int
}

// scmMaxFd is the kernel's cap on the descriptors one message carries
// (SCM_MAX_FD).
const scmMaxFd = 253

// maxQueue caps the bytes of one socket's receive queue: read at dump,
// queued again at restore.
const maxQueue = 64 << 20

// maxPackets caps the messages of one socket's receive queue (an empty
// datagram takes no bytes).
const maxPackets = 1 << 20

// ClosePackets closes the descriptor copies the packets still hold.
func ClosePackets(pkts []Packet) {
	for i := range pkts {
		closeFds(pkts[i].Fds)
		pkts[i].Fds = nil
	}
}

func closeFds(fds []int) {
	for _, fd := range fds {
		unix.Close(fd)
	}
}

// Write writes Image with pkts, in order (each Packet's Rights filled
// in); nothing when pkts is empty.
func Write(ctx context.Context, store image.Store, pkts []Packet) error {
	if len(pkts) == 0 {
		return nil
	}
	return image.WriteEntries(ctx, store, Image, func(enc *image.Encoder, payload io.Writer) error {
		for _, p := range pkts {
			if p.Fds != nil && len(p.Rights) != len(p.Fds) {
				return fmt.Errorf("socket %d: %d of %d passed descriptors recorded", p.IDFor, len(p.Rights), len(p.Fds))
			}
			e := &images.SkPacketEntry{IdFor: proto.Uint32(p.IDFor), Length: proto.Uint32(uint32(len(p.Data))), Addr: p.Addr}
			if len(p.Rights) > 0 {
				e.Scm = []*images.ScmEntry{{Type: proto.Uint32(unix.SCM_RIGHTS), Rights: p.Rights}}
			}
			if err := enc.Encode(e); err != nil {
				return err
			}
			if _, err := payload.Write(p.Data); err != nil {
				return err
			}
		}
		return nil
	})
}

// Queues are the messages queued on sockets, by the file id of the
// socket they are queued on, in order (Image, read by Read).
type Queues map[uint32][]Packet

// Share counts each file passed in a queued message (SCM_RIGHTS) as
// shared in refs (the tasks' fds of each file, by file id), so that the
// restorer opens a description of its own to send again: also for a file
// no task holds (it was only in flight).
func (q Queues) Share(refs map[uint32]int) {
	for _, pkts := range q {
		for _, p := range pkts {
			for _, id := range p.Rights {
				refs[id] += 2
			}
		}
	}
}

// Read reads Image; no image is no message queued. A control message
// other than SCM_RIGHTS fails (ErrUnsupported), as do lengths past the
// caps (ErrBadImage).
func Read(ctx context.Context, s image.Store) (Queues, error) {
	out := Queues{}
	const name = Image
	total := map[uint32]int{}
	_, err := image.ReadEach(ctx, s, name, func() *images.SkPacketEntry { return &images.SkPacketEntry{} }, func(e *images.SkPacketEntry, dec *image.Decoder) error {
		var rights []uint32
		for _, c := range e.GetScm() {
			if c.GetType() != unix.SCM_RIGHTS {
				return fmt.Errorf("%w: %s: a control message of type %d queued on socket %d", errdefs.ErrUnsupported, name, c.GetType(), e.GetIdFor())
			}
			rights = append(rights, c.GetRights()...)
		}
		if len(e.GetScm()) > 1 || len(rights) > scmMaxFd {
			// The kernel merges the descriptors of a message into one
			// SCM_RIGHTS, of at most SCM_MAX_FD.
			return fmt.Errorf("%w: %s: a message on socket %d with %d SCM_RIGHTS of %d descriptors", errdefs.ErrBadImage, name, e.GetIdFor(), len(e.GetScm()), len(rights))
		}
		total[e.GetIdFor()] += int(e.GetLength())
		if total[e.GetIdFor()] > maxQueue || len(out[e.GetIdFor()]) >= maxPackets {
			return fmt.Errorf("%w: %s: more than %d bytes or %d messages queued on socket %d", errdefs.ErrBadImage, name, maxQueue, maxPackets, e.GetIdFor())
		}
		b, err := dec.Payload(int64(e.GetLength()))
		if err != nil {
			return err
		}
		if len(e.Addr) > len(unix.RawSockaddrUnix{}.Path) {
			return fmt.Errorf("%w: %s: a sender name of %d bytes", errdefs.ErrBadImage, name, len(e.Addr))
		}
		out[e.GetIdFor()] = append(out[e.GetIdFor()], Packet{IDFor: e.GetIdFor(), Data: b, Addr: e.Addr, Rights: rights})
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
