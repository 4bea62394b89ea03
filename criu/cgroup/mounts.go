package cgroup

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path"
	"slices"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// A hierarchy is one line of /proc/PID/cgroup: its controllers (cnames:
// "cpu", "name=systemd"; [""] for v2) and the path of the task's cgroup.
type member struct {
	cnames []string
	name   string // the cnames joined by "," (CRIU's cg_member name)
	path   string
}

// parseCgroupFile parses /proc/PID/cgroup: "ID:CONTROLLERS:PATH" lines.
func parseCgroupFile(b []byte) ([]member, error) {
	var out []member
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			continue
		}
		f := strings.SplitN(line, ":", 3)
		if len(f) != 3 || !strings.HasPrefix(f[2], "/") {
			return nil, fmt.Errorf("bad cgroup line %q", line)
		}
		m := member{name: f[1], path: cleanPath(f[2])}
		m.cnames = strings.Split(f[1], ",")
		out = append(out, m)
	}
	slices.SortFunc(out, func(a, b member) int { return strings.Compare(a.name, b.name) })
	return out, sc.Err()
}

func readCgroupFile(p string) ([]member, error) {
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, err
	}
	ms, err := parseCgroupFile(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	return ms, nil
}

// cleanPath is p made absolute and clean ("/" for the root).
func cleanPath(p string) string { return path.Clean("/" + p) }

// A mount is where criu reaches one hierarchy: the mount point and the
// cgroup path its root is.
type mount struct {
	point, root string
}

// dir is the directory of cgroup path p (from the hierarchy's root), or
// "" when the mount does not reach it.
func (m mount) dir(p string) string {
	rel, ok := strings.CutPrefix(p, m.root)
	if !ok || (rel != "" && !strings.HasPrefix(rel, "/") && m.root != "/") {
		return ""
	}
	return path.Join(m.point, rel)
}

// parseMounts finds the cgroup mounts of mountinfo b, by hierarchy name
// (controllers sorted and joined by ",", "" for cgroup2); the first
// mount of a hierarchy wins.
func parseMounts(b []byte) map[string]mount {
	out := map[string]mount{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		sep := slices.Index(f, "-")
		if sep < 5 || sep+3 >= len(f) {
			continue
		}
		fstype, opts := f[sep+1], f[sep+3]
		var name string
		switch fstype {
		case "cgroup2":
			name = ""
		case "cgroup":
			var cs []string
			for _, o := range strings.Split(opts, ",") {
				if o == "rw" || o == "ro" || strings.HasPrefix(o, "release_agent=") || o == "noprefix" ||
					o == "xattr" || o == "clone_children" || o == "cpuset_v2_mode" || o == "nsdelegate" {
					continue
				}
				cs = append(cs, o)
			}
			slices.Sort(cs)
			name = strings.Join(cs, ",")
		default:
			continue
		}
		if _, ok := out[name]; !ok {
			out[name] = mount{point: unescape(f[4]), root: cleanPath(unescape(f[3]))}
		}
	}
	return out
}

// unescape undoes mountinfo's octal escapes (\040 for a space).
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			var v byte
			ok := true
			for _, c := range []byte(s[i+1 : i+4]) {
				if c < '0' || c > '7' {
					ok = false
				}
				v = v*8 + c - '0'
			}
			if ok {
				b.WriteByte(v)
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// hierKey is the key of parseMounts for a hierarchy's cnames.
func hierKey(cnames []string) string {
	if len(cnames) == 1 && cnames[0] == "" {
		return ""
	}
	cs := slices.Clone(cnames)
	slices.Sort(cs)
	return strings.Join(cs, ",")
}

// hierarchies returns where criu reaches each hierarchy: in yard
// (DIR/CTRLS, DIR/unified for v2), else in criu's mounts.
func hierarchies(yard string) (map[string]mount, error) {
	if yard == "" {
		b, err := os.ReadFile("/proc/self/mountinfo")
		if err != nil {
			return nil, err
		}
		return parseMounts(b), nil
	}
	ents, err := os.ReadDir(yard)
	if err != nil {
		return nil, fmt.Errorf("--cgroup-yard: %w", err)
	}
	out := map[string]mount{}
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		name := e.Name()
		if name == "unified" {
			name = ""
		} else {
			name = hierKey(strings.Split(name, ","))
		}
		out[name] = mount{point: path.Join(yard, e.Name()), root: "/"}
	}
	return out, nil
}

// unseen holds the cgroup v1 hierarchies criu mounted for itself
// because no mount of theirs was in its mount namespace (a named
// hierarchy such as "name=zdtmtst" that some program made and
// unmounted: every task is still in it). Each is reached through a
// directory fd of a mount detached at once, so nothing shows in any
// mount table; the fd is kept for the life of the process.
var unseen struct {
	sync.Mutex
	m map[string]mount
}

// reach finds hierarchy cnames in mounts, or mounts it for criu alone
// when it is a cgroup v1 hierarchy no mount shows.
func reach(mounts map[string]mount, cnames []string) (mount, error) {
	key := hierKey(cnames)
	if m, ok := mounts[key]; ok {
		return m, nil
	}
	if key == "" {
		return mount{}, fmt.Errorf("%w: the cgroup2 hierarchy is not mounted where criu can see it", ErrUnsupported)
	}
	unseen.Lock()
	defer unseen.Unlock()
	if m, ok := unseen.m[key]; ok {
		return m, nil
	}
	opts := strings.Join(cnames, ",")
	if !slices.ContainsFunc(cnames, func(c string) bool { return !strings.HasPrefix(c, "name=") }) {
		opts = "none," + opts // a named hierarchy of no controller
	}
	dir, err := os.MkdirTemp("", "criu-cgroup-")
	if err != nil {
		return mount{}, err
	}
	defer os.Remove(dir)
	if err := unix.Mount("cgroup", dir, "cgroup", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, opts); err != nil {
		return mount{}, fmt.Errorf("%w: cgroup hierarchy %q is not mounted where criu can see it, and mounting it (-o %s) failed: %v", ErrUnsupported, hierName(cnames), opts, err)
	}
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if uerr := unix.Unmount(dir, unix.MNT_DETACH); uerr != nil && err == nil {
		unix.Close(fd)
		err = uerr
	}
	if err != nil {
		return mount{}, fmt.Errorf("cgroup hierarchy %q: %w", hierName(cnames), err)
	}
	m := mount{point: fmt.Sprintf("/proc/self/fd/%d", fd), root: "/"}
	if unseen.m == nil {
		unseen.m = map[string]mount{}
	}
	unseen.m[key] = m
	return m, nil
}
