package procfs

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"io"
	"strconv"
	"strings"
)

// The kind-specific lines of /proc/PID/fdinfo/N for anonymous-inode files
// (fs/eventfd.c, fs/signalfd.c, fs/timerfd.c, fs/eventpoll.c).

// Eventfd is the state of an eventfd.
type Eventfd struct {
	Count     uint64
	Semaphore bool // EFD_SEMAPHORE; false on kernels that do not show it
}

// Eventfd reads the eventfd lines of fi.
func (fi Fdinfo) Eventfd() (Eventfd, error) {
	v, ok := fi.Extra["eventfd-count"]
	if !ok {
		return Eventfd{}, fieldErr(fi.name(), "eventfd-count", "", "missing")
	}
	n, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
	if err != nil {
		return Eventfd{}, fieldErr(fi.name(), "eventfd-count", v, "%v", err)
	}
	return Eventfd{Count: n, Semaphore: strings.TrimSpace(fi.Extra["eventfd-semaphore"]) == "1"}, nil
}

// Sigmask reads the signal mask of a signalfd (bit N-1 for signal N).
func (fi Fdinfo) Sigmask() (uint64, error) {
	v, ok := fi.Extra["sigmask"]
	if !ok {
		return 0, fieldErr(fi.name(), "sigmask", "", "missing")
	}
	m, err := strconv.ParseUint(v, 16, 64)
	if err != nil {
		return 0, fieldErr(fi.name(), "sigmask", v, "%v", err)
	}
	return m, nil
}

// Timespec is a seconds and nanoseconds pair.
type Timespec struct{ Sec, Nsec uint64 }

// Timerfd is the state of a timerfd. Value is the time left until the
// next expiry (relative, whatever settime flags were used).
type Timerfd struct {
	Clockid       int
	Ticks         uint64
	SettimeFlags  uint32
	Value, Interv Timespec
}

// Timerfd reads the timerfd lines of fi.
func (fi Fdinfo) Timerfd() (Timerfd, error) {
	var t Timerfd
	get := func(k string) (string, error) {
		v, ok := fi.Extra[k]
		if !ok {
			return "", fieldErr(fi.name(), k, "", "missing")
		}
		return v, nil
	}
	ts := func(k string) (Timespec, error) {
		v, err := get(k)
		if err != nil {
			return Timespec{}, err
		}
		a, b, ok := strings.Cut(strings.Trim(v, "()"), ",")
		if !ok {
			return Timespec{}, fieldErr(fi.name(), k, v, "not (sec, nsec)")
		}
		s, err1 := strconv.ParseUint(strings.TrimSpace(a), 10, 64)
		ns, err2 := strconv.ParseUint(strings.TrimSpace(b), 10, 64)
		if err1 != nil || err2 != nil {
			return Timespec{}, fieldErr(fi.name(), k, v, "not (sec, nsec)")
		}
		return Timespec{s, ns}, nil
	}
	v, err := get("clockid")
	if err != nil {
		return t, err
	}
	if t.Clockid, err = strconv.Atoi(v); err != nil {
		return t, fieldErr(fi.name(), "clockid", v, "%v", err)
	}
	if v, err = get("ticks"); err != nil {
		return t, err
	}
	if t.Ticks, err = strconv.ParseUint(v, 10, 64); err != nil {
		return t, fieldErr(fi.name(), "ticks", v, "%v", err)
	}
	if v, err = get("settime flags"); err != nil {
		return t, err
	}
	f, err := strconv.ParseUint(v, 8, 32)
	if err != nil {
		return t, fieldErr(fi.name(), "settime flags", v, "%v", err)
	}
	t.SettimeFlags = uint32(f)
	if t.Value, err = ts("it_value"); err != nil {
		return t, err
	}
	t.Interv, err = ts("it_interval")
	return t, err
}

// EpollTfd is one target watched by an epoll file.
type EpollTfd struct {
	Fd     int // the fd number it was added with
	Events uint32
	Data   uint64
	Pos    int64
	Ino    uint64
	Dev    uint32
}

// ParseEpollTfds reads the tfd lines of an eventpoll fdinfo:
//
//	tfd:        3 events: 80000019 data:       1234567890  pos:0 ino:40e sdev:10
func ParseEpollTfds(r io.Reader) ([]EpollTfd, error) {
	var out []EpollTfd
	sc := bufio.NewScanner(r)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		if !strings.HasPrefix(line, "tfd:") {
			continue
		}
		// Make "key: value" and "key:value" alike, then walk pairs.
		f := strings.Fields(strings.ReplaceAll(line, ":", ": "))
		if len(f)%2 != 0 {
			return nil, parseErr("fdinfo", n, line, "not key: value pairs")
		}
		var e EpollTfd
		seen := 0
		for i := 0; i+1 < len(f); i += 2 {
			k, v := strings.TrimSuffix(f[i], ":"), f[i+1]
			var err error
			var u uint64
			switch k {
			case "tfd":
				e.Fd, err = strconv.Atoi(v)
				seen |= 1
			case "events":
				u, err = strconv.ParseUint(v, 16, 32)
				e.Events = uint32(u)
				seen |= 2
			case "data":
				e.Data, err = strconv.ParseUint(v, 16, 64)
				seen |= 4
			case "pos":
				e.Pos, err = strconv.ParseInt(v, 10, 64)
				seen |= 8
			case "ino":
				e.Ino, err = strconv.ParseUint(v, 16, 64)
				seen |= 16
			case "sdev":
				u, err = strconv.ParseUint(v, 16, 32)
				e.Dev = uint32(u)
				seen |= 32
			}
			if err != nil {
				return nil, parseErr("fdinfo", n, line, "%s: %v", k, err)
			}
		}
		if k := missingField(seen, epollFields); k != "" {
			return nil, parseErr("fdinfo", n, line, "field %s missing", k)
		}
		out = append(out, e)
	}
	return out, sc.Err()
}

// epollFields are the fields of a tfd line, by bit (fs/eventpoll.c
// ep_show_fdinfo writes all of them since 3.18).
var epollFields = []string{"tfd", "events", "data", "pos", "ino", "sdev"}

// missingField is the first of fields whose bit is not in seen, "" if
// none.
func missingField(seen int, fields []string) string {
	for b, k := range fields {
		if seen&(1<<b) == 0 {
			return k
		}
	}
	return ""
}

// ReadEpollTfds reads the targets of the epoll file at fd of pid.
func ReadEpollTfds(pid, fd int) ([]EpollTfd, error) {
	name := fdinfoPath(pid, fd)
	b, err := readFile(name, 4096)
	if err != nil {
		return nil, err
	}
	tfds, err := ParseEpollTfds(bytes.NewReader(b))
	return tfds, withFile(err, name)
}

// InotifyWatch is one watch of an inotify file, from its fdinfo line
// (fs/notify/fdinfo.c):
//
//	inotify wd:1 ino:1a2b sdev:800001 mask:800afce ignored_mask:0 fhandle-bytes:8 fhandle-type:1 f_handle:4afd0a00bc1e6a1c
type InotifyWatch struct {
	Wd          int
	Ino         uint64
	Sdev        uint32 // kernel dev_t: major << 20 | minor
	Mask        uint32
	IgnoredMask uint32
	HandleType  int32
	Handle      []byte // the file handle's bytes (f_handle)
}

// ParseInotify reads the watch lines of an inotify fdinfo.
func ParseInotify(r io.Reader) ([]InotifyWatch, error) {
	var out []InotifyWatch
	sc := bufio.NewScanner(r)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		if !strings.HasPrefix(line, "inotify ") {
			continue
		}
		var w InotifyWatch
		nbytes := -1
		seen := 0
		for _, kv := range strings.Fields(strings.TrimPrefix(line, "inotify ")) {
			k, v, ok := strings.Cut(kv, ":")
			if !ok {
				return nil, parseErr("fdinfo", n, line, "field %q", kv)
			}
			var err error
			var u uint64
			switch k {
			case "wd":
				var i int64
				i, err = strconv.ParseInt(v, 16, 32) // "%x", as the others
				w.Wd = int(i)
				seen |= 1
			case "ino":
				w.Ino, err = strconv.ParseUint(v, 16, 64)
				seen |= 2
			case "sdev":
				u, err = strconv.ParseUint(v, 16, 32)
				w.Sdev = uint32(u)
				seen |= 4
			case "mask":
				u, err = strconv.ParseUint(v, 16, 32)
				w.Mask = uint32(u)
				seen |= 8
			case "ignored_mask":
				u, err = strconv.ParseUint(v, 16, 32)
				w.IgnoredMask = uint32(u)
				seen |= 16
			case "fhandle-bytes":
				u, err = strconv.ParseUint(v, 16, 8)
				nbytes = int(u)
				seen |= 32
			case "fhandle-type":
				var i int64
				i, err = strconv.ParseInt(v, 16, 32)
				w.HandleType = int32(i)
				seen |= 64
			case "f_handle":
				w.Handle, err = hex.DecodeString(v)
				seen |= 128
			}
			if err != nil {
				return nil, parseErr("fdinfo", n, line, "%s: %v", k, err)
			}
		}
		// The file handle is shown only with CONFIG_EXPORTFS, and then
		// whole.
		need := inotifyFields[:5]
		if seen&(32|64|128) != 0 {
			need = inotifyFields
		}
		if k := missingField(seen, need); k != "" {
			return nil, parseErr("fdinfo", n, line, "field %s missing", k)
		}
		if nbytes >= 0 && nbytes != len(w.Handle) {
			return nil, parseErr("fdinfo", n, line, "f_handle of %d bytes, want %d", len(w.Handle), nbytes)
		}
		out = append(out, w)
	}
	return out, sc.Err()
}

// inotifyFields are the fields of an inotify line, by bit
// (fs/notify/fdinfo.c inotify_fdinfo; the last three only with
// CONFIG_EXPORTFS).
var inotifyFields = []string{"wd", "ino", "sdev", "mask", "ignored_mask", "fhandle-bytes", "fhandle-type", "f_handle"}

// ReadInotify reads the watches of the inotify file at fd of pid.
func ReadInotify(pid, fd int) ([]InotifyWatch, error) {
	name := fdinfoPath(pid, fd)
	b, err := readFile(name, 4096)
	if err != nil {
		return nil, err
	}
	ws, err := ParseInotify(bytes.NewReader(b))
	return ws, withFile(err, name)
}

// Pidfd is what the fdinfo of a pidfd says of its task (kernel/pid.c,
// fs/pidfs.c): Pid in the pid namespace of the procfs read, -1 once the
// task has exited and 0 when it is not visible there; NSpid from that
// namespace down to the task's own (empty when Pid is not positive).
type Pidfd struct {
	Pid   int
	NSpid []int
}

// Pidfd reads the Pid and NSpid lines of a pidfd's fdinfo.
func (fi Fdinfo) Pidfd() (Pidfd, error) {
	var p Pidfd
	v, ok := fi.Extra["Pid"]
	if !ok {
		return p, fieldErr(fi.name(), "Pid", "", "missing")
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil {
		return p, fieldErr(fi.name(), "Pid", v, "%v", err)
	}
	p.Pid = n
	for _, f := range strings.Fields(fi.Extra["NSpid"]) {
		n, err := strconv.Atoi(f)
		if err != nil {
			return p, fieldErr(fi.name(), "NSpid", fi.Extra["NSpid"], "%v", err)
		}
		p.NSpid = append(p.NSpid, n)
	}
	if p.Pid > 0 && len(p.NSpid) == 0 {
		return p, fieldErr(fi.name(), "NSpid", "", "missing")
	}
	return p, nil
}
