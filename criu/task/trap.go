package task

import (
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/errdefs"
	"github.com/criugo/criu/criu/procfs"
)

// RefusePendingTrap refuses a task with a SIGTRAP pending for it or one
// of its threads, as CRIU does: the injected syscalls run with SIGTRAP
// unblocked (ptrace.Injector: a blocked forced trap would reset the
// task's handler), so the pending one would be taken in place of their
// trap and lost.
// tids are the task's threads.
func RefusePendingTrap(pid int, tids []int) error {
	const trap = 1 << (unix.SIGTRAP - 1)
	for _, tid := range tids {
		st, err := procfs.ReadStatusFile(procfs.Path(pid, fmt.Sprintf("task/%d/status", tid)))
		if err != nil {
			return err
		}
		for _, k := range []string{"SigPnd", "ShdPnd"} {
			v, err := st.Hex(k)
			if err != nil {
				return err
			}
			if v&trap != 0 {
				return fmt.Errorf("thread %d: %w: a SIGTRAP is pending (%s): the dump's own traps would take its place", tid, errdefs.ErrUnsupported, k)
			}
		}
	}
	return nil
}
