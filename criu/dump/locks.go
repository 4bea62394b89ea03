package dump

import (
	"context"
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/criugo/criu/criu/image"
	"github.com/criugo/criu/criu/procfs"
	"github.com/criugo/criu/proto/images"
)

// File lock kinds and types of file_lock_entry (CRIU's file-lock.h).
const (
	flPOSIX = 1
	flFlock = 2
	fRdlck  = 0
	fWrlck  = 1
)

// lockSet is the file locks held by the tree, for filelocks.img.
type lockSet struct {
	entries []*images.FileLockEntry
	// seen keys a lock already recorded through another fd: a flock
	// by open file description, a POSIX lock by owner and range.
	seen map[string]bool
}

// addLocks records the locks fdinfo shows for fd of d, whose open file
// got file id id and type typ. Locks are refused without
// Options.FileLocks (criu dump --file-locks), as CRIU does, and on
// anything but a regular file; OFD locks and leases are refused.
func (d *dumper) addLocks(fd int, fi procfs.Fdinfo, id uint32, typ images.FdTypes) error {
	if len(fi.LockLines) == 0 {
		return nil
	}
	locks, err := fi.Locks()
	if err != nil {
		return err
	}
	ls := &d.t.locks
	if ls.seen == nil {
		ls.seen = map[string]bool{}
	}
	for _, l := range locks {
		if !d.opts.FileLocks {
			return fmt.Errorf("%w: lock %q", ErrFileLocks, l.Line)
		}
		var flag uint32
		switch l.Kind {
		case procfs.LockPOSIX:
			flag = flPOSIX
		case procfs.LockFlock:
			flag = flFlock
		default:
			return fmt.Errorf("%w: %s lock %q", ErrUnsupported, l.Kind, l.Line)
		}
		if typ != images.FdTypes_REG {
			return fmt.Errorf("%w: lock on a %v file %q", ErrUnsupported, typ, l.Line)
		}
		key := fmt.Sprintf("flock %d", id)
		if flag == flPOSIX {
			key = fmt.Sprintf("posix %d %d %d %d %v", d.pid, id, l.Start, l.End, l.Write)
		}
		if ls.seen[key] {
			continue
		}
		ls.seen[key] = true
		typ := uint32(fRdlck)
		if l.Write {
			typ = fWrlck
		}
		ls.entries = append(ls.entries, &images.FileLockEntry{
			Flag: proto.Uint32(flag), Type: proto.Uint32(typ),
			Pid: proto.Int32(int32(d.vpid)), Fd: proto.Int32(int32(fd)),
			Start: proto.Int64(l.Start), Len: proto.Int64(l.Len()),
		})
	}
	return nil
}

// write writes filelocks.img when the tree holds locks.
func (ls *lockSet) write(ctx context.Context, s image.Store) error {
	if len(ls.entries) == 0 {
		return nil
	}
	ms := make([]proto.Message, len(ls.entries))
	for i, e := range ls.entries {
		ms[i] = e
	}
	return image.WriteImage(ctx, s, "filelocks.img", ms...)
}
