package pipes

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/nsenter/nstest"
)

// selfTree is a Tree of this process alone: its fds are copied with dup.
type selfTree struct{ next uint32 }

func (t *selfTree) GetFd(pid, fd int) (int, error) {
	return unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
}
func (t *selfTree) ID() uint32 { t.next++; return t.next - 1 }
func (t *selfTree) AddReg(string, string, uint32, int64) (uint32, error) {
	return t.ID(), nil
}

func pipe2(t *testing.T) (r, w int) {
	t.Helper()
	var fds [2]int
	if err := unix.Pipe2(fds[:], unix.O_CLOEXEC|unix.O_NONBLOCK); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fds[0]); unix.Close(fds[1]) })
	return fds[0], fds[1]
}

func readAll(t *testing.T, fd int) []byte {
	t.Helper()
	var out []byte
	b := make([]byte, 4096)
	for {
		n, err := unix.Read(fd, b)
		if err == unix.EAGAIN || n == 0 {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b[:n]...)
	}
}

// TestPipeDataRoundTrip: the bytes a pipe holds at dump are left in it,
// written to pipes-data.img, and put back in the pipe restore makes.
func TestPipeDataRoundTrip(t *testing.T) {
	r, w := pipe2(t)
	want := bytes.Repeat([]byte("criu pipe "), 300)
	if _, err := unix.Write(w, want); err != nil {
		t.Fatal(err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(r, &st); err != nil {
		t.Fatal(err)
	}
	s, tr := NewSet(), &selfTree{next: 1}
	re, err := s.AddPipe(tr, os.Getpid(), r, &st, unix.O_RDONLY)
	if err != nil {
		t.Fatal(err)
	}
	we, err := s.AddPipe(tr, os.Getpid(), w, &st, unix.O_WRONLY)
	if err != nil {
		t.Fatal(err)
	}
	if re.GetPipe().GetPipeId() != uint32(st.Ino) || re.GetId() == we.GetId() {
		t.Fatalf("entries %v %v", re, we)
	}
	store := nstest.Dir(t)
	if err := s.Write(context.Background(), store, zerolog.New(zerolog.NewTestWriter(t))); err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, r); !bytes.Equal(got, want) {
		t.Fatalf("the dumped pipe holds %d bytes, want %d", len(got), len(want))
	}
	data, err := ReadData(context.Background(), store, PipesDataImage)
	if err != nil {
		t.Fatal(err)
	}
	if fifo, err := ReadData(context.Background(), store, FifoDataImage); err != nil || len(fifo) != 0 {
		t.Fatalf("fifo data %v, %v; want none", fifo, err)
	}
	var kept []int
	defer func() {
		for _, fd := range kept {
			unix.Close(fd)
		}
	}()
	m := NewMasters(data, nil, func(fd int) { kept = append(kept, fd) })
	rfd, err := m.Pipe(re.GetPipe())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Pipe(we.GetPipe()); err != nil {
		t.Fatal(err)
	}
	unix.SetNonblock(rfd, true)
	if got := readAll(t, rfd); !bytes.Equal(got, want) {
		t.Fatalf("the restored pipe holds %d bytes, want %d", len(got), len(want))
	}
	if k := Key(re.GetPipe()); k != fmt.Sprintf("pipe:[%d]", st.Ino) {
		t.Fatalf("Key = %q", k)
	}
}

// TestWriteEndOnly: a pipe whose read end is outside the tree keeps its
// bytes there; the image holds only its buffer size.
func TestWriteEndOnly(t *testing.T) {
	r, w := pipe2(t)
	if _, err := unix.Write(w, []byte("outside")); err != nil {
		t.Fatal(err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(w, &st); err != nil {
		t.Fatal(err)
	}
	s := NewSet()
	if _, err := s.AddPipe(&selfTree{}, os.Getpid(), w, &st, unix.O_WRONLY); err != nil {
		t.Fatal(err)
	}
	store := nstest.Dir(t)
	if err := s.Write(context.Background(), store, zerolog.New(zerolog.NewTestWriter(t))); err != nil {
		t.Fatal(err)
	}
	data, err := ReadData(context.Background(), store, PipesDataImage)
	if err != nil {
		t.Fatal(err)
	}
	pd := data[uint32(st.Ino)]
	if pd == nil || len(pd.data) != 0 || pd.size == 0 {
		t.Fatalf("data %+v, want a size and no bytes", pd)
	}
	if got := readAll(t, r); string(got) != "outside" {
		t.Fatalf("pipe holds %q", got)
	}
}

// TestEndInTree finds the ends of a pipe among the fds of this process.
func TestEndInTree(t *testing.T) {
	r, _ := pipe2(t)
	var st unix.Stat_t
	if err := unix.Fstat(r, &st); err != nil {
		t.Fatal(err)
	}
	for _, read := range []bool{true, false} {
		got, err := EndInTree([]int{os.Getpid()}, st.Ino, read)
		if err != nil || !got {
			t.Errorf("EndInTree(read=%v) = %v, %v; want true", read, got, err)
		}
	}
	if got, err := EndInTree(nil, st.Ino, true); err != nil || got {
		t.Errorf("EndInTree(no task) = %v, %v; want false", got, err)
	}
}
