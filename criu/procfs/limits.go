package procfs

import (
	"bufio"
	"io"
	"strconv"
	"strings"
)

// Rlimit is one soft/hard pair; ^uint64(0) is unlimited.
type Rlimit struct{ Cur, Max uint64 }

// limitNames are the row titles of /proc/PID/limits, in resource order
// (RLIMIT_CPU = 0 ... RLIMIT_RTTIME = 15; fs/proc/base.c lnames).
var limitNames = []string{
	"Max cpu time", "Max file size", "Max data size", "Max stack size",
	"Max core file size", "Max resident set", "Max processes", "Max open files",
	"Max locked memory", "Max address space", "Max file locks", "Max pending signals",
	"Max msgqueue size", "Max nice priority", "Max realtime priority", "Max realtime timeout",
}

// ParseLimits parses /proc/PID/limits into the 16 rlimits, indexed by
// resource number. Unlike prlimit(2) on another task, reading the file
// needs no CAP_SYS_RESOURCE when the task's ids differ from ours.
func ParseLimits(r io.Reader) ([]Rlimit, error) {
	out := make([]Rlimit, len(limitNames))
	seen := make([]bool, len(limitNames))
	sc := bufio.NewScanner(r)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		for i, name := range limitNames {
			if !strings.HasPrefix(line, name+" ") {
				continue
			}
			f := strings.Fields(line[len(name):])
			if len(f) < 2 {
				return nil, parseErr("limits", n, line, "short line")
			}
			cur, err := limitValue(f[0])
			if err != nil {
				return nil, parseErr("limits", n, line, "%v", err)
			}
			max, err := limitValue(f[1])
			if err != nil {
				return nil, parseErr("limits", n, line, "%v", err)
			}
			out[i] = Rlimit{cur, max}
			seen[i] = true
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	for i, ok := range seen {
		if !ok {
			return nil, parseErr("limits", 0, limitNames[i], "missing")
		}
	}
	return out, nil
}

func limitValue(s string) (uint64, error) {
	if s == "unlimited" {
		return ^uint64(0), nil
	}
	return strconv.ParseUint(s, 10, 64)
}
