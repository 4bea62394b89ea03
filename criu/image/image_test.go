package image

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// frame builds an image by hand: header words, then length-prefixed entries.
func frame(magics []uint32, entries ...[]byte) []byte {
	var b []byte
	for _, m := range magics {
		b = binary.LittleEndian.AppendUint32(b, m)
	}
	for _, e := range entries {
		b = binary.LittleEndian.AppendUint32(b, uint32(len(e)))
		b = append(b, e...)
	}
	return b
}

var testMagics = []uint32{MagicCommon, 0x1234_5678}

func TestDecoderEntries(t *testing.T) {
	e1, _ := proto.Marshal(wrapperspb.String("first"))
	e2, _ := proto.Marshal(wrapperspb.String(strings.Repeat("x", 5000)))
	img := frame(testMagics, e1, nil, e2)
	for name, r := range map[string]io.Reader{
		"whole":   bytes.NewReader(img),
		"onebyte": iotest.OneByteReader(bytes.NewReader(img)), // a socket's short reads
		"half":    iotest.HalfReader(bytes.NewReader(img)),
	} {
		t.Run(name, func(t *testing.T) {
			d, err := newDecoder(r, "test.img", testMagics)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for {
				m := &wrapperspb.StringValue{}
				err := d.Decode(m)
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, m.Value)
			}
			if len(got) != 3 || got[0] != "first" || got[1] != "" || len(got[2]) != 5000 {
				t.Fatalf("decoded %d entries: %.20q", len(got), got)
			}
			if d.Offset() != int64(len(img)) {
				t.Errorf("offset %d, want %d", d.Offset(), len(img))
			}
		})
	}
}

func TestDecoderErrors(t *testing.T) {
	good, _ := proto.Marshal(wrapperspb.String("hello"))
	huge := binary.LittleEndian.AppendUint32(frame(testMagics), MaxEntrySize+1)
	tests := []struct {
		name    string
		img     []byte
		want    error
		wantOff int64
	}{
		{"empty file", nil, ErrShortEntry, 0},
		{"half magic", []byte{0x19, 0x43}, ErrShortEntry, 0},
		{"bad first magic", frame([]uint32{0xdeadbeef, testMagics[1]}), ErrBadMagic, 0},
		{"bad second magic", frame([]uint32{MagicCommon, 0xdeadbeef}), ErrBadMagic, 4},
		{"short length", append(frame(testMagics, good), 1, 0), ErrShortEntry, 8 + 4 + int64(len(good))},
		{"short entry", frame(testMagics, good)[:8+4+3], ErrShortEntry, 8},
		{"oversized length", huge, ErrEntryTooLarge, 8},
		{"garbage entry", frame(testMagics, []byte{0xff, 0xff, 0xff}), ErrBadEntry, 8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := decodeAll(tt.img)
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("%v is not a *FormatError", err)
			}
			if fe.Name != "test.img" || fe.Offset != tt.wantOff {
				t.Errorf("error names %s at %d, want test.img at %d", fe.Name, fe.Offset, tt.wantOff)
			}
			if !strings.Contains(err.Error(), "test.img") {
				t.Errorf("message %q does not name the file", err)
			}
		})
	}
}

func decodeAll(img []byte) error {
	d, err := newDecoder(bytes.NewReader(img), "test.img", testMagics)
	if err != nil {
		return err
	}
	for {
		if err := d.Decode(&wrapperspb.StringValue{}); err != nil {
			if err == io.EOF {
				return nil
			}
			return err
		}
	}
}

// FuzzDecoder feeds arbitrary bytes to the entry decoder: it must return
// an error or entries, never panic or allocate past MaxEntrySize.
func FuzzDecoder(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/fuzz-seed-*.img")
	for _, s := range seeds {
		b, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	good, _ := proto.Marshal(wrapperspb.String("seed"))
	f.Add(frame(testMagics, good, good))
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := newDecoder(bytes.NewReader(b), "fuzz.img", testMagics)
		if err != nil {
			return
		}
		for i := 0; i < 1000; i++ {
			if _, err := d.Next(); err != nil {
				var fe *FormatError
				if err != io.EOF && !errors.As(err, &fe) {
					t.Fatalf("error %v is not a FormatError", err)
				}
				return
			}
		}
	})
}

func TestDirStore(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := NewDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	w, err := s.Create(ctx, "pages-1.img")
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("abc"))
	if _, err := s.Open(ctx, "pages-1.img"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("uncommitted image is visible: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	r, err := s.Open(ctx, "pages-1.img")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(r)
	r.Close()
	if string(b) != "abc" {
		t.Fatalf("read %q", b)
	}

	w, _ = s.Create(ctx, "pages-2.img")
	w.Write([]byte("lost"))
	w.Abort()
	if _, err := s.Open(ctx, "pages-2.img"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("aborted image exists: %v", err)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Fatalf("directory holds %d entries after abort, want 1", len(ents))
	}
	for _, bad := range []string{"", "..", "a/b", "../x.img", "x\x00.img"} {
		if _, err := s.Create(ctx, bad); !errors.Is(err, ErrBadName) {
			t.Errorf("Create(%q) = %v, want ErrBadName", bad, err)
		}
		if _, err := s.Open(ctx, bad); !errors.Is(err, ErrBadName) {
			t.Errorf("Open(%q) = %v, want ErrBadName", bad, err)
		}
	}
	if err := s.Finish(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := NewDir(filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("NewDir of a missing dir: %v", err)
	}
}

// TestDirStoreContext: the context given to Create and Open bounds the
// whole write and read: once it is cancelled, Write, Close and Read fail
// with its cause, and no image is committed.
func TestDirStoreContext(t *testing.T) {
	d, err := NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	cause := errors.New("interrupted")
	ctx, cancel := context.WithCancelCause(context.Background())
	w, err := d.Create(ctx, "core-1.img")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("before")); err != nil {
		t.Fatal(err)
	}
	cancel(cause)
	if _, err := w.Write([]byte("after")); !errors.Is(err, cause) {
		t.Errorf("Write after cancel: %v, want the cause", err)
	}
	if err := w.Close(); !errors.Is(err, cause) {
		t.Errorf("Close after cancel: %v, want the cause", err)
	}
	if _, err := d.Open(context.Background(), "core-1.img"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("image committed after a cancelled write: %v", err)
	}
	if ents, _ := os.ReadDir(d.Path()); len(ents) != 0 {
		t.Errorf("left behind: %v", ents)
	}
	w, err = d.Create(context.Background(), "core-2.img")
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("data"))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	rctx, rcancel := context.WithCancelCause(context.Background())
	r, err := d.Open(rctx, "core-2.img")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	rcancel(cause)
	if _, err := r.Read(make([]byte, 4)); !errors.Is(err, cause) {
		t.Errorf("Read after cancel: %v, want the cause", err)
	}
}
