package fsnotify

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/crtest"
	"github.com/criugo/criu/proto/images"
)

// fanotifyGroup makes a fanotify group of flags (FAN_CLASS_NOTIF and
// FAN_NONBLOCK added); its fd is close-on-exec either way.
func fanotifyGroup(t *testing.T, flags uint) int {
	crtest.RequireRoot(t)
	syscall.ForkLock.RLock()
	fd, err := unix.FanotifyInit(unix.FAN_CLASS_NOTIF|unix.FAN_NONBLOCK|flags, unix.O_RDONLY)
	if err == nil {
		unix.CloseOnExec(fd)
	}
	syscall.ForkLock.RUnlock()
	if errors.Is(err, unix.ENOSYS) {
		t.Skipf("fanotify_init: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return fd
}

// marks is the mark lines of a fanotify fdinfo, sorted as the kernel
// shows them.
func marks(t *testing.T, fd int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/self/fdinfo/%d", fd))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "fanotify ") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestFanotifyRoundTrip: a group's flags (without FAN_CLOEXEC: the
// restorer's fd is close-on-exec all the same, but the group must not
// gain the flag) and its inode and mount marks, with ignored masks and
// mark flags, come back as fdinfo showed them.
func TestFanotifyRoundTrip(t *testing.T) {
	fd := fanotifyGroup(t, 0)
	dir, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "f")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, m := range []struct {
		flags uint
		mask  uint64
		path  string
	}{
		{unix.FAN_MARK_ADD, unix.FAN_OPEN | unix.FAN_CLOSE_WRITE, file},
		{unix.FAN_MARK_ADD | unix.FAN_MARK_IGNORED_MASK | unix.FAN_MARK_IGNORED_SURV_MODIFY, unix.FAN_MODIFY, file},
		{unix.FAN_MARK_ADD, unix.FAN_MODIFY | unix.FAN_EVENT_ON_CHILD | unix.FAN_ONDIR, dir},
		{unix.FAN_MARK_ADD | unix.FAN_MARK_MOUNT, unix.FAN_CLOSE_WRITE, "/"},
	} {
		if err := unix.FanotifyMark(fd, m.flags, m.mask, unix.AT_FDCWD, m.path); err != nil {
			t.Fatalf("fanotify_mark %s: %v", m.path, err)
		}
	}
	f, err := AddFanotify(os.Getpid(), 0, fd, 1, unix.O_RDONLY|unix.O_NONBLOCK)
	if err != nil {
		t.Fatal(err)
	}
	nfd, err := OpenFanotify(f, "/proc/self/root")
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(nfd)
	if got, want := marks(t, nfd), marks(t, fd); got != want {
		t.Errorf("restored group and marks\n%s\nwant\n%s", got, want)
	}
	if fl, err := unix.FcntlInt(uintptr(nfd), unix.F_GETFD, 0); err != nil || fl&unix.FD_CLOEXEC == 0 {
		t.Errorf("restorer's fd: F_GETFD %#x, %v: not close-on-exec", fl, err)
	}
	// The group's FAN_CLOEXEC, where it had it, comes back too.
	cfd := fanotifyGroup(t, unix.FAN_CLOEXEC)
	f, err = AddFanotify(os.Getpid(), 0, cfd, 2, unix.O_RDONLY|unix.O_NONBLOCK)
	if err != nil {
		t.Fatal(err)
	}
	nfd2, err := OpenFanotify(f, "/proc/self/root")
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(nfd2)
	if got, want := marks(t, nfd2), marks(t, cfd); got != want || !strings.Contains(got, "flags:3 ") {
		t.Errorf("group of FAN_CLOEXEC restored as\n%s\nwant\n%s", got, want)
	}
}

// TestFanotifyFilesystemMark: a filesystem mark, which CRIU's image has
// no type for, is saved as a mount mark flagged FAN_MARK_FILESYSTEM (so
// crit reads it) and comes back on the same filesystem, with its mask,
// ignored mask and flags, as fdinfo showed it.
func TestFanotifyFilesystemMark(t *testing.T) {
	fd := fanotifyGroup(t, unix.FAN_CLOEXEC)
	if err := unix.FanotifyMark(fd, unix.FAN_MARK_ADD|unix.FAN_MARK_FILESYSTEM, unix.FAN_CLOSE_WRITE|unix.FAN_OPEN, unix.AT_FDCWD, "/"); err != nil {
		t.Skipf("fanotify_mark(FAN_MARK_FILESYSTEM): %v", err)
	}
	if err := unix.FanotifyMark(fd, unix.FAN_MARK_ADD|unix.FAN_MARK_FILESYSTEM|unix.FAN_MARK_IGNORED_MASK|unix.FAN_MARK_IGNORED_SURV_MODIFY, unix.FAN_MODIFY, unix.AT_FDCWD, "/dev/shm"); err != nil {
		t.Fatal(err)
	}
	f, err := AddFanotify(os.Getpid(), 0, fd, 1, unix.O_RDONLY)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range f.GetFfy().GetMark() {
		if m.GetType() != images.MarkType_MOUNT || m.GetMflags()&unix.FAN_MARK_FILESYSTEM == 0 || m.GetMe().GetPath() == "" {
			t.Errorf("mark saved as %v, want a MOUNT mark flagged FAN_MARK_FILESYSTEM with a path", m)
		}
	}
	nfd, err := OpenFanotify(f, "/proc/self/root")
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(nfd)
	if got, want := marks(t, nfd), marks(t, fd); got != want || !strings.Contains(got, "sdev:") {
		t.Errorf("restored marks\n%s\nwant\n%s", got, want)
	}
}
