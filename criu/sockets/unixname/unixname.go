package unixname

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"

	"github.com/criugo/criu/criu/errdefs"
	"github.com/criugo/criu/criu/mntns"
	"github.com/criugo/criu/criu/nsenter"
	"github.com/criugo/criu/criu/sockets/skqueue"
	"github.com/criugo/criu/proto/images"
)

// Relative tells a socket bound to a relative path (CRIU's
// name_dir holds the directory it is relative to).
func Relative(e *images.UnixSkEntry) bool {
	n := e.GetName()
	return len(n) > 0 && n[0] != 0 && n[0] != '/'
}

// Path is the path of the file of e's name (not abstract): the name,
// joined to its directory for a relative one.
func Path(e *images.UnixSkEntry) string {
	n := skqueue.Sockaddr(e.GetName()).Name
	if Relative(e) {
		return filepath.Join(e.GetNameDir(), n)
	}
	return n
}

// InDir runs fn where e's name resolves: for a relative name on a
// thread whose working directory is the one the name is relative to
// (name_dir, opened here: for a container on its thread, in its mount
// namespace), so that a bind keeps the name relative; else here.
func InDir(e *images.UnixSkEntry, fn func() error) error {
	if !Relative(e) {
		return fn()
	}
	if !filepath.IsAbs(e.GetNameDir()) {
		return fmt.Errorf("%w: socket:[%d] has the relative name %q and no absolute directory it is relative to (name_dir %q)", errdefs.ErrBadImage, e.GetIno(), e.GetName(), e.GetNameDir())
	}
	d, err := unix.Open(e.GetNameDir(), unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("the directory of its relative name: %w", &os.PathError{Op: "open", Path: e.GetNameDir(), Err: err})
	}
	defer unix.Close(d)
	return nsenter.InDir(d, fn)
}

// LinkReach links, beside the file e is bound to (its name, relative
// or not), a name that reaches e once the name is another's, and
// records it in reach. A link whose name would not fit a sockaddr is
// not made: e is then reached by its name, as before.
func LinkReach(e *images.UnixSkEntry, reach map[uint32][]byte) error {
	name := skqueue.Sockaddr(e.GetName()).Name
	link := filepath.Join(filepath.Dir(name), fmt.Sprintf(".criu-sk-%d-%d", os.Getpid(), e.GetIno()))
	if len(link) >= len(unix.RawSockaddrUnix{}.Path) {
		return nil
	}
	if err := InDir(e, func() error { return unix.Link(name, link) }); err != nil {
		return fmt.Errorf("link %s to %s: %w", link, name, os.NewSyscallError("link", err))
	}
	reach[e.GetIno()] = []byte(link)
	return nil
}

// BindGhostPath readies path for a socket whose file was deleted at
// dump: directories missing on the way are made (and added to dirs, to be
// removed), and whatever stands at path is renamed aside. It returns the
// undo of the rename.
func BindGhostPath(path string, dirs *[]string) (func() error, error) {
	var missing []string
	for d := filepath.Dir(path); d != "/" && d != "."; d = filepath.Dir(d) {
		if _, err := os.Lstat(d); err == nil {
			break
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		missing = append(missing, d)
	}
	for i := len(missing) - 1; i >= 0; i-- {
		if err := unix.Mkdir(missing[i], 0o700); err != nil {
			return nil, fmt.Errorf("make %s for a deleted socket: %w", missing[i], os.NewSyscallError("mkdir", err))
		}
		*dirs = append(*dirs, missing[i])
	}
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return func() error { return nil }, nil
		}
		return nil, os.NewSyscallError("lstat", err)
	}
	aside := fmt.Sprintf("%s.criu-%d", path, os.Getpid())
	if err := unix.Renameat2(unix.AT_FDCWD, path, unix.AT_FDCWD, aside, unix.RENAME_NOREPLACE); err != nil {
		return nil, fmt.Errorf("move %s aside for a deleted socket: %w", path, os.NewSyscallError("rename", err))
	}
	done := false
	return func() error {
		if done {
			return nil
		}
		done = true
		return os.NewSyscallError("rename", unix.Renameat2(unix.AT_FDCWD, aside, unix.AT_FDCWD, path, unix.RENAME_NOREPLACE))
	}, nil
}

// RemoveStale removes the socket file a dumped socket left at path;
// anything else there is an error.
func RemoveStale(path string) error {
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil
		}
		return os.NewSyscallError("lstat", err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFSOCK {
		return fmt.Errorf("bind %s: %w: not a socket", path, os.ErrExist)
	}
	return os.NewSyscallError("unlink", unix.Unlink(path))
}

// Hidden records in e, for a socket (cp, this process's copy) of task
// pid bound to path whose file path no longer reaches, whether the file
// was deleted or a mount over its directory hides it: then the id of the
// mount the file is on (SIOCUNIXFILE; CRIU 4.2's unix_sk_entry.mnt_id),
// whose restore binds the name with the mounts over it moved aside, and
// its mode and owner. A hidden file is
// refused (by name) when the file moved (its path is another) or when
// the task's mount namespace is criu's or a copy of it (mntns.CopyOfMine),
// whose mounts restore does not make one by one. A file that cannot be opened through the socket is taken for
// deleted.
func Hidden(cp, pid int, path string, e *images.UnixSkEntry) error {
	f, err := unix.IoctlRetInt(cp, unix.SIOCPROTOPRIVATE) // SIOCUNIXFILE
	if err != nil {
		e.Deleted = proto.Bool(true)
		return nil
	}
	defer unix.Close(f)
	var sx unix.Statx_t
	if err := unix.Statx(f, "", unix.AT_EMPTY_PATH, unix.STATX_BASIC_STATS|unix.STATX_MNT_ID, &sx); err != nil {
		return os.NewSyscallError("statx", err)
	}
	if sx.Nlink == 0 {
		e.Deleted = proto.Bool(true)
		return nil
	}
	refuse := func(why string) error {
		return fmt.Errorf("%w: bound to %s, whose file is not deleted but no longer at that path (%s)", errdefs.ErrUnsupported, path, why)
	}
	link, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(f))
	if err != nil {
		return err
	}
	if link != path {
		return refuse("the file moved, to " + link + ": restore would bind the name on what the path reaches now")
	}
	if mntns.CopyOfMine(pid) {
		return refuse("a mount over its directory, in criu's mount namespace or a copy of it, whose restore does not make the mounts one by one: the socket could not be bound under it")
	}
	if sx.Mask&unix.STATX_MNT_ID == 0 {
		return refuse("a mount over its directory; the kernel does not tell the mount of its file (statx STATX_MNT_ID)")
	}
	e.Deleted, e.MntId = proto.Bool(false), proto.Int32(int32(sx.Mnt_id))
	e.FilePerms = &images.FilePermsEntry{Mode: proto.Uint32(uint32(sx.Mode)), Uid: proto.Uint32(sx.Uid), Gid: proto.Uint32(sx.Gid)}
	return nil
}

// Dir is the directory the relative name of a socket (cp,
// this process's copy) is relative to, as the task's mount
// namespace names it: the socket's file, opened through the socket
// (SIOCUNIXFILE), has a path that ends with the name; the directory is
// what comes before. Restore binds the name from that directory again,
// so the socket keeps its relative name (getsockname), as CRIU 4.2 does
// (unix_sk_entry.name_dir). A name that is not the end of its file's path
// (dot-dot, a symlink on the way) is refused, by name.
func Dir(cp int, name string, vfsIno uint32) (string, error) {
	f, err := unix.IoctlRetInt(cp, unix.SIOCPROTOPRIVATE) // SIOCUNIXFILE: an O_PATH fd of the socket's file
	if err != nil {
		return "", fmt.Errorf("open the file of its relative name %q: %w", name, os.NewSyscallError("ioctl(SIOCUNIXFILE)", err))
	}
	defer unix.Close(f)
	var st unix.Stat_t
	if err := unix.Fstat(f, &st); err != nil {
		return "", os.NewSyscallError("fstat", err)
	}
	if uint32(st.Ino) != vfsIno {
		return "", fmt.Errorf("the file of its relative name %q is inode %d, sock_diag says %d", name, st.Ino, vfsIno)
	}
	link, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(f))
	if err != nil {
		return "", err
	}
	link = strings.TrimSuffix(link, " (deleted)")
	dir, ok := strings.CutSuffix(link, "/"+name)
	if !ok || !strings.HasPrefix(link, "/") {
		return "", fmt.Errorf("%w: it is bound to the relative path %q, which is not the end of its file's path %q (a dot-dot or a symlink on the way), so the directory it is relative to is not known", errdefs.ErrUnsupported, name, link)
	}
	if dir == "" {
		dir = "/"
	}
	return dir, nil
}

// Rank orders the sockets sharing a name for binding in turn, the one
// that keeps the file last: deleted ones (0), then connections accepted
// (1: one whose listener closed keeps a live file too), then the others.
func Rank(e *images.UnixSkEntry) int {
	switch {
	case e.GetDeleted():
		return 0
	case e.GetType() != unix.SOCK_DGRAM && e.GetState() == 1: // TCP_ESTABLISHED
		return 1
	}
	return 2
}

// Covered lists the sockets of sks whose files a mount hides (not
// deleted, with the id of the mount the file is on): the mount ids and
// the paths.
func Covered(sks []*images.UnixSkEntry) (mnts []int32, paths []string) {
	for _, e := range sks {
		if e.MntId != nil && e.GetMntId() >= 0 && !e.GetDeleted() && len(e.GetName()) > 0 && e.GetName()[0] != 0 {
			mnts, paths = append(mnts, e.GetMntId()), append(paths, Path(e))
		}
	}
	return mnts, paths
}
