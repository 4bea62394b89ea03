package files

import (
	"errors"
	"fmt"
	"os"
	"path"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"

	"github.com/criugo/criu/proto/images"
)

// linkRemap links the file open at link (deleted while open, with links
// elsewhere) back as CRIU's --link-remap does: a hard link named
// link_remap.ID in the directory path was in (or the nearest directory
// above it that still exists), ID a fresh file id; a reg entry of that
// name (flags 0, pos 0, as CRIU writes it) is added, and a LINKED remap
// from file id to it. Restore links it back at path, opens it, and
// removes both names. The link stays until then; RemoveLinks removes
// the links of a failed dump.
func (f *Set) linkRemap(next func() uint32, id uint32, p, link string) error {
	root, err := linkRoot(link)
	if err != nil {
		return err
	}
	lid := next()
	name := fmt.Sprintf("link_remap.%d", lid)
	dir := path.Dir(p)
	for {
		err = unix.Linkat(unix.AT_FDCWD, link, unix.AT_FDCWD, root+path.Join(dir, name), unix.AT_SYMLINK_FOLLOW)
		if err != unix.ENOENT || dir == "/" {
			break
		}
		dir = path.Dir(dir) // the directory is gone too: its parent
	}
	if err != nil {
		return fmt.Errorf("--link-remap: link %s (deleted while open) as %s: %w", p, path.Join(dir, name), os.NewSyscallError("linkat", err))
	}
	lp := path.Join(dir, name)
	f.links = append(f.links, root+lp)
	f.linked = append(f.linked, &images.FileEntry{Type: images.FdTypes_REG.Enum(), Id: proto.Uint32(lid), Reg: &images.RegFileEntry{
		Id: proto.Uint32(lid), Flags: proto.Uint32(0), Pos: proto.Uint64(0), Name: proto.String(lp),
		Fown: &images.FownEntry{Uid: proto.Uint32(0), Euid: proto.Uint32(0), Signum: proto.Uint32(0), PidType: proto.Uint32(0), Pid: proto.Uint32(0)},
	}})
	f.remaps = append(f.remaps, &images.RemapFilePathEntry{
		OrigId: proto.Uint32(id), RemapId: proto.Uint32(lid), RemapType: images.RemapType_LINKED.Enum(),
	})
	return nil
}

// linkRoot is where the paths of the task whose file link is
// (/proc/PID/...) are found: criu's root when the task shares criu's
// mount namespace, else /proc/PID/root.
func linkRoot(link string) (string, error) {
	rest, ok := strings.CutPrefix(link, "/proc/")
	pid, _, _ := strings.Cut(rest, "/")
	if _, err := strconv.Atoi(pid); !ok || err != nil {
		return "", fmt.Errorf("--link-remap: %s is not a /proc link", link)
	}
	var own, its unix.Stat_t
	if err := unix.Stat("/proc/self/ns/mnt", &own); err != nil {
		return "", os.NewSyscallError("stat", err)
	}
	if err := unix.Stat("/proc/"+pid+"/ns/mnt", &its); err != nil {
		return "", os.NewSyscallError("stat", err)
	}
	if own.Ino == its.Ino && own.Dev == its.Dev {
		return "", nil
	}
	return "/proc/" + pid + "/root", nil
}

// Linked are the reg entries of the links --link-remap made, to append
// to files.img.
func (f *Set) Linked() []*images.FileEntry { return f.linked }

// RemoveLinks removes the links --link-remap made: a failed dump
// leaves none behind.
func (f *Set) RemoveLinks() error {
	var errs []error
	for _, l := range f.links {
		if err := os.Remove(l); err != nil {
			errs = append(errs, err)
		}
	}
	f.links = nil
	return errors.Join(errs...)
}
