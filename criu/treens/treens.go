package treens

import (
	"fmt"

	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"

	"github.com/criugo/criu/criu/errdefs"
	"github.com/criugo/criu/criu/procfs"
	"github.com/criugo/criu/proto/images"
)

// Kind is one kind of namespace a dump can take.
type Kind struct {
	Name string // as in /proc/PID/ns/NAME
	Flag uint64 // CLONE_NEW*
}

// Kinds are the namespaces a tree may have of its own.
var Kinds = []Kind{
	{"pid", unix.CLONE_NEWPID},
	{"net", unix.CLONE_NEWNET},
	{"ipc", unix.CLONE_NEWIPC},
	{"uts", unix.CLONE_NEWUTS},
	{"mnt", unix.CLONE_NEWNS},
	{"time", unix.CLONE_NEWTIME},
	{"cgroup", unix.CLONE_NEWCGROUP},
}

// criuOnly are the namespaces every task must share with criu.
var criuOnly = []string{"user"}

// Set is what the dump knows of the tree's namespaces.
type Set struct {
	// Mask holds the CLONE_NEW* flags of the root's own namespaces:
	// those the dump takes.
	Mask uint64
	// Ino is the root's namespace inode by kind.
	Ino map[string]uint64
	// ID and CriuID are the object ids of the root's and of criu's
	// namespace by kind (equal when they are the same namespace).
	ID, CriuID map[string]uint32
}

// PidNS reports a tree rooted at the init of its own pid namespace: its
// images hold pids as seen inside it.
func (n *Set) PidNS() bool { return n.Mask&unix.CLONE_NEWPID != 0 }

// IDOf is the object id of the tree's namespace of kind when ino is its
// inode (package nsfile).
func (n *Set) IDOf(kind string, ino uint64) (uint32, bool) {
	return n.ID[kind], n.Ino[kind] == ino && ino != 0
}

// SetIDs fills the namespace fields of ids (the root's namespaces, or
// criu's with criu true).
func (n *Set) SetIDs(ids *images.TaskKobjIdsEntry, criu bool) {
	m := n.ID
	if criu {
		m = n.CriuID
	}
	ids.PidNsId = proto.Uint32(m["pid"])
	ids.NetNsId = proto.Uint32(m["net"])
	ids.IpcNsId = proto.Uint32(m["ipc"])
	ids.UtsNsId = proto.Uint32(m["uts"])
	ids.MntNsId = proto.Uint32(m["mnt"])
	if id, ok := m["time"]; ok {
		ids.TimeNsId = proto.Uint32(id)
	}
	ids.CgroupNsId = proto.Uint32(m["cgroup"])
}

// Check finds the root's namespaces (pids[0] is the root, pids the live
// tasks of the frozen tree) and refuses a tree whose tasks are not all
// in them. newID gives the object ids of the namespaces. Errors start
// with "dump ROOT:".
func Check(pids []int, newID func() uint32) (*Set, error) {
	root := pids[0]
	ns := &Set{Ino: map[string]uint64{}, ID: map[string]uint32{}, CriuID: map[string]uint32{}}
	for _, k := range criuOnly {
		mine, err := procfs.NsIno(0, k)
		if err != nil {
			continue // the kernel has no such namespace
		}
		for _, pid := range pids {
			ino, err := procfs.NsIno(pid, k)
			if err != nil {
				return nil, fmt.Errorf("dump %d: task %d: %w", root, pid, err)
			}
			if ino != mine {
				return nil, fmt.Errorf("dump %d: %w: task %d is in a %s namespace of its own (%s:[%d]); only pid, net, ipc, uts and mnt namespaces can be dumped", root, errdefs.ErrUnsupported, pid, k, k, ino)
			}
		}
	}
	for _, k := range Kinds {
		mine, err := procfs.NsIno(0, k.Name)
		if err != nil && k.Flag == unix.CLONE_NEWTIME {
			continue // a kernel without time namespaces
		}
		if err != nil {
			return nil, fmt.Errorf("dump %d: criu's %s namespace: %w", root, k.Name, err)
		}
		rino, err := procfs.NsIno(root, k.Name)
		if err != nil {
			return nil, fmt.Errorf("dump %d: %s namespace: %w", root, k.Name, err)
		}
		ns.Ino[k.Name] = rino
		ns.ID[k.Name] = newID()
		ns.CriuID[k.Name] = ns.ID[k.Name]
		if rino != mine {
			ns.Mask |= k.Flag
			ns.CriuID[k.Name] = newID()
		}
		for _, pid := range pids[1:] {
			ino, err := procfs.NsIno(pid, k.Name)
			if err != nil {
				return nil, fmt.Errorf("dump %d: task %d: %w", root, pid, err)
			}
			if ino != rino {
				return nil, fmt.Errorf("dump %d: %w: task %d is in another %s namespace (%s:[%d]) than the root %d (%s:[%d])",
					root, errdefs.ErrUnsupported, pid, k.Name, k.Name, ino, root, k.Name, rino)
			}
		}
	}
	if err := checkTimeForChildren(pids); err != nil {
		return nil, fmt.Errorf("dump %d: %w", root, err)
	}
	return ns, nil
}

// checkTimeForChildren refuses a task whose children would be created in
// another time namespace than its own (it called unshare(CLONE_NEWTIME)
// and has not forked since): restore cannot make that pending namespace.
func checkTimeForChildren(pids []int) error {
	for _, pid := range pids {
		own, err := procfs.NsIno(pid, "time")
		if err != nil {
			return nil // a kernel without time namespaces
		}
		kids, err := procfs.NsIno(pid, "time_for_children")
		if err != nil {
			return fmt.Errorf("task %d: %w", pid, err)
		}
		if kids != own {
			return fmt.Errorf("%w: task %d creates its children in another time namespace (time:[%d]) than its own (time:[%d])", errdefs.ErrUnsupported, pid, kids, own)
		}
	}
	return nil
}
