package dump

import (
	"encoding/binary"
	"fmt"
	"os"
	"strings"

	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"

	"github.com/criugo/criu/criu/procfs"
	"github.com/criugo/criu/proto/images"
)

// fhWords is how many 64-bit words CRIU writes for a file handle
// (fh_entry_sizes min_entries): the handle's bytes, zero-padded.
const fhWords = 16

// addInotify records the inotify file at fd with its watches. Each
// watch keeps its file handle (as CRIU) and the watched file's path,
// found by opening the handle: restore adds the watch back by path.
func (d *dumper) addInotify(id uint32, fd int, flags uint32) (*images.FileEntry, error) {
	ws, err := procfs.ReadInotify(d.pid, fd)
	if err != nil {
		return nil, err
	}
	e := &images.InotifyFileEntry{Id: proto.Uint32(id), Flags: proto.Uint32(flags), Fown: zeroFown()}
	var mounts []procfs.Mount
	for _, w := range ws {
		if len(w.Handle) > fhWords*8 {
			return nil, fmt.Errorf("%w: inotify watch %d: file handle of %d bytes", ErrUnsupported, w.Wd, len(w.Handle))
		}
		if mounts == nil {
			if mounts, err = procfs.ReadMounts(d.pid); err != nil {
				return nil, err
			}
		}
		path, err := watchPath(mounts, w)
		if err != nil {
			return nil, fmt.Errorf("inotify watch %d (inode %d): %w", w.Wd, w.Ino, err)
		}
		words := make([]uint64, fhWords)
		pad := make([]byte, fhWords*8)
		copy(pad, w.Handle)
		for i := range words {
			words[i] = binary.LittleEndian.Uint64(pad[i*8:])
		}
		e.Wd = append(e.Wd, &images.InotifyWdEntry{
			Id: proto.Uint32(id), IIno: proto.Uint64(w.Ino), Mask: proto.Uint32(w.Mask),
			IgnoredMask: proto.Uint32(w.IgnoredMask), SDev: proto.Uint32(w.Sdev), Wd: proto.Uint32(uint32(w.Wd)),
			FHandle: &images.FhEntry{
				Bytes: proto.Uint32(uint32(len(w.Handle))), Type: proto.Uint32(uint32(w.HandleType)),
				Handle: words, Path: proto.String(path),
			},
		})
	}
	return &images.FileEntry{Type: images.FdTypes_INOTIFY.Enum(), Id: proto.Uint32(id), Ify: e}, nil
}

// watchPath finds the path of a watched inode: its file handle opened
// through a mount of its superblock, then read back from /proc.
func watchPath(mounts []procfs.Mount, w procfs.InotifyWatch) (string, error) {
	maj, min := w.Sdev>>20, w.Sdev&0xfffff
	var lastErr error = fmt.Errorf("%w: no mount of device %d:%d", ErrUnsupported, maj, min)
	for _, m := range mounts {
		if m.Major != maj || m.Minor != min {
			continue
		}
		path, err := openHandlePath(m.Point, w)
		if err == nil {
			return path, nil
		}
		lastErr = err
	}
	return "", lastErr
}

func openHandlePath(mountPoint string, w procfs.InotifyWatch) (string, error) {
	// Not O_PATH: open_by_handle_at takes no O_PATH mount fd.
	mfd, err := unix.Open(mountPoint, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", fmt.Errorf("open mount %s: %w", mountPoint, os.NewSyscallError("open", err))
	}
	defer unix.Close(mfd)
	fd, err := unix.OpenByHandleAt(mfd, unix.NewFileHandle(w.HandleType, w.Handle), unix.O_PATH|unix.O_CLOEXEC)
	if err != nil {
		return "", fmt.Errorf("open file handle on %s: %w", mountPoint, os.NewSyscallError("open_by_handle_at", err))
	}
	defer unix.Close(fd)
	path, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", fd))
	if err != nil {
		return "", err
	}
	if strings.HasSuffix(path, " (deleted)") || !strings.HasPrefix(path, "/") {
		return "", fmt.Errorf("%w: watched file %q has no path", ErrUnsupported, path)
	}
	// The path must still lead to the watched inode.
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		return "", fmt.Errorf("stat %s: %w", path, os.NewSyscallError("lstat", err))
	}
	if st.Ino != w.Ino {
		return "", fmt.Errorf("%w: %s is inode %d, the watch is on %d", ErrUnsupported, path, st.Ino, w.Ino)
	}
	return path, nil
}
