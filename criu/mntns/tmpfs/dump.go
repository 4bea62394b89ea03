package tmpfs

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/errdefs"
	"github.com/criugo/criu/criu/image"
	"github.com/criugo/criu/criu/nsenter"
	"github.com/criugo/criu/criu/procfs"
)

// cleanMount is a detached clone of the mount at point in the mount
// namespace of task pid, without the mounts below it
// (open_tree(OPEN_TREE_CLONE), in that namespace: the kernel clones no
// mount of another namespace). An unbindable mount cannot be cloned: it
// is opened itself, which check allows only when no mount is below it.
// A covered one (a mount made over it, or over a directory above it) is
// uncovered first in a private copy of that namespace, made for this
// alone on a thread that is discarded afterwards: the mounts over its
// point are detached there, topmost first, until the point leads to a
// mount of its filesystem (dev, root /).
func cleanMount(pid int, point string, unbindable, covered bool, dev uint64) (int, error) {
	proc, err := unix.Open("/proc", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, os.NewSyscallError("open /proc", err)
	}
	defer unix.Close(proc)
	fd := -1
	err = nsenter.Do(pid, nsenter.Mnt, func() error {
		var err error
		if covered {
			if err := uncover(proc, point, dev); err != nil {
				return err
			}
		}
		if unbindable {
			fd, err = unix.Open(point, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
			return os.NewSyscallError("open", err)
		}
		fd, err = unix.OpenTree(unix.AT_FDCWD, point, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC)
		return os.NewSyscallError("open_tree", err)
	})
	return fd, err
}

// uncover makes the calling thread's mount namespace a private copy of
// its own and detaches there the mounts over point until point leads to
// a mount of device dev with root /. proc is criu's /proc, where the
// thread reads its mount table.
func uncover(proc int, point string, dev uint64) error {
	if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
		return os.NewSyscallError("unshare(CLONE_NEWNS)", err)
	}
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return os.NewSyscallError("mount(MS_REC|MS_PRIVATE)", err)
	}
	for range 64 {
		// The mount point's directory may be missing from the
		// mount over it: the mount of its nearest directory there
		// is the one over it.
		var sx unix.Statx_t
		at := point
		for {
			err := unix.Statx(unix.AT_FDCWD, at, unix.AT_SYMLINK_NOFOLLOW|unix.AT_NO_AUTOMOUNT, unix.STATX_MNT_ID, &sx)
			if err == nil {
				break
			}
			if (err != unix.ENOENT && err != unix.ENOTDIR) || at == "/" {
				return os.NewSyscallError("statx "+at, err)
			}
			at = filepath.Dir(at)
		}
		f, err := unix.Openat(proc, "thread-self/mountinfo", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return os.NewSyscallError("open mountinfo", err)
		}
		b, err := io.ReadAll(os.NewFile(uintptr(f), "mountinfo"))
		unix.Close(f)
		if err != nil {
			return err
		}
		ms, err := procfs.ParseMountInfo(b)
		if err != nil {
			return err
		}
		i := slices.IndexFunc(ms, func(m procfs.MountInfo) bool { return m.ID == int(sx.Mnt_id) })
		if i < 0 {
			return fmt.Errorf("uncover %s: mount %d is not in the mount table", point, sx.Mnt_id)
		}
		top := ms[i]
		if at == point && top.Dev() == dev && top.Root == "/" {
			return nil
		}
		if err := unix.Unmount(top.Point, unix.MNT_DETACH); err != nil {
			return os.NewSyscallError("umount2 "+top.Point, err)
		}
	}
	return fmt.Errorf("uncover %s: more than 64 mounts over it", point)
}

// ImageName is the name of the archive of the tmpfs whose device is
// dev (CRIU's root_dev encoding, major<<20|minor).
func ImageName(dev uint32) string {
	return "tmpfs-dev-" + strconv.FormatUint(uint64(dev), 10) + ".tar.gz.img"
}

// Dump writes the files of the tmpfs mounted at point in the mount
// namespace of task pid as a gzip'ed tar, as CRIU's
// `tar --create --gzip --one-file-system --numeric-owner
// --preserve-permissions --check-links`: names relative to the mount's
// root ("./a/b"), modes, numeric owners, times, symlinks, device nodes,
// fifos and hard links. Mounts below it are left out, the files or
// directories under their mount points kept: the archive is read from a
// clone of the mount alone (cleanMount), as CRIU's tar reads a bind
// without children, whose restore needs the mount points (LXC's
// /dev/console, /dev/pts of its /dev tmpfs); a socket file, which a
// tar cannot hold, is left out when a socket of the tree is bound to it
// (sockets, by the namespace's path: restore binds it again), otherwise
// refused naming the mount.
func Dump(ctx context.Context, store image.Store, pid int, m procfs.MountInfo, covered bool, dev uint32, sockets map[string]bool) (err error) {
	point := m.Point
	clean, err := cleanMount(pid, point, m.Unbindable, covered, m.Dev())
	if err != nil {
		return fmt.Errorf("tmpfs %s: %w", point, err)
	}
	defer unix.Close(clean)
	dir := "/proc/self/fd/" + strconv.Itoa(clean) + "/"
	var st unix.Stat_t
	if err := unix.Stat(dir, &st); err != nil {
		return fmt.Errorf("tmpfs %s: %w", point, os.NewSyscallError("stat", err))
	}
	name := ImageName(dev)
	w, err := store.Create(ctx, name)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			w.Abort()
		}
	}()
	gz := gzip.NewWriter(w)
	tw := tar.NewWriter(gz)
	links := map[uint64]string{} // inode -> first name, for hard links
	walk := func(path string, de fs.DirEntry, werr error) error {
		if werr != nil {
			return werr
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		var s unix.Stat_t
		if err := unix.Lstat(path, &s); err != nil {
			return os.NewSyscallError("lstat", err)
		}
		// A mount below: its mount point directory is archived, not
		// what is mounted there (GNU tar's --one-file-system, which
		// CRIU uses: its restore mounts there without making it).
		below := s.Dev != st.Dev
		if below && !de.IsDir() {
			return nil
		}
		fi, err := de.Info()
		if err != nil {
			return err
		}
		if fi.Mode()&fs.ModeSocket != 0 {
			if sockets[filepath.Join(point, rel)] {
				return nil
			}
			return fmt.Errorf("%w: tmpfs %s holds the socket file %s, which its archive cannot keep", errdefs.ErrUnsupported, point, rel)
		}
		target := ""
		if fi.Mode()&fs.ModeSymlink != 0 {
			if target, err = os.Readlink(path); err != nil {
				return err
			}
		}
		h, err := tar.FileInfoHeader(fi, target)
		if err != nil {
			return fmt.Errorf("%s: %w", rel, err)
		}
		h.Name = "./" + filepath.ToSlash(rel)
		if rel == "." {
			h.Name = "./"
		} else if fi.IsDir() {
			h.Name += "/"
		}
		h.Uname, h.Gname = "", ""
		h.Format = tar.FormatPAX
		h.ModTime = time.Unix(s.Mtim.Unix())
		h.AccessTime = time.Unix(s.Atim.Unix())
		h.ChangeTime = time.Unix(s.Ctim.Unix())
		if fi.Mode().IsRegular() && s.Nlink > 1 {
			if first, ok := links[s.Ino]; ok {
				h.Typeflag, h.Linkname, h.Size = tar.TypeLink, first, 0
			} else {
				links[s.Ino] = h.Name
			}
		}
		if err := tw.WriteHeader(h); err != nil {
			return fmt.Errorf("%s: %w", rel, err)
		}
		if below {
			return filepath.SkipDir
		}
		if h.Typeflag == tar.TypeReg {
			f, err := os.Open(path)
			if err != nil {
				return err
			}
			_, err = io.Copy(tw, f)
			f.Close()
			if err != nil {
				return fmt.Errorf("%s: %w", rel, err)
			}
		}
		return nil
	}
	if err := filepath.WalkDir(dir, walk); err != nil {
		return fmt.Errorf("tmpfs %s: %w", point, err)
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("tmpfs %s: %w", point, err)
	}
	if err := gz.Close(); err != nil {
		return fmt.Errorf("tmpfs %s: %w", point, err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("commit %s: %w", name, err)
	}
	return nil
}
