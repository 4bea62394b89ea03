package procfs

import (
	"bufio"
	"bytes"
	"os"
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
	b, err := os.ReadFile(name)
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
