package procfs

import (
	"bytes"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
)

// Path returns /proc/PID/name.
func Path(pid int, name string) string { return fmt.Sprintf("/proc/%d/%s", pid, name) }

// ReadSmaps reads and parses /proc/PID/smaps.
func ReadSmaps(pid int) ([]Mapping, error) {
	b, err := os.ReadFile(Path(pid, "smaps"))
	if err != nil {
		return nil, err
	}
	return ParseMaps(bytes.NewReader(b))
}

// ReadStat reads /proc/PID/stat (or task/TID/stat when tid != 0).
func ReadStat(pid int) (Stat, error) {
	b, err := os.ReadFile(Path(pid, "stat"))
	if err != nil {
		return Stat{}, err
	}
	return ParseStat(b)
}

// ReadStatus reads /proc/PID/status; for a thread pass "task/TID/status"
// through ReadStatusFile.
func ReadStatus(pid int) (Status, error) { return ReadStatusFile(Path(pid, "status")) }

// ReadStatusFile reads a status file by path.
func ReadStatusFile(path string) (Status, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseStatus(bytes.NewReader(b))
}

// ReadFdinfo reads /proc/PID/fdinfo/FD.
func ReadFdinfo(pid, fd int) (Fdinfo, error) {
	b, err := os.ReadFile(Path(pid, "fdinfo/"+strconv.Itoa(fd)))
	if err != nil {
		return Fdinfo{}, err
	}
	return ParseFdinfo(bytes.NewReader(b))
}

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
		if err == nil {
			out = append(out, n)
		}
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
		b, err := os.ReadFile(Path(pid, fmt.Sprintf("task/%d/children", t)))
		if err != nil {
			continue
		}
		for _, f := range strings.Fields(string(b)) {
			if n, err := strconv.Atoi(f); err == nil {
				out = append(out, n)
			}
		}
	}
	return out, nil
}

// ReadTrim reads a small /proc file and trims the trailing newline.
func ReadTrim(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	return strings.TrimRight(string(b), "\n"), nil
}
