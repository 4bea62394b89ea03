package procfs

import (
	"bufio"
	"encoding/binary"
	"errors"
	"io"
	"strconv"
	"strings"
)

var (
	errShort = errors.New("too few fields")
	errRange = errors.New("bad address range")
	errPerms = errors.New("bad permissions")
	errDev   = errors.New("bad device")
)

// Stat holds the fields of /proc/PID/stat that dump needs.
type Stat struct {
	Pid                 int
	Comm                string
	State               byte
	Ppid, Pgrp, Session int
	Flags               uint64
	NumThreads          int
	StartCode, EndCode  uint64
	StartStack          uint64
	StartData, EndData  uint64
	StartBrk            uint64
	ArgStart, ArgEnd    uint64
	EnvStart, EnvEnd    uint64
	ExitSignal          int
	Nice                int
	// ExitCode is a zombie's wait status (field 52), 0 when absent.
	ExitCode int
	// TtyNr is the controlling terminal's device number, 0 for none.
	TtyNr uint64
}

// ParseStat parses /proc/PID/stat. The comm field may contain spaces and
// parentheses: it runs to the last ')'.
func ParseStat(b []byte) (Stat, error) {
	var s Stat
	line := strings.TrimSpace(string(b))
	lp := strings.IndexByte(line, '(')
	rp := strings.LastIndexByte(line, ')')
	if lp < 0 || rp < lp {
		return s, parseErr("stat", 1, line, "no comm")
	}
	pid, err := strconv.Atoi(strings.TrimSpace(line[:lp]))
	if err != nil {
		return s, parseErr("stat", 1, line, "pid: %v", err)
	}
	s.Pid = pid
	s.Comm = line[lp+1 : rp]
	f := strings.Fields(line[rp+1:])
	// f[0] is field 3 (state).
	if len(f) < 50 {
		return s, parseErr("stat", 1, line, "%d fields", len(f)+2)
	}
	num := func(field int) uint64 {
		v, _ := strconv.ParseInt(f[field-3], 10, 64)
		if v < 0 {
			return uint64(v)
		}
		u, _ := strconv.ParseUint(f[field-3], 10, 64)
		return u
	}
	s.State = f[0][0]
	s.Ppid = int(num(4))
	s.Pgrp = int(num(5))
	s.Session = int(num(6))
	s.TtyNr = num(7)
	s.Flags = num(9)
	s.Nice = int(int64(num(19)))
	s.NumThreads = int(num(20))
	s.StartCode = num(26)
	s.EndCode = num(27)
	s.StartStack = num(28)
	s.ExitSignal = int(num(38))
	s.StartData = num(45)
	s.EndData = num(46)
	s.StartBrk = num(47)
	s.ArgStart = num(48)
	s.ArgEnd = num(49)
	s.EnvStart = num(50)
	s.EnvEnd = num(51)
	if len(f) >= 50 {
		s.ExitCode = int(num(52))
	}
	return s, nil
}

// Status is /proc/PID/status as key → value, with typed accessors.
type Status map[string]string

// ParseStatus parses "Key:\tvalue" lines.
func ParseStatus(r io.Reader) (Status, error) {
	st := Status{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		st[k] = strings.TrimSpace(v)
	}
	return st, sc.Err()
}

// Ints returns the whitespace-separated decimal values of key.
func (s Status) Ints(key string) ([]uint32, error) {
	var out []uint32
	for _, f := range strings.Fields(s[key]) {
		n, err := strconv.ParseUint(f, 10, 32)
		if err != nil {
			return nil, parseErr("status", 0, key+": "+s[key], "%v", err)
		}
		out = append(out, uint32(n))
	}
	return out, nil
}

// Hex returns key's value parsed as hex (SigBlk, CapEff...).
func (s Status) Hex(key string) (uint64, error) {
	v, ok := s[key]
	if !ok {
		return 0, parseErr("status", 0, key, "missing")
	}
	n, err := strconv.ParseUint(v, 16, 64)
	if err != nil {
		return 0, parseErr("status", 0, key+": "+v, "%v", err)
	}
	return n, nil
}

// Octal returns key's value parsed as octal (Umask).
func (s Status) Octal(key string) (uint32, error) {
	v, ok := s[key]
	if !ok {
		return 0, parseErr("status", 0, key, "missing")
	}
	n, err := strconv.ParseUint(v, 8, 32)
	if err != nil {
		return 0, parseErr("status", 0, key+": "+v, "%v", err)
	}
	return uint32(n), nil
}

// Fdinfo is /proc/PID/fdinfo/N.
type Fdinfo struct {
	Pos   int64
	Flags uint32 // open flags, octal in the file
	MntID int
	Ino   uint64
	// Extra keeps the other lines (eventfd-count, tfd, inotify...).
	Extra map[string]string
	// LockLines are the values of the "lock:" lines, one per file lock
	// taken through this open file (parsed by Locks).
	LockLines []string
}

// ParseFdinfo parses /proc/PID/fdinfo/N.
func ParseFdinfo(r io.Reader) (Fdinfo, error) {
	fi := Fdinfo{Extra: map[string]string{}}
	sc := bufio.NewScanner(r)
	n := 0
	for sc.Scan() {
		n++
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		var err error
		switch k {
		case "pos":
			fi.Pos, err = strconv.ParseInt(v, 10, 64)
		case "flags":
			var u uint64
			u, err = strconv.ParseUint(v, 8, 32)
			fi.Flags = uint32(u)
		case "mnt_id":
			fi.MntID, err = strconv.Atoi(v)
		case "ino":
			fi.Ino, err = strconv.ParseUint(v, 10, 64)
		case "lock":
			fi.LockLines = append(fi.LockLines, v)
		default:
			fi.Extra[k] = v
		}
		if err != nil {
			return fi, parseErr("fdinfo", n, sc.Text(), "%v", err)
		}
	}
	return fi, sc.Err()
}

// ParseAuxv splits /proc/PID/auxv into its u64 words (type, value pairs,
// ending with AT_NULL).
func ParseAuxv(b []byte) ([]uint64, error) {
	if len(b)%16 != 0 {
		return nil, parseErr("auxv", 0, "", "length %d not a multiple of 16", len(b))
	}
	out := make([]uint64, 0, len(b)/8)
	for i := 0; i+8 <= len(b); i += 8 {
		out = append(out, binary.LittleEndian.Uint64(b[i:]))
	}
	// Trim after AT_NULL.
	for i := 0; i+1 < len(out); i += 2 {
		if out[i] == 0 {
			return out[:i+2], nil
		}
	}
	return out, nil
}

// Timer is one POSIX timer from /proc/PID/timers.
type Timer struct {
	ID       int
	Signal   int
	SigVal   uint64
	Notify   string // "signal", "thread", "none"
	NotifyID int    // tid for thread notify
	ClockID  int
}

// ParseTimers parses /proc/PID/timers.
func ParseTimers(r io.Reader) ([]Timer, error) {
	var out []Timer
	sc := bufio.NewScanner(r)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		if k == "ID" {
			id, err := strconv.Atoi(v)
			if err != nil {
				return nil, parseErr("timers", n, line, "%v", err)
			}
			out = append(out, Timer{ID: id})
			continue
		}
		if len(out) == 0 {
			return nil, parseErr("timers", n, line, "field before ID")
		}
		t := &out[len(out)-1]
		switch k {
		case "signal":
			s, val, _ := strings.Cut(v, "/")
			t.Signal, _ = strconv.Atoi(s)
			t.SigVal, _ = strconv.ParseUint(val, 16, 64)
		case "notify":
			how, who, _ := strings.Cut(v, "/")
			t.Notify = how
			if _, id, ok := strings.Cut(who, "."); ok {
				t.NotifyID, _ = strconv.Atoi(id)
			}
		case "ClockID":
			t.ClockID, _ = strconv.Atoi(v)
		}
	}
	return out, sc.Err()
}
