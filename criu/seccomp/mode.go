package seccomp

import (
	"fmt"

	"github.com/criugo/criu/criu/procfs"
)

// ThreadMode reads the Seccomp and Seccomp_filters fields of a
// thread's status.
func ThreadMode(pid, tid int) (mode uint32, count int, err error) {
	st, err := procfs.ReadStatusFile(procfs.Path(pid, fmt.Sprintf("task/%d/status", tid)))
	if err != nil {
		return 0, 0, err
	}
	m, err := st.Uint("Seccomp")
	if err != nil {
		return 0, 0, err
	}
	n, err := st.Uint("Seccomp_filters")
	if err != nil {
		return 0, 0, err
	}
	return uint32(m), int(n), nil
}
