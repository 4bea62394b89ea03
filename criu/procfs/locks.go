package procfs

import (
	"strconv"
	"strings"
)

// LockKind is how a file lock was taken, as /proc/locks names it.
type LockKind string

// The lock kinds of fs/locks.c's lock_get_status.
const (
	LockPOSIX LockKind = "POSIX"  // fcntl(F_SETLK), lockf
	LockFlock LockKind = "FLOCK"  // flock
	LockOFD   LockKind = "OFDLCK" // fcntl(F_OFD_SETLK)
	LockLease LockKind = "LEASE"
	LockDeleg LockKind = "DELEG"
)

// Lock is one file lock of a "lock:" line of /proc/PID/fdinfo/N (the
// kernel shows there the locks taken through that open file by its
// owner: the fd table for POSIX locks, the open file for the others):
//
//	lock:	1: POSIX  ADVISORY  WRITE 1234 00:2a:5678 0 EOF
//	lock:	2: FLOCK  ADVISORY  READ 1234 00:2a:5678 0 EOF
type Lock struct {
	Kind LockKind
	// Mode is the word after the kind: ADVISORY or MANDATORY, and of a
	// lease ACTIVE, BREAKING or BREAKER.
	Mode  string
	Write bool // WRITE, else READ (or UNLCK)
	// Unlock: the access word is UNLCK (a lease being broken to none).
	Unlock bool
	Pid    int
	Start  int64
	// End is the last byte locked, -1 for EOF (whole-file locks show 0
	// EOF).
	End int64
	// Line is the line as read, to name the lock in errors.
	Line string
}

// Len is the lock's length as struct flock gives it: 0 up to EOF.
func (l Lock) Len() int64 {
	if l.End < 0 {
		return 0
	}
	return l.End - l.Start + 1
}

// Locks parses fi's lock lines.
func (fi Fdinfo) Locks() ([]Lock, error) {
	var out []Lock
	for _, line := range fi.LockLines {
		l, err := ParseLock(line)
		if err != nil {
			if fi.file != "" {
				err = withFile(err, fi.file)
			}
			return nil, err
		}
		out = append(out, l)
	}
	return out, nil
}

// ParseLock parses one lock line after "lock:" (or a line of
// /proc/locks).
func ParseLock(line string) (Lock, error) {
	f := strings.Fields(line)
	// The access type is the first READ/WRITE/UNLCK word; the kind
	// words before it vary (LEASE ACTIVE, OFDLCK ADVISORY...).
	ti := -1
	for i, w := range f {
		if w == "READ" || w == "WRITE" || w == "UNLCK" {
			ti = i
			break
		}
	}
	if len(f) < 2 || ti < 2 || len(f) < ti+5 {
		return Lock{}, parseErr("fdinfo lock", 0, line, "unexpected fields")
	}
	l := Lock{Kind: LockKind(f[1]), Mode: f[2], Write: f[ti] == "WRITE", Unlock: f[ti] == "UNLCK", Line: strings.TrimSpace(line)}
	var err error
	if l.Pid, err = strconv.Atoi(f[ti+1]); err != nil {
		return Lock{}, parseErr("fdinfo lock", 0, line, "pid: %v", err)
	}
	if l.Start, err = strconv.ParseInt(f[ti+3], 10, 64); err != nil {
		return Lock{}, parseErr("fdinfo lock", 0, line, "start: %v", err)
	}
	if f[ti+4] == "EOF" {
		l.End = -1
	} else if l.End, err = strconv.ParseInt(f[ti+4], 10, 64); err != nil {
		return Lock{}, parseErr("fdinfo lock", 0, line, "end: %v", err)
	}
	return l, nil
}
