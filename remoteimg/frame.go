package remoteimg

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
)

// Frame layout constants; see the package doc.
const (
	HeaderSize = 16
	// MaxChunk is the most image bytes one Data frame carries. Large
	// frames keep the per-frame costs (syscalls, acks, locking) small
	// next to the copying; a power of two matches how dump writes.
	MaxChunk = 1 << 20
	// MaxPayload caps every frame's payload: a full Data frame (offset
	// and MaxChunk bytes) with a page to spare.
	MaxPayload = MaxChunk + 4096
	// MaxHelloPayload caps the first frame of a connection.
	MaxHelloPayload = 64
	// MaxMsgLen caps the message of a Result.
	MaxMsgLen = 1024
)

// Type is a frame's type.
type Type uint8

// Frame types. Values are part of the protocol.
const (
	THello     Type = 1
	TResult    Type = 2
	TPut       Type = 0x10
	TData      Type = 0x11
	TCommit    Type = 0x12
	TAbort     Type = 0x13
	TAck       Type = 0x14
	TFinish    Type = 0x20
	TConfirm   Type = 0x21
	TGet       Type = 0x30
	TEnd       Type = 0x31
	TRelease   Type = 0x32
	TList      Type = 0x33
	TListReply Type = 0x34
)

var typeNames = map[Type]string{
	THello: "Hello", TResult: "Result", TPut: "Put", TData: "Data", TCommit: "Commit",
	TAbort: "Abort", TAck: "Ack", TFinish: "Finish", TConfirm: "Confirm", TGet: "Get", TEnd: "End",
	TRelease: "Release", TList: "List", TListReply: "ListReply",
}

func (t Type) String() string {
	if n, ok := typeNames[t]; ok {
		return n
	}
	return fmt.Sprintf("Type(%#x)", uint8(t))
}

// Valid reports whether t is a known frame type.
func (t Type) Valid() bool { _, ok := typeNames[t]; return ok }

// Frame is one decoded frame. Payload is owned by the frame (ReadFrame
// allocates it), so it may be kept.
type Frame struct {
	Type    Type
	Stream  uint64
	Payload []byte
}

// PutHeader encodes a frame header for a payload of n bytes into h.
func PutHeader(h *[HeaderSize]byte, t Type, stream uint64, n int) {
	binary.LittleEndian.PutUint32(h[0:], uint32(n))
	h[4] = byte(t)
	h[5], h[6], h[7] = 0, 0, 0
	binary.LittleEndian.PutUint64(h[8:], stream)
}

// ParseHeader checks a frame header against the payload cap max and
// returns its type, stream and payload length.
func ParseHeader(h []byte, max int) (Type, uint64, int, error) {
	if len(h) < HeaderSize {
		return 0, 0, 0, fmt.Errorf("%w: short header", ErrProtocol)
	}
	n := binary.LittleEndian.Uint32(h[0:])
	t := Type(h[4])
	if !t.Valid() {
		return 0, 0, 0, fmt.Errorf("%w: unknown frame type %#x", ErrProtocol, h[4])
	}
	if h[5] != 0 || h[6] != 0 || h[7] != 0 {
		return 0, 0, 0, fmt.Errorf("%w: non-zero flags/reserved bytes", ErrProtocol)
	}
	if uint64(n) > uint64(max) {
		return 0, 0, 0, fmt.Errorf("%w: %s payload %d bytes, cap %d", ErrFrameTooLarge, t, n, max)
	}
	return t, binary.LittleEndian.Uint64(h[8:]), int(n), nil
}

// ReadFrame reads one frame whose payload is at most max bytes. A clean
// end of stream before the first header byte is io.EOF; a stream that
// ends inside a frame is io.ErrUnexpectedEOF.
func ReadFrame(r io.Reader, max int) (Frame, error) { return ReadFrameBuf(r, max, nil) }

// ReadFrameBuf is ReadFrame reading the payload into buf when it fits
// (cap(buf) >= its length), else into a new slice. A payload in buf is
// valid only until the caller reuses buf.
func ReadFrameBuf(r io.Reader, max int, buf []byte) (Frame, error) {
	t, stream, n, err := ReadHeader(r, max)
	if err != nil {
		return Frame{}, err
	}
	return ReadPayload(r, t, stream, n, buf)
}

// ReadHeader reads and checks one frame header (payload cap max); the
// caller then reads exactly n payload bytes, itself (say straight into
// their final storage) or with ReadPayload. A clean end of stream before
// the header is io.EOF.
func ReadHeader(r io.Reader, max int) (t Type, stream uint64, n int, err error) {
	var h [HeaderSize]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return 0, 0, 0, err
	}
	return ParseHeader(h[:], max)
}

// ReadPayload reads the n-byte payload of a frame whose header was read
// by ReadHeader, into buf when it fits (as ReadFrameBuf).
func ReadPayload(r io.Reader, t Type, stream uint64, n int, buf []byte) (Frame, error) {
	f := Frame{Type: t, Stream: stream}
	if n > 0 {
		if cap(buf) >= n {
			f.Payload = buf[:n]
		} else {
			f.Payload = make([]byte, n)
		}
		if _, err := io.ReadFull(r, f.Payload); err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return Frame{}, err
		}
	}
	return f, nil
}

// AppendFrame appends the encoding of a frame to dst.
func AppendFrame(dst []byte, t Type, stream uint64, payload []byte) []byte {
	var h [HeaderSize]byte
	PutHeader(&h, t, stream, len(payload))
	return append(append(dst, h[:]...), payload...)
}

// FrameWriter writes whole frames to a connection; safe for concurrent use
// (frames never interleave).
type FrameWriter struct {
	mu  sync.Mutex // serializes writes to w and protects buf, hdr, vec
	w   io.Writer
	buf []byte
	// writev: w is a plain socket, so WriteData hands the header and the
	// image bytes to the kernel in one writev(2) instead of copying.
	writev bool
	hdr    [HeaderSize + 8]byte
	vec    [4][]byte
	bufs   net.Buffers // aliases vec during a write (no allocation)
}

// NewFrameWriter returns a FrameWriter on w.
func NewFrameWriter(w io.Writer) *FrameWriter {
	fw := &FrameWriter{w: w}
	switch w.(type) {
	case *net.TCPConn, *net.UnixConn:
		fw.writev = true
	}
	return fw
}

// WriteMsg encodes m and writes it as one frame on stream.
func (fw *FrameWriter) WriteMsg(stream uint64, m Msg) error {
	fw.mu.Lock()
	defer fw.mu.Unlock()
	fw.buf = AppendFrame(fw.buf[:0], m.Type(), stream, nil)
	fw.buf = m.Append(fw.buf)
	n := len(fw.buf) - HeaderSize
	if n > MaxPayload {
		return fmt.Errorf("%w: %s payload %d bytes", ErrFrameTooLarge, m.Type(), n)
	}
	binary.LittleEndian.PutUint32(fw.buf[0:], uint32(n))
	_, err := fw.w.Write(fw.buf)
	if cap(fw.buf) > 2*MaxChunk+HeaderSize+64 {
		fw.buf = nil
	}
	return err
}

// WriteData writes a Data frame at image offset off carrying the
// concatenation of parts (at most MaxChunk bytes in all), without copying
// the parts when the connection is a plain socket (writev).
func (fw *FrameWriter) WriteData(stream, off uint64, parts ...[]byte) error {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	if n > MaxChunk {
		return fmt.Errorf("%w: data chunk %d bytes", ErrFrameTooLarge, n)
	}
	fw.mu.Lock()
	defer fw.mu.Unlock()
	PutHeader((*[HeaderSize]byte)(fw.hdr[:HeaderSize]), TData, stream, 8+n)
	binary.LittleEndian.PutUint64(fw.hdr[HeaderSize:], off)
	if fw.writev && len(parts) < len(fw.vec) {
		fw.bufs = append(fw.vec[:0], fw.hdr[:])
		fw.bufs = append(fw.bufs, parts...)
		_, err := fw.bufs.WriteTo(fw.w)
		fw.bufs = nil
		clear(fw.vec[:]) // do not pin the caller's buffers
		return err
	}
	// TLS and other writers: one Write, so one record per frame.
	fw.buf = append(fw.buf[:0], fw.hdr[:]...)
	for _, p := range parts {
		fw.buf = append(fw.buf, p...)
	}
	_, err := fw.w.Write(fw.buf)
	if cap(fw.buf) > 2*MaxPayload {
		fw.buf = nil
	}
	return err
}
