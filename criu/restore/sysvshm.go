package restore

import (
	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/ipcns"
	"github.com/criugo/criu/proto/images"
)

// attachSysv attaches segment v.Shmid at the vma's address, inside the
// task (ipcns.Attach), and sets the protection it was mapped with.
func (r *restorer) attachSysv(v *images.VmaEntry, vm *vmap) error {
	prot, err := ipcns.Attach(r, v, r.t.ti.sysv, r.t.mask&unix.CLONE_NEWIPC != 0)
	vm.mapProt = prot
	return err
}
