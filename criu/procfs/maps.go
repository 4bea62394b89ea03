package procfs

import (
	"bufio"
	"io"
	"strconv"
	"strings"
)

// Prot is a mapping's protection, printed like maps does ("rwx").
type Prot uint8

// Protection bits, the same values as PROT_READ/WRITE/EXEC.
const (
	ProtRead  Prot = 1
	ProtWrite Prot = 2
	ProtExec  Prot = 4
)

func (p Prot) String() string {
	b := []byte("---")
	if p&ProtRead != 0 {
		b[0] = 'r'
	}
	if p&ProtWrite != 0 {
		b[1] = 'w'
	}
	if p&ProtExec != 0 {
		b[2] = 'x'
	}
	return string(b)
}

// Mapping is one line of /proc/PID/maps plus, from smaps, its VmFlags.
type Mapping struct {
	Start, End uint64 // half-open [Start, End)
	Prot       Prot
	Shared     bool // 's' in maps, else 'p'
	Offset     uint64
	Major      uint32
	Minor      uint32
	Inode      uint64
	Path       string // as printed; "" for anonymous, "[heap]", "/x (deleted)"...
	// VmFlags are the two-letter flags of smaps ("rd", "ac", "gd"...);
	// nil when parsed from maps.
	VmFlags []string
	// Rss and Swap in bytes, from smaps.
	Rss, Swap uint64
}

// Len is the mapping's size in bytes.
func (m *Mapping) Len() uint64 { return m.End - m.Start }

// HasFlag reports whether smaps VmFlags contains f.
func (m *Mapping) HasFlag(f string) bool {
	for _, x := range m.VmFlags {
		if x == f {
			return true
		}
	}
	return false
}

// Deleted reports whether the mapped file was unlinked.
func (m *Mapping) Deleted() bool { return strings.HasSuffix(m.Path, " (deleted)") }

// FilePath is Path without a " (deleted)" suffix; "" for pseudo paths.
func (m *Mapping) FilePath() string {
	if !strings.HasPrefix(m.Path, "/") {
		return ""
	}
	return strings.TrimSuffix(m.Path, " (deleted)")
}

// ParseMaps parses /proc/PID/maps or /proc/PID/smaps. For smaps, the
// per-mapping lines fill VmFlags, Rss and Swap.
func ParseMaps(r io.Reader) ([]Mapping, error) {
	var out []Mapping
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		if line == "" {
			continue
		}
		if key, val, ok := smapsField(line); ok {
			if len(out) == 0 {
				return nil, parseErr("smaps", n, line, "field before any mapping")
			}
			m := &out[len(out)-1]
			switch key {
			case "VmFlags":
				m.VmFlags = strings.Fields(val)
			case "Rss":
				m.Rss = kb(val)
			case "Swap":
				m.Swap = kb(val)
			}
			continue
		}
		m, err := parseMapsLine(line)
		if err != nil {
			return nil, parseErr("maps", n, line, "%v", err)
		}
		out = append(out, m)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// smapsField recognises "Key:   value" lines of smaps. A maps line starts
// with a hex range and never has a colon in its first field.
func smapsField(line string) (string, string, bool) {
	i := strings.IndexByte(line, ':')
	sp := strings.IndexByte(line, ' ')
	if i <= 0 || (sp >= 0 && sp < i) {
		return "", "", false
	}
	return line[:i], strings.TrimSpace(line[i+1:]), true
}

func kb(v string) uint64 {
	f := strings.Fields(v)
	if len(f) == 0 {
		return 0
	}
	n, _ := strconv.ParseUint(f[0], 10, 64)
	return n * 1024
}

func parseMapsLine(line string) (Mapping, error) {
	var m Mapping
	// address perms offset dev inode [path]
	f := strings.Fields(line)
	if len(f) < 5 {
		return m, errShort
	}
	lo, hi, ok := strings.Cut(f[0], "-")
	if !ok {
		return m, errRange
	}
	var err error
	if m.Start, err = strconv.ParseUint(lo, 16, 64); err != nil {
		return m, err
	}
	if m.End, err = strconv.ParseUint(hi, 16, 64); err != nil {
		return m, err
	}
	if m.End < m.Start {
		return m, errRange
	}
	p := f[1]
	if len(p) != 4 {
		return m, errPerms
	}
	if p[0] == 'r' {
		m.Prot |= ProtRead
	}
	if p[1] == 'w' {
		m.Prot |= ProtWrite
	}
	if p[2] == 'x' {
		m.Prot |= ProtExec
	}
	m.Shared = p[3] == 's'
	if m.Offset, err = strconv.ParseUint(f[2], 16, 64); err != nil {
		return m, err
	}
	ma, mi, ok := strings.Cut(f[3], ":")
	if !ok {
		return m, errDev
	}
	a, err := strconv.ParseUint(ma, 16, 32)
	if err != nil {
		return m, err
	}
	b, err := strconv.ParseUint(mi, 16, 32)
	if err != nil {
		return m, err
	}
	m.Major, m.Minor = uint32(a), uint32(b)
	if m.Inode, err = strconv.ParseUint(f[4], 10, 64); err != nil {
		return m, err
	}
	// The path is everything after the inode field, spaces included.
	rest := line
	for i := 0; i < 5; i++ {
		rest = strings.TrimLeft(rest, " ")
		j := strings.IndexByte(rest, ' ')
		if j < 0 {
			rest = ""
			break
		}
		rest = rest[j:]
	}
	m.Path = strings.TrimLeft(rest, " ")
	return m, nil
}
