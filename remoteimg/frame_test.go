package remoteimg

import (
	"bytes"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
	"testing/iotest"
)

func allMsgs() []Msg {
	return []Msg{
		&Hello{Version: Version, Role: RoleProxy},
		&Result{Code: CodeNotExist, Msg: "no such image"},
		&Put{Snapshot: "s1", Parent: "s0", Name: "pages-1.img"},
		&Data{Offset: 4096, Bytes: []byte("abc")},
		&Commit{Size: 12, CRC: 0xdeadbeef},
		&Abort{},
		&Ack{Offset: 1 << 40},
		&Finish{Snapshot: "s1", Parent: "s0", Images: []ImageInfo{{"a.img", 0, 0}, {"b.img", 4096, 7}}},
		&Confirm{Snapshot: "s1"},
		&Confirm{Snapshot: "s1", Name: LateImage, CRC: 7, Bytes: []byte("stats")},
		&Get{Snapshot: "s1", Name: "core-1.img", WaitMillis: 100},
		&End{Size: 3, CRC: 9},
		&Release{Snapshot: "s1"},
		&List{},
		&ListReply{Snapshots: []SnapshotInfo{{ID: "s1", Parent: "s0", Finished: true, Images: 2, Bytes: 4096}, {ID: "s2", Held: true}}},
	}
}

// TestMsgRoundTrip encodes every message as a frame and decodes it, over a
// reader that returns one byte at a time (a socket's short reads).
func TestMsgRoundTrip(t *testing.T) {
	for _, m := range allMsgs() {
		var buf bytes.Buffer
		if err := NewFrameWriter(&buf).WriteMsg(42, m); err != nil {
			t.Fatal(err)
		}
		f, err := ReadFrame(iotest.OneByteReader(&buf), MaxPayload)
		if err != nil {
			t.Fatalf("%s: %v", m.Type(), err)
		}
		if f.Stream != 42 || f.Type != m.Type() {
			t.Fatalf("%s: header %+v", m.Type(), f)
		}
		got, err := Decode(f)
		if err != nil {
			t.Fatalf("%s: %v", m.Type(), err)
		}
		if !bytes.Equal(got.Append(nil), m.Append(nil)) {
			t.Fatalf("%s: round trip differs", m.Type())
		}
	}
}

func TestFrameErrors(t *testing.T) {
	var h [HeaderSize]byte
	PutHeader(&h, TData, 1, MaxPayload+1)
	if _, err := ReadFrame(bytes.NewReader(h[:]), MaxPayload); !errors.Is(err, ErrFrameTooLarge) || !errors.Is(err, ErrProtocol) {
		t.Fatalf("oversized: %v", err)
	}
	PutHeader(&h, Type(0x77), 1, 0)
	if _, err := ReadFrame(bytes.NewReader(h[:]), MaxPayload); !errors.Is(err, ErrProtocol) {
		t.Fatalf("unknown type: %v", err)
	}
	PutHeader(&h, TAck, 1, 8)
	h[6] = 1
	if _, err := ReadFrame(bytes.NewReader(h[:]), MaxPayload); !errors.Is(err, ErrProtocol) {
		t.Fatalf("reserved: %v", err)
	}
	PutHeader(&h, TAck, 1, 8)
	if _, err := ReadFrame(bytes.NewReader(append(h[:], 1, 2)), MaxPayload); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("short payload: %v", err)
	}
	if _, err := Decode(Frame{Type: TAck, Payload: make([]byte, 9)}); !errors.Is(err, ErrProtocol) {
		t.Fatalf("trailing: %v", err)
	}
	if _, err := Decode(Frame{Type: THello, Payload: []byte("GET / HTTP/1.1\r\n")}); !errors.Is(err, ErrProtocol) {
		t.Fatalf("garbage hello: %v", err)
	}
}

func TestCheckName(t *testing.T) {
	for _, bad := range []string{"", ".", "..", "../x", "a/b", "/etc/passwd", "a\x00b", ".hidden", "x..y", strings.Repeat("a", MaxNameLen+1)} {
		if err := CheckName(bad); !errors.Is(err, ErrBadName) {
			t.Errorf("CheckName(%q) = %v", bad, err)
		}
	}
	for _, good := range []string{"core-1.img", "pages-1.img", "inventory.img", "a b", "x.y.z", strings.Repeat("a", MaxNameLen)} {
		if err := CheckName(good); err != nil {
			t.Errorf("CheckName(%q) = %v", good, err)
		}
	}
	if id := SnapshotID("/var/lib/ck/dump.1"); CheckName(id) != nil || id != SnapshotID("/var/lib/ck/dump.1/") {
		t.Errorf("SnapshotID: %q", id)
	}
}

func TestCodes(t *testing.T) {
	for c := CodeNotExist; c <= CodeInternal; c++ {
		err := ResultError(ErrorResult(ResultError(Result{Code: c, Msg: "x"})))
		if CodeOf(err) != c || !errors.Is(err, c.Sentinel()) {
			t.Errorf("code %d: %v", c, err)
		}
	}
	if !errors.Is(ResultError(Result{Code: CodeNotExist}), os.ErrNotExist) {
		t.Error("CodeNotExist is not os.ErrNotExist")
	}
}

// FuzzFrame: ReadFrame and Decode never panic and never accept more than
// the cap; what decodes re-encodes to the same payload.
func FuzzFrame(f *testing.F) {
	for _, m := range allMsgs() {
		f.Add(AppendFrame(nil, m.Type(), 1, m.Append(nil)))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, err := ReadFrame(bytes.NewReader(b), MaxPayload)
		if err != nil {
			return
		}
		if len(fr.Payload) > MaxPayload {
			t.Fatal("payload over cap")
		}
		m, err := Decode(fr)
		if err != nil {
			return
		}
		if _, ok := m.(*ListReply); ok {
			return // bool flags re-encode canonically only
		}
		if !bytes.Equal(m.Append(nil), fr.Payload) {
			t.Fatalf("%s re-encodes differently", fr.Type)
		}
	})
}

// FuzzMsg: every message decoder on arbitrary payloads.
func FuzzMsg(f *testing.F) {
	for _, m := range allMsgs() {
		f.Add(uint8(m.Type()), m.Append(nil))
	}
	f.Fuzz(func(t *testing.T, typ uint8, b []byte) {
		m := NewMsg(Type(typ))
		if m == nil {
			return
		}
		if err := m.Unmarshal(b); err != nil {
			return
		}
		m2 := NewMsg(Type(typ))
		if err := m2.Unmarshal(m.Append(nil)); err != nil {
			t.Fatalf("%s: decoded message does not re-decode: %v", m.Type(), err)
		}
	})
}
