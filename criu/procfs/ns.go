package procfs

import (
	"fmt"
	"os"
	"syscall"
)

// NsIno returns the inode number of the namespace of kind ("pid", "net",
// "ipc", "uts", "mnt", "user", ...) that task pid is in
// (/proc/PID/ns/KIND): two tasks are in the same namespace exactly when
// the numbers are equal. pid 0 means this process (/proc/self).
func NsIno(pid int, kind string) (uint64, error) {
	p := "/proc/self/ns/" + kind
	if pid != 0 {
		p = Path(pid, "ns/"+kind)
	}
	fi, err := os.Stat(p)
	if err != nil {
		return 0, err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, fmt.Errorf("stat %s: no inode", p)
	}
	return st.Ino, nil
}

// Inner returns the last value of a per-pid-namespace field of status
// (NSpid, NStgid, NSpgid, NSsid): the id as seen inside the task's own
// pid namespace, 0 when that process is not visible there.
func (s Status) Inner(key string) (int, error) {
	v, err := s.Ints(key)
	if err != nil {
		return 0, err
	}
	if len(v) == 0 {
		return 0, fieldErr(s.file(), key, "", "no value")
	}
	return int(v[len(v)-1]), nil
}
