package files

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"

	"github.com/criugo/criu/criu/cleanup"
	"github.com/criugo/criu/criu/crtest"
	"github.com/criugo/criu/criu/errdefs"
	"github.com/criugo/criu/criu/nsenter/nstest"
	"github.com/criugo/criu/proto/images"
)

func counter() func() uint32 {
	next := uint32(1)
	return func() uint32 { next++; return next - 1 }
}

// TestGhostRoundTrip: a file deleted while open is saved with its holes,
// made again at its path by restore, and removed again.
func TestGhostRoundTrip(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", "deleted")
	if err := os.Mkdir(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o640)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// Data, a hole of 4 pages, data: saved as chunks.
	head, tail := bytes.Repeat([]byte("h"), 4096), bytes.Repeat([]byte("t"), 100)
	f.WriteAt(head, 0)
	f.WriteAt(tail, 5*4096)
	os.Remove(path)
	os.Remove(filepath.Dir(path))

	s, next := NewSet(), counter()
	link := fmt.Sprintf("/proc/self/fd/%d", f.Fd())
	id, e, err := s.AddReg(next, path, link, unix.O_RDWR, 0)
	if err != nil || e == nil {
		t.Fatalf("AddReg: %v, %v", e, err)
	}
	if again, e2, _ := s.AddReg(next, path, link, unix.O_RDWR, 0); again != id || e2 != nil {
		t.Fatalf("second AddReg of the same path and flags: id %d (want %d), entry %v", again, id, e2)
	}
	var st unix.Stat_t
	unix.Fstat(int(f.Fd()), &st)
	if !s.Ghost(st.Dev, st.Ino) {
		t.Fatal("the deleted file is not a ghost")
	}
	store := nstest.Dir(t)
	ctx := context.Background()
	if err := s.WriteGhosts(ctx, store); err != nil {
		t.Fatal(err)
	}
	if err := s.WriteRemaps(ctx, store); err != nil {
		t.Fatal(err)
	}
	remaps, _, _, err := ReadRemaps(ctx, store)
	if err != nil || len(remaps) != 1 {
		t.Fatalf("remaps %v, %v", remaps, err)
	}
	files := map[uint32]*images.FileEntry{id: e}
	gs := NewGhosts()
	var undo cleanup.Cleanup
	defer undo.Run()
	if err := gs.Make(ctx, store, files, remaps, &undo); err != nil {
		t.Fatal(err)
	}
	p, reg, err := gs.Path(files, id)
	if err != nil || p != path || reg.GetName() != path {
		t.Fatalf("Path = %q, %v, %v; want %q", p, reg, err, path)
	}
	got, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	want := make([]byte, 5*4096+len(tail))
	copy(want, head)
	copy(want[5*4096:], tail)
	if !bytes.Equal(got, want) {
		t.Fatalf("ghost holds %d bytes, want %d", len(got), len(want))
	}
	var gst unix.Stat_t
	if err := unix.Stat(p, &gst); err != nil {
		t.Fatal(err)
	}
	if gst.Mode&0o7777 != 0o640 {
		t.Errorf("ghost mode %#o, want 0640", gst.Mode&0o7777)
	}
	if gst.Blocks*512 >= int64(len(want)) {
		t.Logf("ghost uses %d bytes of disk for %d: holes not kept by this file system", gst.Blocks*512, len(want))
	}
	gs.Remove()
	if _, err := os.Lstat(filepath.Dir(path)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the ghost's directory is left: %v", err)
	}
}

// TestGhostFifo: a fifo deleted while open (only a read end left, whose
// open at dump would block) is a ghost whose image is its entry alone;
// restore makes a fifo of its mode at its path, and removes it again.
func TestGhostFifo(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ff")
	if err := unix.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o604); err != nil {
		t.Fatal(err)
	}
	rd, err := unix.Open(path, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(rd)
	os.Remove(path)
	s, next := NewSet(), counter()
	id, e, err := s.AddReg(next, path, fmt.Sprintf("/proc/self/fd/%d", rd), unix.O_RDONLY|unix.O_NONBLOCK, 0)
	if err != nil || e == nil {
		t.Fatalf("AddReg: %v, %v", e, err)
	}
	store := nstest.Dir(t)
	ctx := context.Background()
	if err := s.WriteGhosts(ctx, store); err != nil {
		t.Fatal(err)
	}
	remaps := map[uint32]uint32{}
	for _, r := range s.remaps {
		remaps[r.GetOrigId()] = r.GetRemapId()
	}
	if len(remaps) != 1 {
		t.Fatalf("remaps %v, want the fifo's", remaps)
	}
	files := map[uint32]*images.FileEntry{id: e}
	gs := NewGhosts()
	var undo cleanup.Cleanup
	defer undo.Run()
	if err := gs.Make(ctx, store, files, remaps, &undo); err != nil {
		t.Fatal(err)
	}
	p, ok := gs.Of(id)
	var st unix.Stat_t
	if !ok || unix.Stat(p, &st) != nil || st.Mode != unix.S_IFIFO|0o604 {
		t.Fatalf("ghost %q (%v): mode %#o, want a fifo of 0604", p, ok, st.Mode)
	}
	gs.Remove()
	if _, err := os.Lstat(p); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the ghost fifo is left: %v", err)
	}
}

// TestReadRemapsNone: no remap-fpath.img is no ghost.
func TestReadRemapsNone(t *testing.T) {
	remaps, _, _, err := ReadRemaps(context.Background(), nstest.Dir(t))
	if err != nil || len(remaps) != 0 {
		t.Fatalf("ReadRemaps = %v, %v", remaps, err)
	}
}

// selfTree is a Tree of this process: its fds copied with dup, its pid
// seen as 42.
type selfTree struct{}

func (selfTree) GetFd(pid, fd int) (int, error) {
	return unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
}

func (selfTree) InnerOwner(typ, pid int) (int, bool) {
	if typ == OwnerPid && pid == os.Getpid() {
		return 42, true
	}
	return 0, false
}

func TestSetFown(t *testing.T) {
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(p[0])
	defer unix.Close(p[1])
	e := &images.FileEntry{Pipe: &images.PipeEntry{}}
	if err := SetFown(selfTree{}, os.Getpid(), p[0], unix.O_RDONLY, e); err != nil || e.Pipe.Fown != nil {
		t.Fatalf("no owner: fown %v, %v", e.Pipe.Fown, err)
	}
	if _, err := unix.FcntlInt(uintptr(p[0]), unix.F_SETSIG, int(unix.SIGUSR1)); err != nil {
		t.Fatal(err)
	}
	if _, err := unix.FcntlInt(uintptr(p[0]), unix.F_SETOWN, os.Getpid()); err != nil {
		t.Fatal(err)
	}
	if err := SetFown(selfTree{}, os.Getpid(), p[0], unix.O_RDONLY, e); err != nil {
		t.Fatal(err)
	}
	fo := fownOf(e)
	if fo.GetPid() != 42 || fo.GetPidType() != OwnerPid || fo.GetSignum() != uint32(unix.SIGUSR1) {
		t.Fatalf("fown %v", fo)
	}
	if err := SetFown(selfTree{}, os.Getpid(), p[0], unix.O_RDONLY, &images.FileEntry{}); !errors.Is(err, errdefs.ErrUnsupported) {
		t.Fatalf("fown on an entry without one: %v", err)
	}
	// An owner outside the tree is refused.
	if _, err := unix.FcntlInt(uintptr(p[0]), unix.F_SETOWN, -unix.Getpgrp()); err != nil {
		t.Fatal(err)
	}
	if err := SetFown(selfTree{}, os.Getpid(), p[0], unix.O_RDONLY, e); !errors.Is(err, errdefs.ErrUnsupported) {
		t.Fatalf("owner outside the tree: %v", err)
	}
}

// A file deleted while open that keeps a link elsewhere is refused by
// name (CRIU 4.2 wants --link-remap), also once another file took its
// name; the file still at its name is not.
func TestAddRegLinkedRefused(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	if err := os.WriteFile(a, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(a, b); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(a)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	link := fmt.Sprintf("/proc/self/fd/%d", f.Fd())
	if _, _, err := NewSet().AddReg(counter(), a, link, unix.O_RDONLY, 0); err != nil {
		t.Fatalf("the file at its name: %v", err)
	}
	os.Remove(a)
	_, _, err = NewSet().AddReg(counter(), a, link, unix.O_RDONLY, 0)
	if !errors.Is(err, errdefs.ErrUnsupported) || !strings.Contains(err.Error(), a+" was deleted") {
		t.Fatalf("deleted, linked elsewhere: %v", err)
	}
	if err := os.WriteFile(a, []byte("other"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := NewSet().AddReg(counter(), a, link, unix.O_RDONLY, 0); !errors.Is(err, errdefs.ErrUnsupported) {
		t.Fatalf("its name taken by another file: %v", err)
	}
}

// A file linked back from the link a dump with --link-remap made
// (CRIU's LINKED remap) is opened at its own name again, and both names
// are gone after Remove: the file reads as deleted, as before the dump.
// At its link when its name is taken; a failed restore keeps the link.
func TestLinkedRemap(t *testing.T) {
	dir := t.TempDir()
	a, l := filepath.Join(dir, "a"), filepath.Join(dir, "link_remap.20")
	if err := os.WriteFile(l, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	reg := func(id uint32, name string) *images.FileEntry {
		return &images.FileEntry{Id: proto.Uint32(id), Reg: &images.RegFileEntry{Id: proto.Uint32(id), Name: proto.String(name)}}
	}
	files := map[uint32]*images.FileEntry{19: reg(19, a), 20: reg(20, l)}
	var undo cleanup.Cleanup
	gs := NewGhosts()
	if err := gs.Link(files, map[uint32]uint32{19: 20}, &undo); err != nil {
		t.Fatal(err)
	}
	if p, ok := gs.Of(19); !ok || p != a {
		t.Fatalf("file 19 is opened from %q %v, want %s", p, ok, a)
	}
	var sa, sl unix.Stat_t
	if unix.Stat(a, &sa) != nil || unix.Stat(l, &sl) != nil || sa.Ino != sl.Ino {
		t.Fatal("a is not linked to the dump's link")
	}
	gs.Remove()
	for _, p := range []string{a, l} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("%s left after Remove", p)
		}
	}

	// The name taken: opened at the link; the undo keeps the link.
	os.WriteFile(l, []byte("x"), 0o644)
	os.WriteFile(a, []byte("another"), 0o644)
	gs = NewGhosts()
	undo = cleanup.Cleanup{}
	if err := gs.Link(files, map[uint32]uint32{19: 20}, &undo); err != nil {
		t.Fatal(err)
	}
	if p, _ := gs.Of(19); p != l {
		t.Errorf("with its name taken, file 19 is opened from %q, want %s", p, l)
	}
	undo.Run()
	if _, err := os.Stat(l); err != nil {
		t.Errorf("the failed restore removed the dump's link: %v", err)
	}
	if b, _ := os.ReadFile(a); string(b) != "another" {
		t.Errorf("the failed restore changed %s: %q", a, b)
	}
}

// A file deleted while open is kept up to the ghost limit of data
// (CRIU's --ghost-limit, default 1 MiB), counted in the blocks it holds:
// past it the dump is refused by name, a larger limit keeps it, and a
// sparse file's holes do not count.
func TestGhostLimit(t *testing.T) {
	dir := t.TempDir()
	open := func(name string, size int64, data []int64) string {
		p := filepath.Join(dir, name)
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		if err := f.Truncate(size); err != nil {
			t.Fatal(err)
		}
		for _, off := range data {
			if _, err := f.WriteAt(make([]byte, 1<<20), off); err != nil {
				t.Fatal(err)
			}
		}
		if err := f.Sync(); err != nil {
			t.Fatal(err)
		}
		os.Remove(p)
		return fmt.Sprintf("/proc/self/fd/%d", f.Fd())
	}
	big := open("big", 3<<20, []int64{0, 1 << 20, 2 << 20})
	sparse := open("sparse", 1<<30, []int64{512 << 20})
	bigPath := filepath.Join(dir, "big")

	_, _, err := NewSet().AddReg(counter(), bigPath, big, unix.O_RDONLY, 0)
	if !errors.Is(err, errdefs.ErrUnsupported) || !strings.Contains(err.Error(), bigPath+" was deleted while open and holds") ||
		!strings.Contains(err.Error(), "--ghost-limit") {
		t.Fatalf("3 MiB of data, default limit: %v", err)
	}
	s := NewSet()
	s.GhostLimit = 4 << 20
	if _, _, err := s.AddReg(counter(), bigPath, big, unix.O_RDONLY, 0); err != nil || len(s.ghosts) != 1 {
		t.Fatalf("3 MiB of data, limit 4 MiB: %v (%d ghosts)", err, len(s.ghosts))
	}
	s = NewSet()
	if _, _, err := s.AddReg(counter(), filepath.Join(dir, "sparse"), sparse, unix.O_RDONLY, 0); err != nil || len(s.ghosts) != 1 {
		t.Fatalf("1 GiB sparse file with 1 MiB of data, default limit: %v (%d ghosts)", err, len(s.ghosts))
	}
	s = NewSet()
	s.GhostLimit = 0
	if _, _, err := s.AddReg(counter(), filepath.Join(dir, "sparse"), sparse, unix.O_RDONLY, 0); !errors.Is(err, errdefs.ErrUnsupported) {
		t.Fatalf("limit 0: %v", err)
	}
}

// A /proc file of a task of the tree, named by its pid in criu's pid
// namespace, is refused when the task has another pid in the tree's
// (restore keeps only that one), and kept when the pids are the same or
// the task is not the tree's; other files are not looked at.
func TestCheckProcPid(t *testing.T) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	link := fmt.Sprintf("/proc/self/fd/%d", f.Fd())
	path, err := os.Readlink(link)
	if err != nil {
		t.Fatal(err)
	}
	me := os.Getpid()
	inner := func(vpid int) func(int) (int, bool) {
		return func(pid int) (int, bool) { return vpid, pid == me }
	}
	if err := checkProcPid(path, link, inner(2)); !errors.Is(err, errdefs.ErrUnsupported) || !strings.Contains(err.Error(), path+" is a file of task") {
		t.Errorf("%s of a task that is 2 in the tree: %v", path, err)
	}
	if err := checkProcPid(path, link, inner(me)); err != nil {
		t.Errorf("%s of a task of the same pid in the tree: %v", path, err)
	}
	if err := checkProcPid(path, link, func(int) (int, bool) { return 0, false }); err != nil {
		t.Errorf("%s of a task outside the tree: %v", path, err)
	}
	d, err := os.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	dl := fmt.Sprintf("/proc/self/fd/%d", d.Fd())
	if err := checkProcPid(fmt.Sprintf("/tmp/%d", me), dl, inner(2)); err != nil {
		t.Errorf("a file off /proc: %v", err)
	}
	// Through Set.AddReg, as the dump records an fd.
	s := NewSet()
	s.TreePid = inner(2)
	if _, _, err := s.AddReg(counter(), path, link, unix.O_RDONLY, 0); !errors.Is(err, errdefs.ErrUnsupported) {
		t.Errorf("AddReg %s: %v", path, err)
	}
}

// A file open on a mount that was lazily unmounted (MNT_DETACH) has a
// path from that mount's root, which leads to nothing (or to another
// file): it is refused by name, as CRIU 4.2 refuses it; while mounted it
// is taken.
func TestDetachedMountRefused(t *testing.T) {
	crtest.RequireRoot(t)
	dir := t.TempDir()
	if err := unix.Mount("zdtm-detached", dir, "tmpfs", 0, "size=1m"); err != nil {
		t.Fatal(os.NewSyscallError("mount", err))
	}
	mounted := true
	defer func() {
		if mounted {
			unix.Unmount(dir, unix.MNT_DETACH)
		}
	}()
	f, err := os.Create(filepath.Join(dir, "file"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// A task of its own holds it (criu's own fds are not checked).
	cmd := exec.Command("sleep", "100")
	cmd.ExtraFiles = []*os.File{f}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	link := fmt.Sprintf("/proc/%d/fd/3", cmd.Process.Pid)
	if _, _, err := NewSet().AddReg(counter(), filepath.Join(dir, "file"), link, unix.O_RDWR, 0); err != nil {
		t.Fatalf("the file on its mount: %v", err)
	}
	if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil {
		t.Fatal(os.NewSyscallError("umount2", err))
	}
	mounted = false
	path, err := os.Readlink(link)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = NewSet().AddReg(counter(), path, link, unix.O_RDWR, 0)
	if !errors.Is(err, errdefs.ErrUnsupported) || !strings.Contains(err.Error(), "lazily unmounted") {
		t.Fatalf("the file %s on the detached mount: %v", path, err)
	}
}

// A file deleted while open with an inode flag its ghost copy cannot
// keep (chattr +A, no-atime; +a, append-only, set on the open file after
// its unlink) is refused by name; with none it is a ghost.
func TestGhostIflagsRefused(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		flag int
		name string
	}{{0, ""}, {0x80, "no-atime"}, {0x20, "append-only"}} {
		p := filepath.Join(dir, fmt.Sprint(tc.flag))
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		os.Remove(p)
		if tc.flag != 0 {
			fl, err := unix.IoctlGetInt(int(f.Fd()), unix.FS_IOC_GETFLAGS)
			if err != nil {
				t.Skipf("no FS_IOC_GETFLAGS on %s: %v", dir, err)
			}
			if err := unix.IoctlSetPointerInt(int(f.Fd()), unix.FS_IOC_SETFLAGS, fl|tc.flag); err != nil {
				t.Skipf("FS_IOC_SETFLAGS %#x on %s: %v", tc.flag, dir, err)
			}
			defer unix.IoctlSetPointerInt(int(f.Fd()), unix.FS_IOC_SETFLAGS, fl)
		}
		link := fmt.Sprintf("/proc/self/fd/%d", f.Fd())
		s := NewSet()
		_, _, err = s.AddReg(counter(), p, link, unix.O_RDWR, 0)
		if tc.flag == 0 {
			if err != nil || len(s.ghosts) != 1 {
				t.Errorf("no flag: %v (%d ghosts)", err, len(s.ghosts))
			}
			continue
		}
		if !errors.Is(err, errdefs.ErrUnsupported) || !strings.Contains(err.Error(), tc.name) {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
}

// A task whose root (chroot) was removed while it was its cwd too is
// taken, root and cwd, as the removed directory (a ghost: restore
// chroots into its cwd); one whose cwd is elsewhere (a chroot without a
// chdir) is refused at dump by name. CRIU 4.2 fails on both in its
// parasite.
func TestFsDirRemovedRoot(t *testing.T) {
	crtest.RequireRoot(t)
	bb, err := os.ReadFile("/bin/busybox")
	if err != nil {
		t.Skip("no /bin/busybox (busybox-static): ", err)
	}
	for _, cwd := range []string{"/", ""} {
		top := t.TempDir()
		dir := filepath.Join(top, "root")
		if err := os.Mkdir(dir, 0o710); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "busybox"), bb, 0o755); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("/busybox", "sleep", "100")
		cmd.SysProcAttr = &syscall.SysProcAttr{Chroot: dir}
		cmd.Dir = cwd // "": no chdir, the cwd stays outside the root
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { cmd.Process.Kill(); cmd.Wait() }()
		pid := cmd.Process.Pid
		if p, err := FsDir(pid, "root", false); err != nil || p != dir {
			t.Fatalf("the root before its removal: %q, %v", p, err)
		}
		if err := os.Remove(filepath.Join(dir, "busybox")); err != nil {
			t.Fatal(err)
		}
		if err := os.Remove(dir); err != nil {
			t.Fatal(err)
		}
		p, err := FsDir(pid, "root", false)
		if cwd == "" {
			if !errors.Is(err, errdefs.ErrUnsupported) || !strings.Contains(err.Error(), "with the cwd elsewhere") {
				t.Fatalf("the removed root, the cwd elsewhere: %q, %v", p, err)
			}
			continue
		}
		if err != nil || p != dir {
			t.Fatalf("the removed root that is the cwd: %q, %v (want %s)", p, err, dir)
		}
		if p, err := FsDir(pid, "cwd", false); err != nil || p != dir {
			t.Fatalf("the removed cwd: %q, %v (want %s)", p, err, dir)
		}
	}
}

// A /proc file of a task that has exited (open after its child was
// reaped, as upstream zdtm's remap_dead_pid) names the pid restore makes
// a helper of (REMAP_TYPE_PROCFS, remap_id the pid, as CRIU 4.2 writes
// it), read back as such; the same file of a live task needs none.
func TestProcGone(t *testing.T) {
	cmd := exec.Command("sleep", "100")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(fmt.Sprintf("/proc/%d/mountinfo", cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	link := fmt.Sprintf("/proc/%d/fd/%d", os.Getpid(), f.Fd())
	path, err := os.Readlink(link)
	if err != nil {
		t.Fatal(err)
	}
	if pid, err := procGone(path, link); err != nil || pid != 0 {
		t.Errorf("%s of a live task: %d, %v", path, pid, err)
	}
	cmd.Process.Kill()
	cmd.Wait()
	if pid, err := procGone(path, link); err != nil || pid != cmd.Process.Pid {
		t.Errorf("%s of a reaped task: %d, %v (want %d)", path, pid, err, cmd.Process.Pid)
	}
	s := NewSet()
	id, _, err := s.AddReg(func() uint32 { return 7 }, path, link, 0, 0)
	if err != nil {
		t.Fatalf("AddReg of %s of a reaped task: %v", path, err)
	}
	store := nstest.Dir(t)
	ctx := context.Background()
	if err := s.WriteRemaps(ctx, store); err != nil {
		t.Fatal(err)
	}
	if _, _, dead, err := ReadRemaps(ctx, store); err != nil || dead[id] != uint32(cmd.Process.Pid) {
		t.Errorf("read back: %v, %v (want file %d: pid %d)", dead, err, id, cmd.Process.Pid)
	}
}
