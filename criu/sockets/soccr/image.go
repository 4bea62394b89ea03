package soccr

import (
	"context"
	"fmt"
	"io"

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

// ReadImage reads ImageName(ino); a missing image is ErrBadImage.
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
	if err == nil && !found {
		err = fmt.Errorf("%w: %s is missing", errdefs.ErrBadImage, name)
	}
	return st, err
}
