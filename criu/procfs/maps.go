package procfs

import (
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
	// KernelPageSize is the size of its pages in bytes (a huge page size
	// for hugetlb), from smaps; 0 when parsed from maps.
	KernelPageSize uint64
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
func ParseMaps(r io.Reader) ([]Mapping, error) { return parseMaps(r, false) }

// smapsNeed are the per-mapping fields of smaps that every mapping must
// have (the kernel writes them for every VMA since 3.8), by bit.
var smapsNeed = []string{"Rss", "Swap", "VmFlags"}

// parseMaps is ParseMaps; with smaps set, a mapping that lacks one of
// smapsNeed is an error naming the field, not a zero value.
func parseMaps(r io.Reader, smaps bool) ([]Mapping, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	return parseMapsText(string(b), smaps)
}

// parseMapsText is parseMaps of the whole file, its lines slices of
// text: one allocation for the file, none a line (smaps has some twenty
// lines a mapping, and a dump reads it for each task while frozen).
func parseMapsText(text string, smaps bool) ([]Mapping, error) {
	var out []Mapping
	var seen []int // per mapping, bit i for smapsNeed[i]
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
		if key, val, ok := smapsField(line); ok {
			if len(out) == 0 {
				return nil, parseErr("smaps", n, line, "field before any mapping")
			}
			m := &out[len(out)-1]
			var err error
			switch key {
			case "VmFlags":
				m.VmFlags = strings.Fields(val)
				seen[len(seen)-1] |= 4
			case "Rss":
				m.Rss, err = kb(strings.TrimSpace(val))
				seen[len(seen)-1] |= 1
			case "Swap":
				m.Swap, err = kb(strings.TrimSpace(val))
				seen[len(seen)-1] |= 2
			case "KernelPageSize":
				m.KernelPageSize, err = kb(strings.TrimSpace(val))
			}
			if err != nil {
				return nil, fieldErr("smaps", key, strings.TrimSpace(val), "line %d: %v", n, err)
			}
			continue
		}
		m, err := parseMapsLine(line)
		if err != nil {
			return nil, parseErr("maps", n, line, "%v", err)
		}
		out = append(out, m)
		seen = append(seen, 0)
	}
	if smaps {
		for i, s := range seen {
			for b, k := range smapsNeed {
				if s&(1<<b) == 0 {
					return nil, fieldErr("smaps", k, "", "missing for mapping %x-%x", out[i].Start, out[i].End)
				}
			}
		}
	}
	return out, nil
}

// smapsField recognises "Key:   value" lines of smaps, and returns the
// value untrimmed (most are not looked at). A maps line starts with a
// hex range and never has a colon in its first field.
func smapsField(line string) (string, string, bool) {
	i := strings.IndexByte(line, ':')
	if i <= 0 || strings.IndexByte(line[:i], ' ') >= 0 {
		return "", "", false
	}
	return line[:i], line[i+1:], true
}

// kb parses a size of smaps, "132 kB", into bytes.
func kb(v string) (uint64, error) {
	f := strings.Fields(v)
	if len(f) != 2 || f[1] != "kB" {
		return 0, errKB
	}
	n, err := strconv.ParseUint(f[0], 10, 64)
	if err != nil {
		return 0, err
	}
	if n > ^uint64(0)/1024 {
		return 0, errKB
	}
	return n * 1024, nil
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
