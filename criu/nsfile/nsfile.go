// Package nsfile checkpoints open namespace files (an fd on
// /proc/PID/ns/KIND, nsfs), as CRIU's ns_file_entry: the namespace by
// object id and kind, and the file's status flags. A namespace file is
// taken only when its namespace is the tree's (the root's, which every
// task shares, or criu's that the tree shares with it): restore opens
// it again from the restored root's /proc/PID/ns. A file of any other
// namespace (one no task of the tree is in, such as a network namespace
// bound by `ip netns add`) is refused by name, and so is a user
// namespace file.
package nsfile

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"

	"github.com/criugo/criu/criu/errdefs"
	"github.com/criugo/criu/proto/images"
)

// kinds are the namespace kinds by /proc/PID/ns name, with their
// CLONE_NEW* flag.
var kinds = map[string]uint32{
	"net": unix.CLONE_NEWNET, "mnt": unix.CLONE_NEWNS, "uts": unix.CLONE_NEWUTS, "ipc": unix.CLONE_NEWIPC,
	"pid": unix.CLONE_NEWPID, "cgroup": unix.CLONE_NEWCGROUP, "time": unix.CLONE_NEWTIME, "user": unix.CLONE_NEWUSER,
}

// Parse reads an fd's link target "KIND:[INO]" (an open namespace
// file); ok is false for any other target.
func Parse(target string) (kind string, ino uint64, ok bool) {
	k, rest, found := strings.Cut(target, ":[")
	if !found || !strings.HasSuffix(rest, "]") {
		return "", 0, false
	}
	if _, known := kinds[k]; !known {
		return "", 0, false
	}
	n, err := strconv.ParseUint(strings.TrimSuffix(rest, "]"), 10, 64)
	if err != nil {
		return "", 0, false
	}
	return k, n, true
}

// Entry is the files.img entry of namespace file id of kind and inode
// ino with status flags flags. nsID gives the object id of the tree's
// namespace of a kind when ino is its inode.
func Entry(id uint32, kind string, ino uint64, flags uint32, nsID func(kind string, ino uint64) (uint32, bool)) (*images.FileEntry, error) {
	if kind == "user" {
		return nil, fmt.Errorf("%w: a user namespace file (%s:[%d])", errdefs.ErrUnsupported, kind, ino)
	}
	ns, ok := nsID(kind, ino)
	if !ok {
		return nil, fmt.Errorf("%w: a file of %s namespace %d, which no task of the tree is in", errdefs.ErrUnsupported, kind, ino)
	}
	return &images.FileEntry{Type: images.FdTypes_NS.Enum(), Id: proto.Uint32(id), Nsf: &images.NsFileEntry{
		Id: proto.Uint32(id), NsId: proto.Uint32(ns), NsCflag: proto.Uint32(kinds[kind]), Flags: proto.Uint32(flags),
	}}, nil
}

// Open opens namespace file e again in the restorer, from nsDir, the
// restored root's /proc/PID/ns; nsID gives the object id the root's
// namespace of a kind has in the images, which e's must be.
func Open(e *images.NsFileEntry, nsDir string, nsID func(kind string) uint32) (int, error) {
	kind := ""
	for k, f := range kinds {
		if f == e.GetNsCflag() {
			kind = k
		}
	}
	if kind == "" || kind == "user" {
		return -1, fmt.Errorf("%w: namespace file %d of CLONE_NEW* flag %#x", errdefs.ErrBadImage, e.GetId(), e.GetNsCflag())
	}
	if id := nsID(kind); id != e.GetNsId() {
		return -1, fmt.Errorf("%w: namespace file %d names %s namespace %d, not the tree's (%d)", errdefs.ErrUnsupported, e.GetId(), kind, e.GetNsId(), id)
	}
	p := filepath.Join(nsDir, kind)
	fd, err := unix.Open(p, int(e.GetFlags()&^unix.O_CLOEXEC)|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("namespace file %d: %w", e.GetId(), os.NewSyscallError("open "+p, err))
	}
	return fd, nil
}
