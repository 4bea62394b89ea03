package dump

import (
	"encoding/binary"
	"fmt"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/procfs"
	"github.com/criugo/criu/criu/ptrace"
)

// readOOMScoreAdj reads /proc/PID/oom_score_adj, a process-wide value
// (kept in the signal struct, shared by all threads), in -1000..1000.
func readOOMScoreAdj(pid int) (int32, error) {
	name := procfs.Path(pid, "oom_score_adj")
	s, err := procfs.ReadTrim(name)
	if err != nil {
		return 0, err
	}
	v, err := strconv.ParseInt(s, 10, 32)
	if err != nil || v < -1000 || v > 1000 {
		return 0, fmt.Errorf("parse %s: %q is not an oom_score_adj", name, s)
	}
	return int32(v), nil
}

// childSubreaper asks the task, with an injected
// prctl(PR_GET_CHILD_SUBREAPER), whether it is a child subreaper: /proc
// does not show it. The flag is process-wide, so the leader's answer
// holds for all threads. Runs on the ptrace goroutine (it injects).
func (d *dumper) childSubreaper(in *ptrace.Injector) (bool, error) {
	if _, err := in.Syscall("prctl(PR_GET_CHILD_SUBREAPER)", unix.SYS_PRCTL, unix.PR_GET_CHILD_SUBREAPER, d.scr.addr); err != nil {
		return false, err
	}
	b, err := d.readScratch(0, 4)
	if err != nil {
		return false, err
	}
	return binary.LittleEndian.Uint32(b) != 0, nil
}
