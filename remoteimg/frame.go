package remoteimg

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
)

// Frame layout constants; see the package doc.
const (
	HeaderSize = 16
	// MaxChunk is the most image bytes one Data frame carries.
	MaxChunk = 256 << 10
	// MaxPayload caps every frame's payload.
	MaxPayload = 1 << 20
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
	TGet       Type = 0x30
	TEnd       Type = 0x31
	TRelease   Type = 0x32
	TList      Type = 0x33
	TListReply Type = 0x34
)

var typeNames = map[Type]string{
	THello: "Hello", TResult: "Result", TPut: "Put", TData: "Data", TCommit: "Commit",
	TAbort: "Abort", TAck: "Ack", TFinish: "Finish", TGet: "Get", TEnd: "End",
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
func ReadFrame(r io.Reader, max int) (Frame, error) {
	var h [HeaderSize]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return Frame{}, err
	}
	t, stream, n, err := ParseHeader(h[:], max)
	if err != nil {
		return Frame{}, err
	}
	f := Frame{Type: t, Stream: stream}
	if n > 0 {
		f.Payload = make([]byte, n)
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
	mu  sync.Mutex // serializes writes to w and protects buf
	w   io.Writer
	buf []byte
}

// NewFrameWriter returns a FrameWriter on w.
func NewFrameWriter(w io.Writer) *FrameWriter { return &FrameWriter{w: w} }

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

// WriteData writes a Data frame without copying b into a message first.
func (fw *FrameWriter) WriteData(stream, off uint64, b []byte) error {
	if len(b) > MaxChunk {
		return fmt.Errorf("%w: data chunk %d bytes", ErrFrameTooLarge, len(b))
	}
	fw.mu.Lock()
	defer fw.mu.Unlock()
	var h [HeaderSize + 8]byte
	hh := (*[HeaderSize]byte)(h[:HeaderSize])
	PutHeader(hh, TData, stream, 8+len(b))
	binary.LittleEndian.PutUint64(h[HeaderSize:], off)
	fw.buf = append(append(fw.buf[:0], h[:]...), b...)
	_, err := fw.w.Write(fw.buf)
	return err
}
