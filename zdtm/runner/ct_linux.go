package runner

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/procfs"
)

// The ct flavor: the test is pid 1 of new pid, net, uts and ipc
// namespaces (as in ns) and of a mount namespace pivot_root'ed into a
// rootfs the runner lays out, a container's. The runner makes the
// rootfs (a directory with the mount points and the host's top-level
// symlinks) and says which host directories are bound where; the test
// library (lib/ct.c), in the test's pid 1, mounts them, the filesystems
// made anew, pivot_roots and executes the test again inside.
//
// Inside the container:
//
//	/usr /lib* /bin /sbin   the host's, bound read-only (a symlink such as
//	                        /bin -> usr/bin is made as the same symlink)
//	ZDTM_DIR                the zdtm directory at its own path, read-only:
//	                        the test binaries (and the directory of a
//	                        --bin test outside it)
//	RUN_DIR                 the test's run directory (outfile, pidfile,
//	                        work/) at its own path, read-write
//	/mnt/zdtm-ext           the extra bind: RUN_DIR/ext, read-write
//	/proc                   a fresh proc of the test's pid namespace
//	/dev                    a tmpfs: null, zero, full, random, urandom,
//	                        tty, net/tun, ptmx -> pts/ptmx, fd and std* links
//	/dev/pts                a new devpts instance
//	/dev/shm /tmp           tmpfs
//
// criu is told about the binds as runc tells it about a container's:
// dump with --external mnt[DST]:DST (the key is the mount point),
// restore with --root ROOTFS and --external mnt[DST]:SRC.

// ctSystemDirs are the host directories bound read-only into the
// rootfs, or made there as the same symlink.
var ctSystemDirs = []string{"/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"}

// ctExtPoint is where the extra bind is mounted in the container.
const ctExtPoint = "/mnt/zdtm-ext"

// ctBind is one bind mount of the container.
type ctBind struct {
	src string // the host's path
	dst string // the mount point inside the container
	ro  bool
}

// ctRoot is the container of one test run.
type ctRoot struct {
	dir   string // the rootfs, RUN_DIR/root
	binds []ctBind
}

// newCTRoot lays out the rootfs of run directory runDir for the test
// binary bin of zdtmDir ("" for none): it makes RUN_DIR/root with the
// mount points of the filesystems made anew and the host's top-level
// symlinks, and RUN_DIR/ext, the extra bind's source. Paths must be absolute and hold
// no white space (they cross to the test in ZDTM_CT_BINDS, a field a
// bind).
func newCTRoot(zdtmDir, bin, runDir string) (*ctRoot, error) {
	bins := []string{filepath.Dir(bin)}
	if zdtmDir != "" {
		bins = append(bins, zdtmDir)
	}
	for _, p := range append([]string{runDir}, bins...) {
		if !filepath.IsAbs(p) || strings.ContainsAny(p, " \t\n") {
			return nil, fmt.Errorf("flavor ct: path %q must be absolute, without white space", p)
		}
	}
	ct := &ctRoot{dir: filepath.Join(runDir, "root")}
	if err := removeRootfs(ct.dir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(ct.dir, 0o755); err != nil {
		return nil, err
	}
	for _, d := range ctSystemDirs {
		fi, err := os.Lstat(d)
		switch {
		case errors.Is(err, os.ErrNotExist):
			continue
		case err != nil:
			return nil, err
		case fi.Mode()&os.ModeSymlink != 0:
			target, err := os.Readlink(d)
			if err != nil {
				return nil, err
			}
			if err := os.Symlink(target, filepath.Join(ct.dir, d)); err != nil {
				return nil, err
			}
		case fi.IsDir():
			ct.binds = append(ct.binds, ctBind{src: d, dst: d, ro: true})
		}
	}
	ext := filepath.Join(runDir, "ext")
	if err := os.MkdirAll(ext, 0o755); err != nil {
		return nil, err
	}
	for i, d := range bins {
		if !under(d, bins) && !ct.below(d, len(ct.binds)) && !contains(bins[:i], d) {
			ct.binds = append(ct.binds, ctBind{src: d, dst: d, ro: true})
		}
	}
	ct.binds = append(ct.binds, ctBind{src: runDir, dst: runDir}, ctBind{src: ext, dst: ctExtPoint})
	// Parents first: a path sorts before the paths below it.
	sort.SliceStable(ct.binds, func(i, j int) bool { return ct.binds[i].dst < ct.binds[j].dst })
	// The library makes the binds' mount points (some are in the /tmp
	// it mounts, when the run dir is in /tmp).
	for _, p := range []string{"/proc", "/dev", "/tmp"} {
		if err := os.Mkdir(filepath.Join(ct.dir, p), 0o755); err != nil {
			return nil, err
		}
	}
	return ct, nil
}

// below says whether path is inside one of the first n binds' mount points.
func (ct *ctRoot) below(path string, n int) bool {
	for _, b := range ct.binds[:n] {
		if inside(path, b.dst) {
			return true
		}
	}
	return false
}

// under says whether path is strictly below one of dirs.
func under(path string, dirs []string) bool {
	for _, d := range dirs {
		if path != d && inside(path, d) {
			return true
		}
	}
	return false
}

// inside says whether path is dir or below it.
func inside(path, dir string) bool {
	return path == dir || strings.HasPrefix(path, strings.TrimSuffix(dir, "/")+"/")
}

// env is what the test library needs to build the container.
func (ct *ctRoot) env() []string {
	var lines []string
	for _, b := range ct.binds {
		mode := "rw"
		if b.ro {
			mode = "ro"
		}
		lines = append(lines, mode+" "+b.src+" "+b.dst)
	}
	return []string{"ZDTM_CT_ROOT=" + ct.dir, "ZDTM_CT_BINDS=" + strings.Join(lines, "\n")}
}

// dumpArgs are criu's options for the container at dump (not pre-dump,
// as runc): each bind external, keyed by its mount point.
func (ct *ctRoot) dumpArgs() []string {
	var a []string
	for _, b := range ct.binds {
		a = append(a, "--external", "mnt["+b.dst+"]:"+b.dst)
	}
	return a
}

// restoreArgs are criu's options for the container at restore: its
// rootfs, and each external bind's key mapped to its host source.
func (ct *ctRoot) restoreArgs() []string {
	a := []string{"--root", ct.dir}
	for _, b := range ct.binds {
		a = append(a, "--external", "mnt["+b.dst+"]:"+b.src)
	}
	return a
}

// check checks that task pid lives in this container: the root of its
// mount namespace is the rootfs, with the extra bind mounted there from
// its host source. It looks through the namespace, not /proc/PID/root:
// a test may chroot.
func (ct *ctRoot) check(pid int) error {
	var ext ctBind
	for _, b := range ct.binds {
		if b.dst == ctExtPoint {
			ext = b
		}
	}
	var want [2]unix.Stat_t
	for i, p := range []string{ct.dir, ext.src} {
		if err := unix.Stat(p, &want[i]); err != nil {
			return os.NewSyscallError("stat "+p, err)
		}
	}
	for i, p := range []string{"/", ext.dst} {
		got, err := statInMntns(pid, p)
		if err != nil {
			return fmt.Errorf("flavor ct: task %d: %w", pid, err)
		}
		if got.Dev == want[i].Dev && got.Ino == want[i].Ino {
			continue
		}
		if i == 0 {
			return fmt.Errorf("flavor ct: the root of task %d's mount namespace is not the rootfs %s", pid, ct.dir)
		}
		return fmt.Errorf("flavor ct: %s in task %d's mount namespace is not bound from %s", ext.dst, pid, ext.src)
	}
	return nil
}

// statInMntns stats path from the root of task pid's mount namespace,
// on a thread that joins the namespace and is never given back (it ends
// with its goroutine: onSpareThread).
func statInMntns(pid int, path string) (st unix.Stat_t, err error) {
	onSpareThread(func() {
		ns := fmt.Sprintf("/proc/%d/ns/mnt", pid)
		fd, e := unix.Open(ns, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if e != nil {
			err = os.NewSyscallError("open "+ns, e)
			return
		}
		defer unix.Close(fd)
		// setns into a mount namespace needs a root and cwd of our own.
		if e := unix.Unshare(unix.CLONE_FS); e != nil {
			err = os.NewSyscallError("unshare(CLONE_FS)", e)
			return
		}
		if e := unix.Setns(fd, unix.CLONE_NEWNS); e != nil {
			err = os.NewSyscallError("setns "+ns, e)
			return
		}
		if e := unix.Stat(path, &st); e != nil {
			err = os.NewSyscallError("stat "+path+" in "+ns, e)
		}
	})
	return st, err
}

// onSpareThread runs f on a locked OS thread that then exits with its
// goroutine, so that what f changes in it (its namespaces) is never
// seen by other goroutines. That thread is never the main one: Go keeps
// a main thread whose goroutine ended locked (wedged), and the main
// thread is what /proc/self shows.
func onSpareThread(f func()) {
	done := make(chan struct{})
	go func() {
		runtime.LockOSThread()
		if unix.Gettid() == unix.Getpid() {
			// Held here, the main thread cannot take the next goroutine.
			onSpareThread(f)
			runtime.UnlockOSThread()
			close(done)
			return
		}
		defer close(done)
		f()
	}()
	<-done
}

// removeRootfs removes a rootfs left by an earlier run, unless something
// is mounted below it in the runner's mount namespace (then removing it
// would remove the files of the mount).
func removeRootfs(dir string) error {
	if _, err := os.Lstat(dir); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	mounts, err := procfs.ReadMountInfo(os.Getpid())
	if err != nil {
		return err
	}
	for _, m := range mounts {
		if inside(m.Point, dir) {
			return fmt.Errorf("flavor ct: %s is mounted inside the old rootfs %s: not removing it", m.Point, dir)
		}
	}
	return os.RemoveAll(dir)
}
