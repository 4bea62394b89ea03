package image

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"

	"google.golang.org/protobuf/proto"
)

// MaxEntrySize caps the length prefix of one entry. CRIU's biggest
// entries (core with xsave, mm with a long auxv) are a few KiB; 64 MiB
// leaves room for huge VMA lists while refusing garbage lengths.
const MaxEntrySize = 64 << 20

// Sentinel errors. Decoding errors wrap them inside a *FormatError.
var (
	ErrBadMagic      = errors.New("bad magic")
	ErrShortEntry    = errors.New("short entry")
	ErrEntryTooLarge = errors.New("entry too large")
	ErrUnknownImage  = errors.New("unknown image kind")
	ErrRawImage      = errors.New("raw image has no entries")
	ErrBadEntry      = errors.New("bad entry")
)

// FormatError reports a malformed image: which file, at which byte offset.
type FormatError struct {
	Name   string
	Offset int64
	Err    error
}

func (e *FormatError) Error() string {
	return fmt.Sprintf("image %s at offset %d: %v", e.Name, e.Offset, e.Err)
}

func (e *FormatError) Unwrap() error { return e.Err }

// header returns the magic words that start image name.
func header(name string) ([]uint32, error) {
	k, ok := LookupKind(name)
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrUnknownImage, name)
	}
	return kindHeader(k, name)
}

func kindHeader(k Kind, name string) ([]uint32, error) {
	switch {
	case k.Raw:
		return nil, fmt.Errorf("%w: %s", ErrRawImage, name)
	case k.Magic == MagicInventory:
		return []uint32{MagicInventory}, nil
	case k.Service:
		return []uint32{MagicService, k.Magic}, nil
	default:
		return []uint32{MagicCommon, k.Magic}, nil
	}
}

// Encoder writes the entries of one image.
type Encoder struct {
	w   io.Writer
	buf []byte
}

// NewEncoder writes the header of image name to w and returns an encoder
// for its entries.
func NewEncoder(w io.Writer, name string) (*Encoder, error) {
	magics, err := header(name)
	if err != nil {
		return nil, err
	}
	var hdr []byte
	for _, m := range magics {
		hdr = binary.LittleEndian.AppendUint32(hdr, m)
	}
	if _, err := w.Write(hdr); err != nil {
		return nil, fmt.Errorf("write header of %s: %w", name, err)
	}
	return &Encoder{w: w}, nil
}

// Encode writes m as one length-prefixed entry.
func (e *Encoder) Encode(m proto.Message) error {
	e.buf = append(e.buf[:0], 0, 0, 0, 0)
	var err error
	e.buf, err = proto.MarshalOptions{}.MarshalAppend(e.buf, m)
	if err != nil {
		return fmt.Errorf("marshal %s: %w", m.ProtoReflect().Descriptor().Name(), err)
	}
	n := len(e.buf) - 4
	if n > MaxEntrySize {
		return fmt.Errorf("%w: %d bytes", ErrEntryTooLarge, n)
	}
	binary.LittleEndian.PutUint32(e.buf, uint32(n))
	_, err = e.w.Write(e.buf)
	return err
}

// Decoder reads the entries of one image.
type Decoder struct {
	r    io.Reader
	name string
	off  int64
	buf  []byte
}

// NewDecoder reads and checks the header of image name from r.
func NewDecoder(r io.Reader, name string) (*Decoder, error) {
	magics, err := header(name)
	if err != nil {
		return nil, err
	}
	return newDecoder(r, name, magics)
}

func newDecoder(r io.Reader, name string, magics []uint32) (*Decoder, error) {
	d := &Decoder{r: r, name: name}
	var w [4]byte
	for _, want := range magics {
		if _, err := io.ReadFull(r, w[:]); err != nil {
			return nil, d.fail(fmt.Errorf("%w: header: %v", ErrShortEntry, noEOF(err)))
		}
		if got := binary.LittleEndian.Uint32(w[:]); got != want {
			return nil, d.fail(fmt.Errorf("%w: got %#x, want %#x", ErrBadMagic, got, want))
		}
		d.off += 4
	}
	return d, nil
}

// noEOF turns io.EOF into io.ErrUnexpectedEOF: inside an entry, the end
// of the stream is never clean.
func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

func (d *Decoder) fail(err error) error {
	return &FormatError{Name: d.name, Offset: d.off, Err: err}
}

// Offset returns the byte offset of the next entry.
func (d *Decoder) Offset() int64 { return d.off }

// Next reads the next entry's raw bytes. It returns io.EOF at the clean
// end of the image. The returned slice is valid until the next call.
func (d *Decoder) Next() ([]byte, error) {
	var w [4]byte
	n, err := io.ReadFull(d.r, w[:])
	if err == io.EOF {
		return nil, io.EOF
	}
	if err != nil {
		_ = n
		return nil, d.fail(fmt.Errorf("%w: length: %v", ErrShortEntry, noEOF(err)))
	}
	size := binary.LittleEndian.Uint32(w[:])
	if size > MaxEntrySize {
		return nil, d.fail(fmt.Errorf("%w: %d bytes (max %d)", ErrEntryTooLarge, size, MaxEntrySize))
	}
	if cap(d.buf) < int(size) {
		d.buf = make([]byte, size)
	}
	d.buf = d.buf[:size]
	if _, err := io.ReadFull(d.r, d.buf); err != nil {
		return nil, d.fail(fmt.Errorf("%w: %d-byte entry: %v", ErrShortEntry, size, noEOF(err)))
	}
	d.off += 4 + int64(size)
	return d.buf, nil
}

// Decode reads the next entry into m. It returns io.EOF at the clean end.
func (d *Decoder) Decode(m proto.Message) error {
	start := d.off
	b, err := d.Next()
	if err != nil {
		return err
	}
	if err := proto.Unmarshal(b, m); err != nil {
		return &FormatError{Name: d.name, Offset: start, Err: fmt.Errorf("%w: %v", ErrBadEntry, err)}
	}
	return nil
}

// WriteRaw writes image name, raw bytes b with no header (the text or
// binary images of other tools: ip, nft, iptables-save), to s and
// commits it; on error no partial image is left under its name.
func WriteRaw(ctx context.Context, s Store, name string, b []byte) error {
	w, err := s.Create(ctx, name)
	if err != nil {
		return fmt.Errorf("create image %s: %w", name, err)
	}
	if _, err := w.Write(b); err != nil {
		return errors.Join(fmt.Errorf("write image %s: %w", name, err), w.Abort())
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("write image %s: %w", name, err)
	}
	return nil
}

// WriteImage writes image name with the given entries to s and commits it.
func WriteImage(ctx context.Context, s Store, name string, msgs ...proto.Message) error {
	return WriteEntries(ctx, s, name, func(enc *Encoder, _ io.Writer) error {
		for _, m := range msgs {
			if err := enc.Encode(m); err != nil {
				return err
			}
		}
		return nil
	})
}

// WriteEntries writes image name to s and commits it. fill encodes the
// entries with enc; raw bytes that follow an entry (pipe data, queued
// socket packets) go to payload right after that entry. On any error the
// image is aborted: no partial image is left under its name.
func WriteEntries(ctx context.Context, s Store, name string, fill func(enc *Encoder, payload io.Writer) error) (err error) {
	w, err := s.Create(ctx, name)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			w.Abort()
		}
	}()
	bw := bufio.NewWriterSize(w, 64<<10)
	enc, err := NewEncoder(bw, name)
	if err != nil {
		return err
	}
	if err := fill(enc, bw); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("commit %s: %w", name, err)
	}
	return nil
}

// ReadAll reads every entry of image name, each into a message from newMsg.
func ReadAll(ctx context.Context, s Store, name string, newMsg func() proto.Message) ([]proto.Message, error) {
	r, err := s.Open(ctx, name)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	dec, err := NewDecoder(bufio.NewReaderSize(r, 64<<10), name)
	if err != nil {
		return nil, err
	}
	var out []proto.Message
	for {
		m := newMsg()
		err := dec.Decode(m)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, m)
	}
}

// ReadEach reads image name entry by entry, each into a new message from
// newEntry, and gives it to each with the image's decoder, for the raw
// payload that may follow the entry (Payload, CopyPayload). found is
// false, with no error, when there is no such image.
func ReadEach[T proto.Message](ctx context.Context, s Store, name string, newEntry func() T, each func(e T, dec *Decoder) error) (found bool, err error) {
	r, err := s.Open(ctx, name)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer r.Close()
	dec, err := NewDecoder(bufio.NewReader(r), name)
	if err != nil {
		return true, err
	}
	for {
		e := newEntry()
		err := dec.Decode(e)
		if err == io.EOF {
			return true, nil
		}
		if err != nil {
			return true, err
		}
		if err := each(e, dec); err != nil {
			return true, err
		}
	}
}

// ReadOne reads image name, which must hold exactly one entry, into m.
func ReadOne(ctx context.Context, s Store, name string, m proto.Message) error {
	r, err := s.Open(ctx, name)
	if err != nil {
		return err
	}
	defer r.Close()
	dec, err := NewDecoder(bufio.NewReaderSize(r, 64<<10), name)
	if err != nil {
		return err
	}
	if err := dec.Decode(m); err != nil {
		if err == io.EOF {
			return dec.fail(fmt.Errorf("%w: image has no entry", ErrShortEntry))
		}
		return err
	}
	if _, err := dec.Next(); err != io.EOF {
		if err == nil {
			return dec.fail(fmt.Errorf("%w: more than one entry", ErrBadEntry))
		}
		return err
	}
	return nil
}

// Payload reads the n raw bytes that follow the last entry into a new
// slice (of capacity n: the caller bounds n); a short payload is a
// FormatError.
func (d *Decoder) Payload(n int64) ([]byte, error) {
	w := &appendWriter{b: make([]byte, 0, n)}
	if err := d.CopyPayload(w, n); err != nil {
		return nil, err
	}
	return w.b, nil
}

// appendWriter appends what is written to b; it has no ReadFrom, so that
// io.CopyN fills b's capacity without growing it.
type appendWriter struct{ b []byte }

func (w *appendWriter) Write(p []byte) (int, error) { w.b = append(w.b, p...); return len(p), nil }

// CopyPayload copies the n raw bytes that follow the last entry (pipe
// data, ghost file contents) to w; a short payload is a FormatError.
func (d *Decoder) CopyPayload(w io.Writer, n int64) error {
	if n < 0 {
		return d.fail(fmt.Errorf("%w: negative payload size %d", ErrBadEntry, n))
	}
	got, err := io.CopyN(w, d.r, n)
	d.off += got
	if err != nil {
		return d.fail(fmt.Errorf("%w: payload of %d bytes: got %d: %v", ErrShortEntry, n, got, noEOF(err)))
	}
	return nil
}
