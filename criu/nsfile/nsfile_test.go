package nsfile

import (
	"errors"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/errdefs"
)

func TestParse(t *testing.T) {
	for in, want := range map[string]string{"net:[4026531840]": "net", "pid:[4026531836]": "pid", "time:[1]": "time"} {
		if k, _, ok := Parse(in); !ok || k != want {
			t.Errorf("Parse(%q) = %q, %v", in, k, ok)
		}
	}
	for _, in := range []string{"socket:[123]", "pipe:[1]", "net:[x]", "net:123", "/proc/self/ns/net", "anon_inode:[eventfd]"} {
		if _, _, ok := Parse(in); ok {
			t.Errorf("Parse(%q) took it", in)
		}
	}
}

// A file of a namespace that is not the tree's, and a user namespace
// file, are refused by name; one of the tree's is its ns_file_entry.
func TestEntry(t *testing.T) {
	tree := func(kind string, ino uint64) (uint32, bool) { return 9, kind == "net" && ino == 100 }
	e, err := Entry(5, "net", 100, unix.O_RDONLY, tree)
	if err != nil || e.GetNsf().GetNsId() != 9 || e.GetNsf().GetNsCflag() != unix.CLONE_NEWNET || e.GetId() != 5 {
		t.Fatalf("Entry: %v, %v", e, err)
	}
	for _, c := range []struct {
		kind string
		ino  uint64
	}{{"net", 101}, {"user", 100}} {
		if _, err := Entry(5, c.kind, c.ino, 0, tree); !errors.Is(err, errdefs.ErrUnsupported) {
			t.Errorf("Entry(%s %d): %v, want ErrUnsupported", c.kind, c.ino, err)
		}
	}
	if _, err := Open(e.GetNsf(), "/proc/self/ns", func(string) uint32 { return 8 }); !errors.Is(err, errdefs.ErrUnsupported) {
		t.Errorf("Open of another namespace id: %v", err)
	}
	fd, err := Open(e.GetNsf(), "/proc/self/ns", func(string) uint32 { return 9 })
	if err != nil {
		t.Fatal(err)
	}
	unix.Close(fd)
}
