package procfs

import (
	"bufio"
	"bytes"
	"strconv"
	"strings"
)

// Mount is one line of /proc/PID/mountinfo: the mount's id, the device
// of its superblock and where it is mounted.
type Mount struct {
	ID           int
	Major, Minor uint32
	Point        string
}

// ReadMounts reads /proc/PID/mountinfo.
func ReadMounts(pid int) ([]Mount, error) {
	name := Path(pid, "mountinfo")
	b, err := readFile(name, 4096)
	if err != nil {
		return nil, err
	}
	ms, err := ParseMounts(b)
	return ms, withFile(err, name)
}

// ParseMounts parses mountinfo lines:
//
//	36 35 98:0 /mnt1 /mnt/parent rw,noatime master:1 - ext3 /dev/root rw
func ParseMounts(b []byte) ([]Mount, error) {
	var out []Mount
	sc := bufio.NewScanner(bytes.NewReader(b))
	n := 0
	for sc.Scan() {
		n++
		f := strings.Fields(sc.Text())
		if len(f) < 5 {
			return nil, parseErr("mountinfo", n, sc.Text(), "too few fields")
		}
		id, err := strconv.Atoi(f[0])
		if err != nil {
			return nil, parseErr("mountinfo", n, sc.Text(), "id: %v", err)
		}
		a, c, ok := strings.Cut(f[2], ":")
		maj, err1 := strconv.ParseUint(a, 10, 32)
		min, err2 := strconv.ParseUint(c, 10, 32)
		if !ok || err1 != nil || err2 != nil {
			return nil, parseErr("mountinfo", n, sc.Text(), "device %q", f[2])
		}
		out = append(out, Mount{ID: id, Major: uint32(maj), Minor: uint32(min), Point: unescapeOctal(f[4])})
	}
	return out, sc.Err()
}

// unescapeOctal undoes the \ooo escapes of mountinfo paths.
func unescapeOctal(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// MountInfo is one whole line of /proc/PID/mountinfo (proc(5)).
type MountInfo struct {
	ID, Parent   int
	Major, Minor uint32
	// Root is the path of the mount's root inside its filesystem;
	// Point where it is mounted, as the reading task sees it.
	Root, Point string
	// Options are the per-mount options (rw/ro, nosuid, nodev, noexec,
	// relatime...), SuperOptions the filesystem's.
	Options, SuperOptions []string
	// Shared is the peer group of a shared mount, Master the group a
	// slave receives from, PropagateFrom the nearest dominant group the
	// slave sees; zero when absent. Unbindable is an unbindable mount.
	Shared, Master, PropagateFrom int
	Unbindable                    bool
	FSType, Source                string
}

// Dev is the mount's device as a Linux dev_t (unix.Mkdev).
func (m *MountInfo) Dev() uint64 {
	return uint64(m.Major&0xfff)<<8 | uint64(m.Minor&0xff) | uint64(m.Minor&^0xff)<<12 | uint64(m.Major&^0xfff)<<32
}

// ReadMountInfo reads every field of /proc/PID/mountinfo.
func ReadMountInfo(pid int) ([]MountInfo, error) {
	name := Path(pid, "mountinfo")
	b, err := readFile(name, 4096)
	if err != nil {
		return nil, err
	}
	ms, err := ParseMountInfo(b)
	return ms, withFile(err, name)
}

// ParseMountInfo parses whole mountinfo lines:
//
//	36 35 98:0 /mnt1 /mnt/parent rw,noatime master:1 - ext3 /dev/root rw,errors=continue
func ParseMountInfo(b []byte) ([]MountInfo, error) {
	var out []MountInfo
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		f := strings.Split(line, " ")
		sep := -1
		for i := 6; i < len(f); i++ {
			if f[i] == "-" {
				sep = i
				break
			}
		}
		if len(f) < 10 || sep < 0 || len(f) < sep+4 {
			return nil, parseErr("mountinfo", n, line, "too few fields")
		}
		var m MountInfo
		var err error
		if m.ID, err = strconv.Atoi(f[0]); err != nil {
			return nil, parseErr("mountinfo", n, line, "id: %v", err)
		}
		if m.Parent, err = strconv.Atoi(f[1]); err != nil {
			return nil, parseErr("mountinfo", n, line, "parent id: %v", err)
		}
		a, c, ok := strings.Cut(f[2], ":")
		maj, err1 := strconv.ParseUint(a, 10, 32)
		min, err2 := strconv.ParseUint(c, 10, 32)
		if !ok || err1 != nil || err2 != nil {
			return nil, parseErr("mountinfo", n, line, "device %q", f[2])
		}
		m.Major, m.Minor = uint32(maj), uint32(min)
		m.Root, m.Point = unescapeOctal(f[3]), unescapeOctal(f[4])
		m.Options = strings.Split(f[5], ",")
		for _, o := range f[6:sep] {
			k, v, _ := strings.Cut(o, ":")
			var dst *int
			switch k {
			case "shared":
				dst = &m.Shared
			case "master":
				dst = &m.Master
			case "propagate_from":
				dst = &m.PropagateFrom
			case "unbindable":
				m.Unbindable = true
				continue
			default:
				continue // a tag newer than this parser
			}
			if *dst, err = strconv.Atoi(v); err != nil {
				return nil, parseErr("mountinfo", n, line, "%s: %v", k, err)
			}
		}
		m.FSType = unescapeOctal(f[sep+1])
		m.Source = unescapeOctal(f[sep+2])
		m.SuperOptions = strings.Split(f[sep+3], ",")
		out = append(out, m)
	}
	return out, sc.Err()
}
