package procfs

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

var (
	errShort = errors.New("too few fields")
	errRange = errors.New("bad address range")
	errPerms = errors.New("bad permissions")
	errDev   = errors.New("bad device")
	errKB    = errors.New("not a size in kB")
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
	// Tpgid is the foreground process group of the controlling
	// terminal, -1 for none.
	Tpgid int
	// StartTime is when the task started, in clock ticks after boot
	// (field 22): with the pid, it names one process across pid reuse.
	StartTime uint64
}

// statFields names the fields of /proc/PID/stat that Stat holds, by
// their 1-based number (proc(5)), for errors.
var statFields = map[int]string{
	3: "state", 4: "ppid", 5: "pgrp", 6: "session", 7: "tty_nr", 8: "tpgid", 9: "flags",
	19: "nice", 20: "num_threads", 22: "starttime", 26: "startcode", 27: "endcode", 28: "startstack",
	38: "exit_signal", 45: "start_data", 46: "end_data", 47: "start_brk",
	48: "arg_start", 49: "arg_end", 50: "env_start", 51: "env_end", 52: "exit_code",
}

// ParseStat parses /proc/PID/stat. The comm field may contain spaces and
// parentheses: it runs to the last ')'. Every field that Stat holds must
// be there and be a number (the state a letter): an error names the
// field by number and name.
func ParseStat(b []byte) (Stat, error) {
	var s Stat
	line := strings.TrimSpace(string(b))
	lp := strings.IndexByte(line, '(')
	rp := strings.LastIndexByte(line, ')')
	if lp < 0 || rp < lp {
		return Stat{}, fieldErr("stat", "2 (comm)", "", "no (comm)")
	}
	pid, err := strconv.Atoi(strings.TrimSpace(line[:lp]))
	if err != nil || pid <= 0 {
		return Stat{}, fieldErr("stat", "1 (pid)", line[:lp], "not a pid")
	}
	s.Pid = pid
	s.Comm = line[lp+1 : rp]
	f := strings.Fields(line[rp+1:])
	// f[0] is field 3 (state); the kernel writes 52 fields.
	if len(f) < 50 {
		return Stat{}, fieldErr("stat", fmt.Sprintf("%d (%s)", len(f)+3, statFields[len(f)+3]), "", "missing (%d fields)", len(f)+2)
	}
	var bad error
	field := func(n int) string { return fmt.Sprintf("%d (%s)", n, statFields[n]) }
	num := func(n int) uint64 {
		v := f[n-3]
		if strings.HasPrefix(v, "-") {
			i, err := strconv.ParseInt(v, 10, 64)
			if err != nil && bad == nil {
				bad = fieldErr("stat", field(n), v, "%v", err)
			}
			return uint64(i)
		}
		u, err := strconv.ParseUint(v, 10, 64)
		if err != nil && bad == nil {
			bad = fieldErr("stat", field(n), v, "%v", err)
		}
		return u
	}
	if len(f[0]) != 1 || f[0][0] < 'A' || f[0][0] > 'z' {
		return Stat{}, fieldErr("stat", field(3), f[0], "not a task state")
	}
	s.State = f[0][0]
	s.Ppid = int(num(4))
	s.Pgrp = int(num(5))
	s.Session = int(num(6))
	s.TtyNr = num(7)
	s.Tpgid = int(int64(num(8)))
	s.Flags = num(9)
	s.Nice = int(int64(num(19)))
	s.NumThreads = int(num(20))
	s.StartTime = num(22)
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
	s.ExitCode = int(num(52))
	if bad != nil {
		return Stat{}, bad
	}
	return s, nil
}

// Status is /proc/PID/status as key → value, with typed accessors that
// fail, naming the file and the field, on a missing or malformed field.
// The empty key holds the path of the file (set by ReadStatusFile).
type Status map[string]string

// file is the status file's path, for errors.
func (s Status) file() string {
	if p := s[""]; p != "" {
		return p
	}
	return "status"
}

// ParseStatus parses "Key:\tvalue" lines. A line without a key, or a key
// given twice, is an error.
func ParseStatus(r io.Reader) (Status, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	return parseStatus(string(b))
}

// parseStatus is ParseStatus of the whole file: keys and values are
// slices of text, one allocation for the file and none a line (a dump
// reads several status files of each task while it is frozen).
func parseStatus(text string) (Status, error) {
	st := make(Status, 64)
	for n := 1; text != ""; n++ {
		line := text
		if i := strings.IndexByte(text, '\n'); i >= 0 {
			line, text = text[:i], text[i+1:]
		} else {
			text = ""
		}
		line = strings.TrimSuffix(line, "\r")
		if line == "" {
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok || k == "" {
			return nil, parseErr("status", n, line, "not a Key: value line")
		}
		if _, dup := st[k]; dup {
			return nil, parseErr("status", n, line, "field %s given twice", k)
		}
		st[k] = strings.TrimSpace(v)
	}
	return st, nil
}

// Ints returns the whitespace-separated decimal values of key (none for
// a field that is there but empty, as Groups may be).
func (s Status) Ints(key string) ([]uint32, error) {
	v, ok := s[key]
	if !ok {
		return nil, fieldErr(s.file(), key, "", "missing")
	}
	var out []uint32
	for _, f := range strings.Fields(v) {
		n, err := strconv.ParseUint(f, 10, 32)
		if err != nil {
			return nil, fieldErr(s.file(), key, v, "%v", err)
		}
		out = append(out, uint32(n))
	}
	return out, nil
}

// IntsN is Ints for a field that must hold exactly n values (Uid, Gid).
func (s Status) IntsN(key string, n int) ([]uint32, error) {
	v, err := s.Ints(key)
	if err != nil {
		return nil, err
	}
	if len(v) != n {
		return nil, fieldErr(s.file(), key, s[key], "%d values, want %d", len(v), n)
	}
	return v, nil
}

// Uint returns key's value parsed as one decimal number (Seccomp,
// NoNewPrivs, Seccomp_filters).
func (s Status) Uint(key string) (uint64, error) {
	v, ok := s[key]
	if !ok {
		return 0, fieldErr(s.file(), key, "", "missing")
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0, fieldErr(s.file(), key, v, "%v", err)
	}
	return n, nil
}

// Bytes returns key's size, "132 kB", in bytes (RssAnon, VmSwap).
func (s Status) Bytes(key string) (uint64, error) {
	v, ok := s[key]
	if !ok {
		return 0, fieldErr(s.file(), key, "", "missing")
	}
	n, err := kb(v)
	if err != nil {
		return 0, fieldErr(s.file(), key, v, "%v", err)
	}
	return n, nil
}

// Hex returns key's value parsed as hex (SigBlk, CapEff...).
func (s Status) Hex(key string) (uint64, error) {
	v, ok := s[key]
	if !ok {
		return 0, fieldErr(s.file(), key, "", "missing")
	}
	n, err := strconv.ParseUint(v, 16, 64)
	if err != nil {
		return 0, fieldErr(s.file(), key, v, "%v", err)
	}
	return n, nil
}

// Octal returns key's value parsed as octal (Umask).
func (s Status) Octal(key string) (uint32, error) {
	v, ok := s[key]
	if !ok {
		return 0, fieldErr(s.file(), key, "", "missing")
	}
	n, err := strconv.ParseUint(v, 8, 32)
	if err != nil {
		return 0, fieldErr(s.file(), key, v, "%v", err)
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
	// file is the path read (set by ReadFdinfo), for errors.
	file string
}

// name is the fdinfo file's path, for errors.
func (fi Fdinfo) name() string {
	if fi.file != "" {
		return fi.file
	}
	return "fdinfo"
}

// fdinfoNeed are the common lines every fdinfo file has (fs/proc/fd.c
// seq_show; mnt_id since 3.15), by bit. ino (since 5.14) is optional.
var fdinfoNeed = []string{"pos", "flags", "mnt_id"}

// ParseFdinfo parses /proc/PID/fdinfo/N. The pos, flags and mnt_id
// lines must be there; lines without a colon (io_uring's lists) are
// skipped.
func ParseFdinfo(r io.Reader) (Fdinfo, error) {
	fi := Fdinfo{Extra: map[string]string{}}
	sc := bufio.NewScanner(r)
	n := 0
	seen := 0
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
			seen |= 1
		case "flags":
			var u uint64
			u, err = strconv.ParseUint(v, 8, 32)
			fi.Flags = uint32(u)
			seen |= 2
		case "mnt_id":
			fi.MntID, err = strconv.Atoi(v)
			seen |= 4
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
	if err := sc.Err(); err != nil {
		return fi, err
	}
	if k := missingField(seen, fdinfoNeed); k != "" {
		return fi, fieldErr("fdinfo", k, "", "missing")
	}
	return fi, nil
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
	ID     int
	Signal int
	SigVal uint64
	// Notify is how the kernel notifies: "signal", "none" or "thread"
	// (SIGEV_SIGNAL, SIGEV_NONE, SIGEV_THREAD as the kernel keeps it).
	Notify string
	// ToThread is set for SIGEV_THREAD_ID ("/tid." in the file): the
	// signal goes to thread NotifyID, not to process NotifyID.
	ToThread bool
	NotifyID int
	ClockID  int
}

// SigevNotify is the timer's sigev_notify (SIGEV_* of
// uapi/asm-generic/siginfo.h).
func (t Timer) SigevNotify() uint32 {
	var v uint32 // SIGEV_SIGNAL
	switch t.Notify {
	case "none":
		v = 1
	case "thread":
		v = 2
	}
	if t.ToThread {
		v |= 4 // SIGEV_THREAD_ID
	}
	return v
}

// ParseTimers parses /proc/PID/timers (fs/proc/base.c show_timer):
//
//	ID: 3
//	signal: 14/0000000000000000
//	notify: signal/tid.1234
//	ClockID: 1
//
// Every timer must have each of the four lines, well formed.
func ParseTimers(r io.Reader) ([]Timer, error) {
	var out []Timer
	var seen []int // bit per field: 1 signal, 2 notify, 4 ClockID
	sc := bufio.NewScanner(r)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		if line == "" {
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			return nil, parseErr("timers", n, line, "not a Key: value line")
		}
		v = strings.TrimSpace(v)
		if k == "ID" {
			id, err := strconv.Atoi(v)
			if err != nil || id < 0 {
				return nil, parseErr("timers", n, line, "timer id")
			}
			out = append(out, Timer{ID: id})
			seen = append(seen, 0)
			continue
		}
		if len(out) == 0 {
			return nil, parseErr("timers", n, line, "field before ID")
		}
		t := &out[len(out)-1]
		bit := 0
		var err error
		switch k {
		case "signal":
			bit = 1
			s, val, ok := strings.Cut(v, "/")
			if !ok {
				return nil, parseErr("timers", n, line, "signal: no /value")
			}
			if t.Signal, err = strconv.Atoi(s); err != nil || t.Signal < 0 || t.Signal > 64 {
				return nil, parseErr("timers", n, line, "signal number")
			}
			if t.SigVal, err = strconv.ParseUint(val, 16, 64); err != nil {
				return nil, parseErr("timers", n, line, "signal value: %v", err)
			}
		case "notify":
			bit = 2
			how, who, ok := strings.Cut(v, "/")
			if !ok || (how != "signal" && how != "none" && how != "thread") {
				return nil, parseErr("timers", n, line, "notify kind")
			}
			t.Notify = how
			kind, id, ok := strings.Cut(who, ".")
			if !ok || (kind != "pid" && kind != "tid") {
				return nil, parseErr("timers", n, line, "notify target")
			}
			t.ToThread = kind == "tid"
			if t.NotifyID, err = strconv.Atoi(id); err != nil || t.NotifyID < 0 {
				return nil, parseErr("timers", n, line, "notify target id")
			}
		case "ClockID":
			bit = 4
			if t.ClockID, err = strconv.Atoi(v); err != nil {
				return nil, parseErr("timers", n, line, "clock id: %v", err)
			}
		default:
			return nil, parseErr("timers", n, line, "unknown field %s", k)
		}
		if seen[len(seen)-1]&bit != 0 {
			return nil, parseErr("timers", n, line, "field %s given twice", k)
		}
		seen[len(seen)-1] |= bit
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	for i, s := range seen {
		if s != 7 {
			return nil, parseErr("timers", 0, fmt.Sprintf("ID: %d", out[i].ID), "timer lacks signal, notify or ClockID")
		}
	}
	return out, nil
}
