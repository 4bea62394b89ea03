package skqueue

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/errdefs"
	"github.com/criugo/criu/criu/image"
	"github.com/criugo/criu/internal/linux"
)

func pair(t *testing.T, typ int) [2]int {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, typ|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fds[0]); unix.Close(fds[1]) })
	return [2]int{fds[0], fds[1]}
}

func send(t *testing.T, fd int, b []byte, fds ...int) {
	t.Helper()
	var oob []byte
	if len(fds) > 0 {
		oob = unix.UnixRights(fds...)
	}
	if len(b) == 0 && len(oob) > 0 {
		// As restore sends it (SendmsgN would add a byte).
		if err := linux.SendEmpty(fd, oob, 0); err != nil {
			t.Fatal(err)
		}
		return
	}
	if n, err := unix.SendmsgN(fd, b, oob, nil, 0); err != nil || n != len(b) {
		t.Fatalf("sendmsg %q: %d, %v", b, n, err)
	}
}

// peek peeks fd's queue as the dumper does, with sock_diag's figures
// given by the caller, and closes the descriptor copies at the end.
func peek(t *testing.T, fd, typ int, shut uint8, rqlen uint32) []Packet {
	t.Helper()
	p, err := Peek(fd, 7, typ, shut, rqlen)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ClosePackets(p) })
	return p
}

func sameFile(t *testing.T, a, b int) bool {
	t.Helper()
	var sa, sb unix.Stat_t
	if unix.Fstat(a, &sa) != nil || unix.Fstat(b, &sb) != nil {
		t.Fatal("fstat")
	}
	return sa.Dev == sb.Dev && sa.Ino == sb.Ino
}

// TestPeekDatagrams: every datagram and seqpacket message comes out in
// order, empty ones (also one that carries only descriptors) included,
// and the queue is left as it was.
func TestPeekDatagrams(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	for _, typ := range []int{unix.SOCK_DGRAM, unix.SOCK_SEQPACKET} {
		sk := pair(t, typ)
		msgs := []string{"", "one", "", "", "two", ""}
		for _, m := range msgs {
			send(t, sk[1], []byte(m))
		}
		send(t, sk[1], nil, int(r.Fd()), int(w.Fd()))
		send(t, sk[1], []byte("last"))
		got := peek(t, sk[0], typ, 0, 0)
		if len(got) != len(msgs)+2 {
			t.Fatalf("type %d: %d packets, want %d", typ, len(got), len(msgs)+2)
		}
		for i, m := range msgs {
			if string(got[i].Data) != m || len(got[i].Fds) != 0 || got[i].IDFor != 7 {
				t.Fatalf("type %d: packet %d: %q with %d fds, want %q", typ, i, got[i].Data, len(got[i].Fds), m)
			}
		}
		if p := got[len(msgs)]; len(p.Data) != 0 || len(p.Fds) != 2 || !sameFile(t, p.Fds[0], int(r.Fd())) || !sameFile(t, p.Fds[1], int(w.Fd())) {
			t.Fatalf("type %d: the empty message with descriptors: %q, %d fds", typ, p.Data, len(p.Fds))
		}
		if typ == unix.SOCK_DGRAM && got[0].Addr == nil {
			t.Fatal("a datagram without its sender's (unnamed) address")
		}
		// Nothing was consumed: the first message is still the first.
		b := make([]byte, 8)
		if n, _, _, _, err := unix.Recvmsg(sk[0], b, nil, unix.MSG_DONTWAIT); err != nil || n != 0 {
			t.Fatalf("type %d: after the peek, recv %d, %v; want the empty first message", typ, n, err)
		}
		if n, _, _, _, err := unix.Recvmsg(sk[0], b, nil, unix.MSG_DONTWAIT); err != nil || string(b[:n]) != "one" {
			t.Fatalf("type %d: after the peek, recv %q, %v; want one", typ, b[:n], err)
		}
	}
}

// TestPeekSeqpacketShutdown: a seqpacket queue whose sender shut down
// keeps the empty messages between its others, and ends at its last
// byte (from there the kernel answers end of file for good).
func TestPeekSeqpacketShutdown(t *testing.T) {
	sk := pair(t, unix.SOCK_SEQPACKET)
	for _, m := range []string{"", "a", "", "bc"} {
		send(t, sk[1], []byte(m))
	}
	if err := unix.Shutdown(sk[1], unix.SHUT_WR); err != nil {
		t.Fatal(err)
	}
	got := peek(t, sk[0], unix.SOCK_SEQPACKET, rcvShutdown, 3)
	var s []string
	for _, p := range got {
		s = append(s, string(p.Data))
	}
	if len(s) != 4 || s[1] != "a" || s[2] != "" || s[3] != "bc" {
		t.Fatalf("packets %q, want [\"\" a \"\" bc]", s)
	}
}

// TestPeekStreamRights: in a stream, the bytes before a message with
// descriptors come glued to it with them (the kernel shows no boundary),
// then the bytes after it come alone.
func TestPeekStreamRights(t *testing.T) {
	sk := pair(t, unix.SOCK_STREAM)
	send(t, sk[1], []byte("ab"))
	send(t, sk[1], []byte("cd"), sk[1])
	send(t, sk[1], []byte("ef"))
	got := peek(t, sk[0], unix.SOCK_STREAM, 0, 6)
	if len(got) != 2 || string(got[0].Data) != "abcd" || len(got[0].Fds) != 1 || string(got[1].Data) != "ef" || len(got[1].Fds) != 0 {
		t.Fatalf("packets %+v", got)
	}
	if !sameFile(t, got[0].Fds[0], sk[1]) || got[0].Addr != nil {
		t.Fatal("the passed socket is not the sender's, or a stream packet has an address")
	}
}

// TestPeekCredentialsRefused: a message that carries its sender's
// credentials (SO_PASSCRED) is refused, as CRIU does, and no descriptor
// copied by the peek stays open (the fd check of TestMain).
func TestPeekCredentialsRefused(t *testing.T) {
	sk := pair(t, unix.SOCK_DGRAM)
	if err := unix.SetsockoptInt(sk[0], unix.SOL_SOCKET, unix.SO_PASSCRED, 1); err != nil {
		t.Fatal(err)
	}
	send(t, sk[1], []byte("x"), sk[1])
	_, err := Peek(sk[0], 7, unix.SOCK_DGRAM, 0, 0)
	if !errors.Is(err, errdefs.ErrUnsupported) || !bytes.Contains([]byte(err.Error()), []byte("SO_PASSCRED")) {
		t.Fatalf("peek: %v, want the credentials refused", err)
	}
}

// TestImageRoundTrip: packets with data, sender names and rights come
// back from the image as written, by socket.
func TestImageRoundTrip(t *testing.T) {
	s, err := image.NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	in := []Packet{
		{IDFor: 3, Data: []byte("one"), Addr: []byte{}},
		{IDFor: 4, Data: []byte("two"), Rights: []uint32{9, 10}},
		{IDFor: 3, Data: nil, Addr: []byte("\x00abstract"), Rights: []uint32{9}},
	}
	if err := Write(ctx, s, in); err != nil {
		t.Fatal(err)
	}
	q, err := Read(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	if len(q[3]) != 2 || len(q[4]) != 1 || string(q[3][0].Data) != "one" || len(q[3][1].Data) != 0 ||
		string(q[3][1].Addr) != "\x00abstract" || len(q[4][0].Rights) != 2 || q[4][0].Rights[1] != 10 || q[3][0].Addr == nil {
		t.Fatalf("read back %+v", q)
	}
	refs := map[uint32]int{9: 1}
	q.Share(refs)
	if refs[9] != 5 || refs[10] != 2 {
		t.Fatalf("refs after Share: %v", refs)
	}
}

// FuzzRead: arbitrary bytes as sk-queues.img give queues within the caps
// or an error; never a panic.
func FuzzRead(f *testing.F) {
	dir := f.TempDir()
	s, _ := image.NewDir(dir)
	if err := Write(context.Background(), s, []Packet{{IDFor: 1, Data: []byte("abc"), Rights: []uint32{5}}, {IDFor: 1}}); err != nil {
		f.Fatal(err)
	}
	s.Close()
	b, err := os.ReadFile(filepath.Join(dir, Image))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add(b[:len(b)-1])
	f.Fuzz(func(t *testing.T, b []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, Image), b, 0o600); err != nil {
			t.Fatal(err)
		}
		s, _ := image.NewDir(dir)
		defer s.Close()
		q, err := Read(context.Background(), s)
		if err != nil {
			return
		}
		for id, pkts := range q {
			for _, p := range pkts {
				if p.IDFor != id || len(p.Rights) > scmMaxFd || len(p.Addr) > 108 {
					t.Fatalf("packet %+v under %d", p, id)
				}
			}
		}
	})
}

// TestPeekHeadPeekedBefore: an empty datagram at the head that the
// program had peeked (MSG_PEEK marks it, and a peek at an offset passes
// over it) is still saved, once, before the others.
func TestPeekHeadPeekedBefore(t *testing.T) {
	for _, typ := range []int{unix.SOCK_DGRAM, unix.SOCK_SEQPACKET} {
		sk := pair(t, typ)
		for _, m := range []string{"", "a", ""} {
			send(t, sk[1], []byte(m))
		}
		b := make([]byte, 4)
		if n, _, _, _, err := unix.Recvmsg(sk[0], b, nil, unix.MSG_PEEK|unix.MSG_DONTWAIT); err != nil || n != 0 {
			t.Fatalf("the program's peek: %d, %v", n, err)
		}
		got := peek(t, sk[0], typ, 0, 1)
		if len(got) != 3 || len(got[0].Data) != 0 || string(got[1].Data) != "a" || len(got[2].Data) != 0 {
			t.Fatalf("type %d: %d packets %+v, want \"\", a, \"\"", typ, len(got), got)
		}
	}
}
