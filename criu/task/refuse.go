package task

import (
	"fmt"
	"os"

	"github.com/criugo/criu/criu/errdefs"
	"github.com/criugo/criu/criu/procfs"
)

// States of a whole task that its images have no place for, refused by
// the dump before it seizes the task.

// RefuseTraced refuses task pid when a thread of it is traced by a
// process other than the dumper (TracerPid, not one of the dumper's own
// threads), in the tree or not: a
// tracee cannot be seized, and who traces it, with what options and in
// which stop is no state the images keep (CRIU 4.2 fails to seize it
// too). A task that is gone is left to the caller to see.
func RefuseTraced(pid int) error {
	tids, err := procfs.Tasks(pid)
	if err != nil {
		return nil
	}
	for _, tid := range tids {
		st, err := procfs.ReadStatusFile(procfs.Path(pid, fmt.Sprintf("task/%d/status", tid)))
		if err != nil {
			continue // exited meanwhile
		}
		tracer, err := st.Uint("TracerPid")
		if err != nil {
			return err
		}
		// TracerPid is the tracing thread's id: the dumper's own
		// ptrace thread when the task is already seized (a frozen
		// cgroup's tasks are seized first).
		if _, err := os.Stat(fmt.Sprintf("/proc/self/task/%d", tracer)); tracer != 0 && err != nil {
			return fmt.Errorf("%w: thread %d is traced by %d (ptrace: a debugger, strace, or a tracer in the tree); detach it first", errdefs.ErrUnsupported, tid, tracer)
		}
	}
	return nil
}

// RefuseDeadLeader refuses task pid, a zombie in its stat, when other
// threads of it still run: its thread-group leader has exited
// (pthread_exit in main) and the group lives on. Dumped as a zombie,
// its threads would be lost; CRIU 4.2 refuses it too ("Zombies with
// threads are not supported").
func RefuseDeadLeader(pid int) error {
	tids, err := procfs.Tasks(pid)
	if err != nil || len(tids) < 2 {
		return nil
	}
	return fmt.Errorf("%w: its thread-group leader has exited while %d other threads run on (pthread_exit in main)", errdefs.ErrUnsupported, len(tids)-1)
}
