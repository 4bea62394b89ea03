package fsnotify

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"

	"github.com/criugo/criu/criu/crtest"
	"github.com/criugo/criu/proto/images"
)

// TestInotifyHandlePath: a watch named only by its file handle, as in
// CRIU's images, finds its file again.
func TestInotifyHandlePath(t *testing.T) {
	crtest.RequireRoot(t)
	dir, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "watched")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	h, _, err := unix.NameToHandleAt(unix.AT_FDCWD, file, 0)
	if errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.ENOSYS) {
		t.Skipf("name_to_handle_at: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	var st unix.Stat_t
	if err := unix.Stat(file, &st); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 128)
	copy(b, h.Bytes())
	var words []uint64
	for i := 0; i < len(b); i += 8 {
		words = append(words, binary.LittleEndian.Uint64(b[i:]))
	}
	w := &images.InotifyWdEntry{
		SDev: proto.Uint32(unix.Major(st.Dev)<<20 | unix.Minor(st.Dev)), IIno: proto.Uint64(st.Ino),
		FHandle: &images.FhEntry{Bytes: proto.Uint32(uint32(h.Size())), Type: proto.Uint32(uint32(h.Type())), Handle: words},
	}
	fd, err := handleFd(w, "")
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	var got unix.Stat_t
	if err := unix.Fstat(fd, &got); err != nil {
		t.Fatal(err)
	}
	if got.Ino != st.Ino || got.Dev != st.Dev {
		t.Errorf("the handle opened inode %d, want %d (%s)", got.Ino, st.Ino, file)
	}
	w.FHandle.Bytes = proto.Uint32(200)
	if _, err := handleFd(w, ""); err == nil {
		t.Error("a handle longer than its words: no error")
	}
}
