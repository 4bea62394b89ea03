package soccr

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"os"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/errdefs"
	"github.com/criugo/criu/criu/image"
	"github.com/criugo/criu/proto/images"
)

// ImageName names the image of the established TCP connection of socket
// inode ino (CRIU: tcp-stream-%x.img, magic TCP_STREAM).
func ImageName(ino uint32) string { return fmt.Sprintf("tcp-stream-%x.img", ino) }

// Stream is a connection as its image holds it: one TcpStreamEntry,
// then InQ (inq_len bytes of receive queue), then OutQ (outq_len bytes
// of send queue, the last unsq_len of them never sent).
type Stream struct {
	Entry     *images.TcpStreamEntry
	State     uint32 // TCP state: not in this image, in the inet_sk_entry's
	InQ, OutQ []byte
}

// WriteImage writes st as ImageName(ino).
func WriteImage(ctx context.Context, s image.Store, ino uint32, st *Stream) error {
	return image.WriteEntries(ctx, s, ImageName(ino), func(enc *image.Encoder, payload io.Writer) error {
		if err := enc.Encode(st.Entry); err != nil {
			return err
		}
		if _, err := payload.Write(st.InQ); err != nil {
			return err
		}
		_, err := payload.Write(st.OutQ)
		return err
	})
}

// ReadImage reads ImageName(ino); a missing or empty image is
// ErrBadImage.
func ReadImage(ctx context.Context, s image.Store, ino uint32) (*Stream, error) {
	name := ImageName(ino)
	var st *Stream
	found, err := image.ReadEach(ctx, s, name, func() *images.TcpStreamEntry { return &images.TcpStreamEntry{} }, func(m *images.TcpStreamEntry, dec *image.Decoder) error {
		if st != nil {
			return fmt.Errorf("%w: %s: more than one entry", errdefs.ErrBadImage, name)
		}
		if m.GetInqLen() > MaxQueue || m.GetOutqLen() > MaxQueue || m.GetUnsqLen() > m.GetOutqLen() {
			return fmt.Errorf("%w: %s: queues of %d and %d bytes, %d unsent", errdefs.ErrBadImage, name, m.GetInqLen(), m.GetOutqLen(), m.GetUnsqLen())
		}
		b, err := dec.Payload(int64(m.GetInqLen()) + int64(m.GetOutqLen()))
		if err != nil {
			return err
		}
		st = &Stream{Entry: m, InQ: b[:m.GetInqLen()], OutQ: b[m.GetInqLen():]}
		return nil
	})
	switch {
	case err == nil && !found:
		err = fmt.Errorf("%w: %s is missing", errdefs.ErrBadImage, name)
	case err == nil && st == nil:
		err = fmt.Errorf("%w: %s holds no entry", errdefs.ErrBadImage, name)
	}
	return st, err
}

// UnsentAtResume is what ResumeRestored writes: the unsent part of the
// send queue of a connection that did not send its FIN (Restore writes
// that of one that did, before the FIN).
func (st *Stream) UnsentAtResume() []byte {
	if st == nil || ourFIN(st.State) {
		return nil
	}
	return st.Unsent()
}

// Unsent is the part of the send queue never sent (nil for a nil st).
func (st *Stream) Unsent() []byte {
	if st == nil {
		return nil
	}
	return st.OutQ[len(st.OutQ)-int(st.Entry.GetUnsqLen()):]
}

// AddrPort is sa's address and port (zero for other than IPv4 or IPv6).
func AddrPort(sa unix.Sockaddr) netip.AddrPort {
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrPortFrom(netip.AddrFrom4(a.Addr), uint16(a.Port))
	case *unix.SockaddrInet6:
		return netip.AddrPortFrom(netip.AddrFrom16(a.Addr), uint16(a.Port))
	}
	return netip.AddrPort{}
}

// BindShared binds fd to sa with SO_REUSEADDR on: a port the restore
// gives to a listener and to the connections it accepted (in repair
// mode, which forces the reuse of the port) is bound in any order. The
// caller sets SO_REUSEADDR as it was once the socket listens
// (SetReuseAddr).
func BindShared(fd int, sa unix.Sockaddr) error {
	if err := SetReuseAddr(fd, true); err != nil {
		return err
	}
	return os.NewSyscallError("bind", unix.Bind(fd, sa))
}

// SetReuseAddr sets SO_REUSEADDR; repair mode's end also clears it.
func SetReuseAddr(fd int, on bool) error {
	v := 0
	if on {
		v = 1
	}
	return os.NewSyscallError("setsockopt(SO_REUSEADDR)", unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, v))
}
