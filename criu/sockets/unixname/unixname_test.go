package unixname

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/errdefs"
	"github.com/criugo/criu/criu/nsenter"
	"github.com/criugo/criu/criu/sockets/unixdiag"
	"github.com/criugo/criu/proto/images"
)

// Dir finds the directory of a socket bound to a relative
// name (also one under a subdirectory, also one whose file was deleted);
// a name that is not the end of its file's path (dot, dot-dot, a symlink)
// is refused by name.
func TestRelativeNameDir(t *testing.T) {
	dir, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"sub", "real"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("real", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	d, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(d)
	for _, c := range []struct {
		name, dir string
		unlink    bool
	}{
		{"a.sock", dir, false},
		{"sub/b.sock", dir, false},
		{"gone.sock", dir, true},
		{"./c.sock", "", false},
		{"sub/../e.sock", "", false},
		{"link/f.sock", "", false},
	} {
		fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer unix.Close(fd)
		if err := nsenter.InDir(d, func() error { return unix.Bind(fd, &unix.SockaddrUnix{Name: c.name}) }); err != nil {
			t.Fatalf("bind %s: %v", c.name, err)
		}
		if c.unlink {
			os.Remove(filepath.Join(dir, c.name))
		}
		if sa, err := unix.Getsockname(fd); err != nil || sa.(*unix.SockaddrUnix).Name != c.name {
			t.Fatalf("%s: getsockname %v %v", c.name, sa, err)
		}
		all, err := unixdiag.List()
		if err != nil {
			t.Skipf("sock_diag: %v", err)
		}
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			t.Fatal(err)
		}
		got, err := Dir(fd, c.name, all[uint32(st.Ino)].VFSIno)
		switch {
		case c.dir == "" && !errors.Is(err, errdefs.ErrUnsupported):
			t.Errorf("%s: %q, %v; want refused", c.name, got, err)
		case c.dir != "" && (err != nil || got != c.dir):
			t.Errorf("%s: %q, %v; want %q", c.name, got, err, c.dir)
		}
		if c.dir == "" {
			continue
		}
		// Restore's side: the file of the name is where it was.
		e := &images.UnixSkEntry{Name: []byte(c.name), NameDir: &got}
		if p := Path(e); p != filepath.Join(dir, c.name) {
			t.Errorf("%s: Path %q", c.name, p)
		}
	}
}
