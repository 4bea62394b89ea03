package soccr

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/criugo/criu/criu/errdefs"
	"github.com/criugo/criu/criu/image"
	"github.com/criugo/criu/proto/images"
)

func sample() *Stream {
	return &Stream{
		Entry: &images.TcpStreamEntry{
			InqLen: proto.Uint32(3), InqSeq: proto.Uint32(1000), OutqLen: proto.Uint32(5), OutqSeq: proto.Uint32(77),
			OptMask: proto.Uint32(7), SndWscale: proto.Uint32(7), MssClamp: proto.Uint32(65483), UnsqLen: proto.Uint32(2),
		},
		InQ: []byte("abc"), OutQ: []byte("12345"),
	}
}

// TestImageRoundTrip: the image holds the entry, then the receive queue,
// then the send queue; Unsent is the send queue's tail.
func TestImageRoundTrip(t *testing.T) {
	dir := t.TempDir()
	s, err := image.NewDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	if err := WriteImage(ctx, s, 0x2a, sample()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "tcp-stream-2a.img")); err != nil {
		t.Fatal(err)
	}
	got, err := ReadImage(ctx, s, 0x2a)
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(got.Entry, sample().Entry) || string(got.InQ) != "abc" || string(got.OutQ) != "12345" || string(got.Unsent()) != "45" {
		t.Fatalf("read back %v %q %q", got.Entry, got.InQ, got.OutQ)
	}
	if _, err := ReadImage(ctx, s, 0x2b); !errors.Is(err, errdefs.ErrBadImage) {
		t.Fatalf("missing image: %v, want ErrBadImage", err)
	}
}

// FuzzReadImage: arbitrary bytes as tcp-stream-1.img give a stream whose
// queues match its entry, or an error; never a panic.
func FuzzReadImage(f *testing.F) {
	dir := f.TempDir()
	s, _ := image.NewDir(dir)
	if err := WriteImage(context.Background(), s, 1, sample()); err != nil {
		f.Fatal(err)
	}
	s.Close()
	b, err := os.ReadFile(filepath.Join(dir, ImageName(1)))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add(b[:len(b)-1])
	f.Add(append(bytes.Clone(b), b[8:]...))
	f.Fuzz(func(t *testing.T, b []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, ImageName(1)), b, 0o600); err != nil {
			t.Fatal(err)
		}
		s, _ := image.NewDir(dir)
		defer s.Close()
		st, err := ReadImage(context.Background(), s, 1)
		if err != nil {
			return
		}
		e := st.Entry
		if len(st.InQ) != int(e.GetInqLen()) || len(st.OutQ) != int(e.GetOutqLen()) || len(st.Unsent()) != int(e.GetUnsqLen()) {
			t.Fatalf("queues %d, %d for %v", len(st.InQ), len(st.OutQ), e)
		}
	})
}
