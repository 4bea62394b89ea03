package treens

import (
	"fmt"
	"os"

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
	// Each task's /proc/PID/ns is opened once, criu's too
	// (procfs.NsInos): a tree's tasks are checked while it is frozen.
	kinds := append([]string{"time_for_children"}, criuOnly...)
	for _, k := range Kinds {
		kinds = append(kinds, k.Name)
	}
	criuNs, err := procfs.NsInos(0, kinds)
	if err != nil {
		return nil, fmt.Errorf("dump %d: criu's namespaces: %w", root, err)
	}
	inos := make([]map[string]uint64, len(pids))
	for i, pid := range pids {
		if inos[i], err = procfs.NsInos(pid, kinds); err != nil {
			return nil, fmt.Errorf("dump %d: task %d: %w", root, pid, err)
		}
	}
	// taskIno is task i's namespace of kind k, which criu has.
	taskIno := func(i int, k string) (uint64, error) {
		ino, ok := inos[i][k]
		if !ok {
			return 0, fmt.Errorf("dump %d: task %d: %s: %w", root, pids[i], procfs.Path(pids[i], "ns/"+k), os.ErrNotExist)
		}
		return ino, nil
	}
	for _, k := range criuOnly {
		mine, ok := criuNs[k]
		if !ok {
			continue // the kernel has no such namespace
		}
		for i, pid := range pids {
			ino, err := taskIno(i, k)
			if err != nil {
				return nil, err
			}
			if ino != mine {
				return nil, fmt.Errorf("dump %d: %w: task %d is in a %s namespace of its own (%s:[%d]); only pid, net, ipc, uts and mnt namespaces can be dumped", root, errdefs.ErrUnsupported, pid, k, k, ino)
			}
		}
	}
	for _, k := range Kinds {
		mine, ok := criuNs[k.Name]
		if !ok && k.Flag == unix.CLONE_NEWTIME {
			continue // a kernel without time namespaces
		}
		if !ok {
			return nil, fmt.Errorf("dump %d: criu's %s namespace: %w", root, k.Name, os.ErrNotExist)
		}
		rino, err := taskIno(0, k.Name)
		if err != nil {
			return nil, err
		}
		ns.Ino[k.Name] = rino
		ns.ID[k.Name] = newID()
		ns.CriuID[k.Name] = ns.ID[k.Name]
		if rino != mine {
			ns.Mask |= k.Flag
			ns.CriuID[k.Name] = newID()
		}
		for i, pid := range pids[1:] {
			ino, err := taskIno(i+1, k.Name)
			if err != nil {
				return nil, err
			}
			if ino != rino {
				return nil, fmt.Errorf("dump %d: %w: task %d is in another %s namespace (%s:[%d]) than the root %d (%s:[%d])",
					root, errdefs.ErrUnsupported, pid, k.Name, k.Name, ino, root, k.Name, rino)
			}
		}
	}
	if err := checkTimeForChildren(pids, inos); err != nil {
		return nil, fmt.Errorf("dump %d: %w", root, err)
	}
	return ns, nil
}

// checkTimeForChildren refuses a task whose children would be created in
// another time namespace than its own (it called unshare(CLONE_NEWTIME)
// and has not forked since): restore cannot make that pending namespace.
func checkTimeForChildren(pids []int, inos []map[string]uint64) error {
	for i, pid := range pids {
		own, ok := inos[i]["time"]
		if !ok {
			return nil // a kernel without time namespaces
		}
		kids, ok := inos[i]["time_for_children"]
		if !ok {
			return fmt.Errorf("task %d: %s: %w", pid, procfs.Path(pid, "ns/time_for_children"), os.ErrNotExist)
		}
		if kids != own {
			return fmt.Errorf("%w: task %d creates its children in another time namespace (time:[%d]) than its own (time:[%d])", errdefs.ErrUnsupported, pid, kids, own)
		}
	}
	return nil
}
