package procfs

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"io"
	"os"
	"strconv"
	"strings"
)

// FanotifyMark kinds, by the object the mark is on.
const (
	FanotifyInode = iota + 1
	FanotifyMount
	FanotifySb    // a filesystem mark: sdev only
	FanotifyMntNs // a mount namespace mark (FAN_MARK_MNTNS)
)

// Fanotify is a fanotify file's group, from its fdinfo
// (fs/notify/fdinfo.c):
//
//	fanotify flags:10 event-flags:8002
//	fanotify ino:1a2b sdev:800001 mflags:0 mask:20 ignored_mask:0 fhandle-bytes:8 fhandle-type:1 f_handle:4afd0a00bc1e6a1c
//	fanotify mnt_id:1d mflags:0 mask:20 ignored_mask:0
//	fanotify sdev:800001 mflags:0 mask:20 ignored_mask:0
type Fanotify struct {
	Flags      uint32 // fanotify_init's flags
	EventFlags uint32 // fanotify_init's event_f_flags
	Marks      []FanotifyMark
}

// FanotifyMark is one mark line of a fanotify fdinfo.
type FanotifyMark struct {
	Kind        int // FanotifyInode...
	Ino         uint64
	Sdev        uint32 // kernel dev_t: major << 20 | minor
	MntID       int
	MntNs       uint64
	MFlags      uint32 // the mark's user flags (FAN_MARK_*)
	Mask        uint32
	IgnoredMask uint32
	HandleType  int32
	Handle      []byte
	Line        string // as fdinfo shows it, for messages
}

// ParseFanotify reads the group and mark lines of a fanotify fdinfo.
func ParseFanotify(r io.Reader) (*Fanotify, error) {
	out := &Fanotify{}
	sc := bufio.NewScanner(r)
	n := 0
	header := false
	for sc.Scan() {
		n++
		line := sc.Text()
		if !strings.HasPrefix(line, "fanotify ") {
			continue
		}
		f := map[string]string{}
		for _, kv := range strings.Fields(strings.TrimPrefix(line, "fanotify ")) {
			k, v, ok := strings.Cut(kv, ":")
			if !ok {
				return nil, parseErr("fdinfo", n, line, "field %q", kv)
			}
			f[k] = v
		}
		hexField := func(k string, bits int) (uint64, error) {
			v, ok := f[k]
			if !ok {
				return 0, parseErr("fdinfo", n, line, "field %s missing", k)
			}
			u, err := strconv.ParseUint(v, 16, bits)
			if err != nil {
				return 0, parseErr("fdinfo", n, line, "%s: %v", k, err)
			}
			return u, nil
		}
		if _, ok := f["event-flags"]; ok {
			fl, err := hexField("flags", 32)
			if err != nil {
				return nil, err
			}
			ev, err := hexField("event-flags", 32)
			if err != nil {
				return nil, err
			}
			out.Flags, out.EventFlags, header = uint32(fl), uint32(ev), true
			continue
		}
		m := FanotifyMark{Line: line}
		var u uint64
		var err error
		switch {
		case f["ino"] != "":
			m.Kind = FanotifyInode
			if m.Ino, err = hexField("ino", 64); err != nil {
				return nil, err
			}
			if u, err = hexField("sdev", 32); err != nil {
				return nil, err
			}
			m.Sdev = uint32(u)
			if _, ok := f["f_handle"]; ok {
				if u, err = hexField("fhandle-type", 32); err != nil {
					return nil, err
				}
				m.HandleType = int32(u)
				if m.Handle, err = hex.DecodeString(f["f_handle"]); err != nil {
					return nil, parseErr("fdinfo", n, line, "f_handle: %v", err)
				}
				if u, err = hexField("fhandle-bytes", 8); err != nil {
					return nil, err
				}
				if int(u) != len(m.Handle) {
					return nil, parseErr("fdinfo", n, line, "f_handle of %d bytes, want %d", len(m.Handle), u)
				}
			}
		case f["mnt_id"] != "":
			m.Kind = FanotifyMount
			if u, err = hexField("mnt_id", 32); err != nil {
				return nil, err
			}
			m.MntID = int(u)
		case f["mnt_ns"] != "":
			m.Kind = FanotifyMntNs
			if m.MntNs, err = strconv.ParseUint(f["mnt_ns"], 10, 64); err != nil {
				return nil, parseErr("fdinfo", n, line, "mnt_ns: %v", err)
			}
		case f["sdev"] != "":
			m.Kind = FanotifySb
			if u, err = hexField("sdev", 32); err != nil {
				return nil, err
			}
			m.Sdev = uint32(u)
		default:
			return nil, parseErr("fdinfo", n, line, "mark of unknown kind")
		}
		for k, p := range map[string]*uint32{"mflags": &m.MFlags, "mask": &m.Mask, "ignored_mask": &m.IgnoredMask} {
			if u, err = hexField(k, 32); err != nil {
				return nil, err
			}
			*p = uint32(u)
		}
		out.Marks = append(out.Marks, m)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if !header {
		return nil, parseErr("fdinfo", n, "", "no fanotify flags line")
	}
	return out, nil
}

// ReadFanotify reads the group and marks of the fanotify file at fd of
// pid.
func ReadFanotify(pid, fd int) (*Fanotify, error) {
	name := fdinfoPath(pid, fd)
	b, err := os.ReadFile(name)
	if err != nil {
		return nil, err
	}
	g, err := ParseFanotify(bytes.NewReader(b))
	return g, withFile(err, name)
}
