package procfs

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
)

// Path returns /proc/PID/name.
func Path(pid int, name string) string { return fmt.Sprintf("/proc/%d/%s", pid, name) }

// ReadSmaps reads and parses /proc/PID/smaps: every mapping must have
// its Rss, Swap and VmFlags lines.
func ReadSmaps(pid int) ([]Mapping, error) {
	name := Path(pid, "smaps")
	b, err := readFile(name, 32<<10)
	if err != nil {
		return nil, err
	}
	ms, err := parseMapsText(string(b), true)
	return ms, withFile(err, name)
}

// ReadMaps reads and parses /proc/PID/maps: addresses, protections,
// offsets, files and names only (no VmFlags, Rss or Swap). Much cheaper
// than ReadSmaps, for which the kernel walks every mapping's page
// tables: enough to find the [vdso] and the [vvar] areas.
func ReadMaps(pid int) ([]Mapping, error) {
	name := Path(pid, "maps")
	b, err := readFile(name, 8<<10)
	if err != nil {
		return nil, err
	}
	ms, err := parseMapsText(string(b), false)
	return ms, withFile(err, name)
}

// ReadStat reads /proc/PID/stat (or task/TID/stat when tid != 0).
func ReadStat(pid int) (Stat, error) {
	name := Path(pid, "stat")
	b, err := readFile(name, 4096)
	if err != nil {
		return Stat{}, err
	}
	st, err := ParseStat(b)
	return st, withFile(err, name)
}

// ReadStatus reads /proc/PID/status; for a thread pass "task/TID/status"
// through ReadStatusFile.
func ReadStatus(pid int) (Status, error) { return ReadStatusFile(Path(pid, "status")) }

// ReadStatusFile reads a status file by path.
func ReadStatusFile(path string) (Status, error) {
	b, err := readFile(path, 4096)
	if err != nil {
		return nil, err
	}
	st, err := parseStatus(string(b))
	if err != nil {
		return nil, withFile(err, path)
	}
	st[""] = path
	return st, nil
}

// ReadPersonality reads /proc/PID/personality (hex).
func ReadPersonality(pid int) (uint32, error) {
	name := Path(pid, "personality")
	s, err := ReadTrim(name)
	if err != nil {
		return 0, err
	}
	v, err := strconv.ParseUint(s, 16, 32)
	if err != nil {
		return 0, fieldErr(name, "personality", s, "%v", err)
	}
	return uint32(v), nil
}

// ReadComm reads a comm file (/proc/PID/comm, task/TID/comm): the name,
// at most 15 bytes, newline-terminated.
func ReadComm(path string) (string, error) {
	b, err := readFile(path, 4096)
	if err != nil {
		return "", err
	}
	s, ok := strings.CutSuffix(string(b), "\n")
	if !ok || len(s) > 15 {
		return "", fieldErr(path, "comm", string(b), "not a task name")
	}
	return s, nil
}

// ReadFdinfo reads /proc/PID/fdinfo/FD. The errors of its kind-specific
// readers (Eventfd, Timerfd, Locks...) name that file.
func ReadFdinfo(pid, fd int) (Fdinfo, error) {
	name := fdinfoPath(pid, fd)
	b, err := readFile(name, 4096)
	if err != nil {
		return Fdinfo{}, err
	}
	fi, err := ParseFdinfo(bytes.NewReader(b))
	fi.file = name
	return fi, withFile(err, name)
}

func fdinfoPath(pid, fd int) string { return Path(pid, "fdinfo/"+strconv.Itoa(fd)) }

// Tasks lists the thread ids of pid, sorted, leader first.
func Tasks(pid int) ([]int, error) {
	return listInts(Path(pid, "task"), pid)
}

// Fds lists the open file descriptors of pid, sorted.
func Fds(pid int) ([]int, error) { return listInts(Path(pid, "fd"), -1) }

func listInts(dir string, first int) ([]int, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []int
	for _, e := range ents {
		n, err := strconv.Atoi(e.Name())
		if err != nil || n < 0 {
			return nil, fieldErr(dir, "entry", e.Name(), "not a number")
		}
		out = append(out, n)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i] == first {
			return true
		}
		if out[j] == first {
			return false
		}
		return out[i] < out[j]
	})
	return out, nil
}

// Children lists the children of every thread of pid.
func Children(pid int) ([]int, error) {
	tids, err := Tasks(pid)
	if err != nil {
		return nil, err
	}
	var out []int
	for _, t := range tids {
		name := Path(pid, fmt.Sprintf("task/%d/children", t))
		b, err := readFile(name, 4096)
		if errors.Is(err, os.ErrNotExist) {
			continue // a thread that is gone has no children
		}
		if err != nil {
			return nil, err
		}
		for _, f := range strings.Fields(string(b)) {
			n, err := strconv.Atoi(f)
			if err != nil || n <= 0 {
				return nil, fieldErr(name, "pid", f, "not a pid")
			}
			out = append(out, n)
		}
	}
	return out, nil
}

// ReadTrim reads a small /proc file and trims the trailing newline.
func ReadTrim(path string) (string, error) {
	b, err := readFile(path, 4096)
	if err != nil {
		return "", err
	}
	return strings.TrimRight(string(b), "\n"), nil
}

// ReadTimers reads /proc/PID/timers, the task's POSIX timers.
func ReadTimers(pid int) ([]Timer, error) {
	name := Path(pid, "timers")
	b, err := readFile(name, 4096)
	if err != nil {
		return nil, err
	}
	ts, err := ParseTimers(bytes.NewReader(b))
	return ts, withFile(err, name)
}

// ReadLimits reads /proc/PID/limits (see ParseLimits).
func ReadLimits(pid int) ([]Rlimit, error) {
	name := Path(pid, "limits")
	b, err := readFile(name, 4096)
	if err != nil {
		return nil, err
	}
	ls, err := ParseLimits(bytes.NewReader(b))
	return ls, withFile(err, name)
}

// ReadAuxv reads /proc/PID/auxv (see ParseAuxv).
func ReadAuxv(pid int) ([]uint64, error) {
	name := Path(pid, "auxv")
	b, err := readFile(name, 4096)
	if err != nil {
		return nil, err
	}
	a, err := ParseAuxv(b)
	return a, withFile(err, name)
}
