package files

import (
	"fmt"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/errdefs"
)

// Inode flags of FS_IOC_GETFLAGS (linux/fs.h) that a user sets with
// chattr and that a ghost copy would not have: the ghost entry has no
// field for them (nor has CRIU's).
var ghostIflags = []struct {
	bit  int
	name string
}{
	{0x8, "synchronous updates (FS_SYNC_FL)"},
	{0x10, "immutable (FS_IMMUTABLE_FL)"},
	{0x20, "append-only (FS_APPEND_FL)"},
	{0x40, "no-dump (FS_NODUMP_FL)"},
	{0x80, "no-atime (FS_NOATIME_FL)"},
}

// checkIflags refuses a regular file deleted while open (open at link)
// that has inode flags its ghost copy would lose (ghostIflags): restore
// makes the copy without them, and an immutable or append-only copy
// could not be filled nor removed. CRIU 4.2 drops them silently. A file
// system without FS_IOC_GETFLAGS has none.
func checkIflags(path, link string, mode uint32) error {
	if mode&unix.S_IFMT != unix.S_IFREG {
		return nil
	}
	fd, err := unix.Open(link, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil // writeGhost names the failure to read it
	}
	defer unix.Close(fd)
	fl, err := unix.IoctlGetInt(fd, unix.FS_IOC_GETFLAGS)
	if err != nil {
		return nil
	}
	var set []string
	for _, f := range ghostIflags {
		if fl&f.bit != 0 {
			set = append(set, f.name)
		}
	}
	if len(set) > 0 {
		return fmt.Errorf("%w: %s was deleted while open and has the inode flags %s, which its ghost copy cannot keep",
			errdefs.ErrUnsupported, path, strings.Join(set, ", "))
	}
	return nil
}
