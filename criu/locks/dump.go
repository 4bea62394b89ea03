package locks

import (
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/criugo/criu/criu/errdefs"
	"github.com/criugo/criu/criu/procfs"
	"github.com/criugo/criu/proto/images"
)

// Add records the locks fdinfo fi shows for fd of the task pid (vpid as
// the images name it), whose open file got file id id and type typ.
// Locks are refused unless allowed (criu dump --file-locks), as CRIU
// does, and on anything but a regular file; so are mandatory locks, NFS
// delegations and leases being broken.
func (s *Set) Add(pid, vpid, fd int, fi procfs.Fdinfo, id uint32, typ images.FdTypes, allowed bool) error {
	if len(fi.LockLines) == 0 {
		return nil
	}
	locks, err := fi.Locks()
	if err != nil {
		return err
	}
	if s.seen == nil {
		s.seen = map[string]bool{}
	}
	for _, l := range locks {
		if !allowed {
			return fmt.Errorf("%w: lock %q", errdefs.ErrFileLocks, l.Line)
		}
		var flag uint32
		switch l.Kind {
		case procfs.LockPOSIX:
			flag = flPOSIX
		case procfs.LockFlock:
			flag = flFlock
		case procfs.LockOFD:
			flag = flOFD
		case procfs.LockLease:
			flag = flLease
			if l.Mode != "ACTIVE" || l.Unlock {
				// A break under way: its breaker waits on it, and its
				// deadline (lease-break-time) is not in the image.
				return fmt.Errorf("%w: a lease being broken (%s) %q", errdefs.ErrUnsupported, l.Mode, l.Line)
			}
		default:
			return fmt.Errorf("%w: %s lock %q", errdefs.ErrUnsupported, l.Kind, l.Line)
		}
		if l.Mode == "MANDATORY" {
			return fmt.Errorf("%w: a mandatory lock %q", errdefs.ErrUnsupported, l.Line)
		}
		if typ != images.FdTypes_REG {
			return fmt.Errorf("%w: lock on a %v file %q", errdefs.ErrUnsupported, typ, l.Line)
		}
		// flocks, OFD locks and leases belong to the open file
		// description (the file id), POSIX locks to the fd table's owner.
		var key string
		switch flag {
		case flFlock:
			key = fmt.Sprintf("flock %d", id)
		case flLease:
			key = fmt.Sprintf("lease %d", id)
		case flOFD:
			key = fmt.Sprintf("ofd %d %d %d %v", id, l.Start, l.End, l.Write)
		default:
			key = fmt.Sprintf("posix %d %d %d %d %v", pid, id, l.Start, l.End, l.Write)
		}
		if s.seen[key] {
			continue
		}
		s.seen[key] = true
		typ := uint32(fRdlck)
		if l.Write {
			typ = fWrlck
		}
		s.entries = append(s.entries, &images.FileLockEntry{
			Flag: proto.Uint32(flag), Type: proto.Uint32(typ),
			Pid: proto.Int32(int32(vpid)), Fd: proto.Int32(int32(fd)),
			Start: proto.Int64(l.Start), Len: proto.Int64(l.Len()),
		})
	}
	return nil
}
