package procfs

import (
	"errors"
	"fmt"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
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

// NsInos returns NsIno of each of kinds for task pid (0: this process),
// from one open of its /proc/PID/ns: one lookup of the task's /proc
// directory instead of one a kind (a dump checks some ten kinds of every
// task while the tree is frozen). A kind the kernel does not have is
// left out of the map.
func NsInos(pid int, kinds []string) (map[string]uint64, error) {
	dir := "/proc/self/ns"
	if pid != 0 {
		dir = Path(pid, "ns")
	}
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: dir, Err: err}
	}
	defer unix.Close(fd)
	out := make(map[string]uint64, len(kinds))
	for _, k := range kinds {
		var st unix.Stat_t
		if err := unix.Fstatat(fd, k, &st, 0); err != nil {
			if errors.Is(err, unix.ENOENT) {
				continue
			}
			return nil, &os.PathError{Op: "stat", Path: dir + "/" + k, Err: err}
		}
		out[k] = st.Ino
	}
	return out, nil
}
