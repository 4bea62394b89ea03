package restore

import (
	"context"
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/ipcns"
	"github.com/criugo/criu/criu/mm"
	"github.com/criugo/criu/criu/mntns"
	"github.com/criugo/criu/criu/procfs"
	"github.com/criugo/criu/proto/images"
)

// The tasks' memory is package mm's: this is what it needs of the
// restorer (mm.RestoreTask) and the steps that call it.

// memTask is a task being restored as package mm sees it.
type memTask struct{ r *restorer }

func (m memTask) Pid() int { return m.r.pid }

func (m memTask) Sys(name string, nr uintptr, args ...uint64) (uint64, error) {
	return m.r.Sys(name, nr, args...)
}

func (m memTask) SyscallIP() uint64      { return m.r.in.IP }
func (m memTask) SetSyscallIP(ip uint64) { m.r.in.IP = ip }
func (m memTask) SetScratch(addr uint64) { m.r.scr = addr }
func (m memTask) Scratch() uint64        { return m.r.scr }

func (m memTask) WriteScratch(off uint64, b []byte) error { return m.r.WriteScratch(off, b) }

func (m memTask) CString(off uint64, s string) (uint64, error) { return m.r.cstring(off, s) }

func (m memTask) FilePath(id uint32) (string, error) {
	p, _, err := m.r.filePath(id)
	return p, err
}

// ExeElsewhere: in a pivot_root'ed container the stub was executed
// through --root or an external mount of criu's namespace
// (Layout.HostPath), not the container's mount of path; a task forked
// from a restored one has its parent's, set right already.
func (m memTask) ExeElsewhere(path string) bool {
	if m.r.t.mnt == nil {
		return false
	}
	cur, err := mntns.MountID(procfs.Path(m.r.pid, "exe"))
	want, err2 := mntns.MountID(procfs.Path(m.r.pid, "root") + path)
	return err != nil || err2 != nil || cur != want
}

func (m memTask) OpenMemfd(id uint32, flags uint64) (uint64, error) {
	if f := m.r.t.ti.files[id]; f.GetType() == images.FdTypes_PACKETSK {
		// A packet socket's ring is mapped from the socket: its master.
		fd, ok := m.r.t.masters[id]
		if !ok {
			return 0, fmt.Errorf("%w: packet socket %d, mapped, is no task's fd", ErrBadImage, id)
		}
		return m.r.t.hand.Get(handTask{m.r}, fd, m.r.above())
	}
	path, fd, err := m.r.t.shmem.MemfdPath(m.r.t.ti.files[id], id, flags)
	switch {
	case err != nil:
		return 0, err
	case fd >= 0: // the memfd_create description: no writer added
		return m.r.t.hand.Get(handTask{m.r}, fd, m.r.above())
	}
	return m.r.t.hand.Open(handTask{m.r}, path, flags)
}

func (m memTask) MapShared(v *images.VmaEntry, prot uint32) (bool, error) {
	path, ok := m.r.t.shmem.SharedPath(v.GetShmid())
	if !ok {
		return false, nil
	}
	return true, m.r.mapShared(v, path, prot)
}

// AttachSysv attaches the System V segment v maps inside the task
// (ipcns.Attach: with an IPC namespace of the tree's own, the segment its
// images recreated there; otherwise one of ipcns-shm-0.img) and returns
// the protection it was mapped with.
func (m memTask) AttachSysv(v *images.VmaEntry) (uint32, error) {
	r := m.r
	return ipcns.Attach(r, v, r.t.ti.sysv, r.t.mask&unix.CLONE_NEWIPC != 0)
}

// restoreMemory rebuilds the address space of the new task
// (mm.Restore).
func (r *restorer) restoreMemory(ctx context.Context) error {
	var inherit *images.MmEntry
	if r.inherit != nil {
		inherit = r.inherit.mm
	}
	img := mm.TaskImages{Pid: r.sn.pst.GetPid(), MM: r.sn.mm, Pagemap: r.sn.pagemap, PagesID: r.sn.pagesID}
	st, err := mm.Restore(ctx, memTask{r}, r.store, img, inherit, r.log)
	r.stats.PagesRestored += st.PagesRestored
	r.stats.PagesSkippedCow += st.PagesSkippedCow
	r.stats.PagesCompared += st.PagesCompared
	return err
}

// finishMemory seals the mappings and sets the memory prctls, once the
// task's children are forked (mm.FinishRestore).
func (r *restorer) finishMemory() error {
	return mm.FinishRestore(memTask{r}, r.sn.mm)
}
