package procfs

import (
	"fmt"
	"time"
)

// WaitZombie polls /proc/PID/stat until task pid is a zombie, for at
// most timeout.
func WaitZombie(pid int, timeout time.Duration) error {
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if st, err := ReadStat(pid); err != nil {
			return fmt.Errorf("zombie %d: %w", pid, err)
		} else if st.State == 'Z' {
			return nil
		}
	}
	return fmt.Errorf("task %d did not become a zombie", pid)
}
