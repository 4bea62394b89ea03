package image

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"testing"

	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"
)

// sampleName returns a file name of kind k.
func sampleName(k Kind) string {
	if k.Numbered {
		return k.Prefix + "7.img"
	}
	return k.Prefix + ".img"
}

// TestRoundTripEveryKind writes two filled entries of every image kind
// through the Encoder and a Dir store, reads them back and compares.
func TestRoundTripEveryKind(t *testing.T) {
	ctx := context.Background()
	s, err := NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if len(kinds) == 0 {
		t.Fatal("no image kinds defined")
	}
	r := rand.New(rand.NewPCG(1, 2))
	for _, k := range kinds {
		if k.Raw {
			continue
		}
		name := sampleName(k)
		t.Run(name, func(t *testing.T) {
			var want []proto.Message
			for i := 0; i < 2; i++ {
				m := k.New()
				fill(m.ProtoReflect(), r, 0)
				want = append(want, m)
			}
			if err := WriteImage(ctx, s, name, want...); err != nil {
				t.Fatal(err)
			}
			got, err := ReadAll(ctx, s, name, k.New)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want) {
				t.Fatalf("read %d entries, wrote %d", len(got), len(want))
			}
			for i := range want {
				if !proto.Equal(want[i], got[i]) {
					t.Fatalf("entry %d differs:\nwrote %v\nread  %v", i,
						prototext.Format(want[i]), prototext.Format(got[i]))
				}
			}
			// Byte-exact: a file re-encoded from what was read is the same.
			var a, b bytes.Buffer
			encodeTo(t, &a, name, want)
			encodeTo(t, &b, name, got)
			if !bytes.Equal(a.Bytes(), b.Bytes()) {
				t.Fatal("re-encoded image differs")
			}
		})
	}
}

func encodeTo(t *testing.T, w io.Writer, name string, msgs []proto.Message) {
	t.Helper()
	enc, err := NewEncoder(w, name)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		if err := enc.Encode(m); err != nil {
			t.Fatal(err)
		}
	}
}
