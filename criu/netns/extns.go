package netns

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"

	"github.com/criugo/criu/criu/errdefs"
	"github.com/criugo/criu/criu/image"
	"github.com/criugo/criu/criu/procfs"
	"github.com/criugo/criu/proto/images"
)

// A network namespace named external (CRIU's --external net[INO]:KEY;
// runc names so the namespace a config.json gives by path, the one a
// CNI plugin or Podman made) is neither saved nor made: its netns image
// holds only its key (netns_entry ext_key, as CRIU's), and restore
// joins the namespace the restorer is given for that key (CRIU's
// --inherit-fd fd[N]:KEY; runc gives its open netns file). What it
// holds (links, addresses, routes) is the owner's, who keeps it.

// ParseExternalNet parses CRIU's --external net[INO]:KEY; ok is false
// for a value of another kind.
func ParseExternalNet(v string) (ino uint64, key string, ok bool, err error) {
	rest, found := strings.CutPrefix(v, "net[")
	if !found {
		return 0, "", false, nil
	}
	num, key, found := strings.Cut(rest, "]:")
	ino, perr := strconv.ParseUint(num, 10, 64)
	if !found || perr != nil || key == "" {
		return 0, "", true, fmt.Errorf("%q: want net[INODE]:KEY", v)
	}
	return ino, key, true, nil
}

// DumpExternal writes the netns image of object id with only its key
// when the network namespace of task pid is one of external (by inode),
// and reports whether it was.
func DumpExternal(ctx context.Context, store image.Store, pid int, id uint32, external map[uint64]string) (bool, error) {
	if len(external) == 0 {
		return false, nil
	}
	var st unix.Stat_t
	if err := unix.Stat(procfs.Path(pid, "ns/net"), &st); err != nil {
		return false, os.NewSyscallError("stat ns/net", err)
	}
	key, ok := external[st.Ino]
	if !ok {
		return false, nil
	}
	return true, image.WriteImage(ctx, store, netnsImage(id), &images.NetnsEntry{ExtKey: proto.String(key)})
}

// External is, for a tree in a network namespace of its own (own) of
// object id, the restorer's fd of the namespace to join, given by
// inherit for the key its image holds, or -1 when that namespace is not
// external. An external one not given is refused, naming its key.
func External(ctx context.Context, store image.Store, own bool, id uint32, inherit func(key string) (int, bool)) (int, error) {
	if !own {
		return -1, nil
	}
	ne := &images.NetnsEntry{}
	if err := image.ReadOne(ctx, store, netnsImage(id), ne); errors.Is(err, fs.ErrNotExist) || err == nil && ne.GetExtKey() == "" {
		return -1, nil
	} else if err != nil {
		return -1, fmt.Errorf("netns %d: %w", id, err)
	}
	fd, ok := inherit(ne.GetExtKey())
	if !ok {
		return -1, fmt.Errorf("%w: the network namespace is external (%s): give it with --inherit-fd fd[N]:%s", errdefs.ErrUnsupported, ne.GetExtKey(), ne.GetExtKey())
	}
	return fd, nil
}

// Task is a stopped task that runs system calls injected into it.
type Task interface {
	Syscall(name string, nr uintptr, args ...uint64) (uint64, error)
}

// Join makes task t enter the network namespace that the restorer holds
// open at fd (External), through a copy of it (pidfd_getfd of the
// restorer), closed after; fd -1 is nothing to join.
func Join(t Task, fd int) error {
	if fd < 0 {
		return nil
	}
	pidfd, err := t.Syscall("pidfd_open", unix.SYS_PIDFD_OPEN, uint64(os.Getpid()), 0)
	if err != nil {
		return fmt.Errorf("join the external network namespace: %w", err)
	}
	nfd, err := t.Syscall("pidfd_getfd", unix.SYS_PIDFD_GETFD, pidfd, uint64(fd), 0)
	t.Syscall("close", unix.SYS_CLOSE, pidfd)
	if err != nil {
		return fmt.Errorf("join the external network namespace: %w", err)
	}
	_, err = t.Syscall("setns", unix.SYS_SETNS, nfd, unix.CLONE_NEWNET)
	t.Syscall("close", unix.SYS_CLOSE, nfd)
	if err != nil {
		return fmt.Errorf("join the external network namespace: %w", err)
	}
	return nil
}
