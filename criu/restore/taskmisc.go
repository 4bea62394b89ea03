package restore

import (
	"errors"
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/procfs"
	"github.com/criugo/criu/proto/images"
)

// restoreOOMScoreAdj writes the dumped oom_score_adj into
// /proc/PID/oom_score_adj of the restored task, from outside (as CRIU
// does from inside, through /proc/self). The value is process-wide.
//
// The kernel refuses, with EACCES, a value below the task's
// oom_score_adj_min to a writer without CAP_SYS_RESOURCE. The restored
// task inherited that minimum from the restorer, and this machine does
// not grant CAP_SYS_RESOURCE, so a value below it (typically a negative
// one, when the restorer runs at 0) cannot be set here: that is logged as
// a warning naming the task and the value, and the restore goes on with
// the inherited value, as for rlimits that cannot be raised. Raising it,
// or lowering it to no less than the minimum, always works.
func (r *restorer) restoreOOMScoreAdj(tc *images.TaskCoreEntry) error {
	if tc.OomScoreAdj == nil {
		return nil // an image from a dumper that did not keep it
	}
	v := tc.GetOomScoreAdj()
	if v < -1000 || v > 1000 {
		return fmt.Errorf("%w: oom_score_adj %d out of -1000..1000", ErrBadImage, v)
	}
	name := procfs.Path(r.pid, "oom_score_adj")
	err := os.WriteFile(name, []byte(strconv.Itoa(int(v))), 0)
	if errors.Is(err, unix.EACCES) {
		cur, _ := procfs.ReadTrim(name)
		r.log.Warn().Int("pid", r.vpid).Int32("oom_score_adj", v).Str("kept", cur).Err(err).
			Msgf("task %d: cannot set oom_score_adj %d without CAP_SYS_RESOURCE, keeping %s", r.vpid, v, cur)
		return nil
	}
	if err != nil {
		return fmt.Errorf("set oom_score_adj %d: %w", v, err)
	}
	return nil
}

// restoreChildSubreaper makes the restored task a child subreaper again
// with an injected prctl(PR_SET_CHILD_SUBREAPER, 1). Tasks start without
// the flag (it is not inherited by fork), so only a set flag needs work.
func (r *restorer) restoreChildSubreaper(tc *images.TaskCoreEntry) error {
	if !tc.GetChildSubreaper() {
		return nil
	}
	_, err := r.sys("prctl(PR_SET_CHILD_SUBREAPER)", unix.SYS_PRCTL, unix.PR_SET_CHILD_SUBREAPER, 1)
	return err
}
