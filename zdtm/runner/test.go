package runner

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Test is one zdtm test program.
type Test struct {
	// Name names the test in output and in the dump directory tree,
	// e.g. "static/env00" or "bin/mytest".
	Name string
	// Path is the test binary.
	Path string
	// Args are the test's own arguments, after --pidfile and --outfile.
	Args []string
	// Flavors the test can run in (from its .desc); empty means all.
	Flavors []string
	// Needs lists CPU flags (from /proc/cpuinfo) and kernel features
	// (kernelHas) the test needs.
	Needs []string
	// Opts are extra criu options for its dump, pre-dump and restore
	// (CRIU's zdtm desc 'opts'), e.g. --file-locks.
	Opts []string
	// Owns are the namespaces (names under /proc/PID/ns) the test
	// makes of its own in the h flavor (desc 'owns': mnt), where the
	// runner checks it is not in the runner's.
	Owns []string
}

// ErrNoTest is returned for a test name that does not exist.
var ErrNoTest = errors.New("no such test")

// Suite lists the tests of a zdtm directory: one per static/NAME.c,
// with its binary at build/static/NAME and its options in the optional
// static/NAME.desc.
func Suite(zdtmDir string) ([]Test, error) {
	srcs, err := filepath.Glob(filepath.Join(zdtmDir, "static", "*.c"))
	if err != nil {
		return nil, err
	}
	if len(srcs) == 0 {
		return nil, fmt.Errorf("no tests in %s/static", zdtmDir)
	}
	sort.Strings(srcs)
	var tests []Test
	for _, src := range srcs {
		base := strings.TrimSuffix(filepath.Base(src), ".c")
		t := Test{
			Name: "static/" + base,
			Path: filepath.Join(zdtmDir, "build", "static", base),
		}
		desc := strings.TrimSuffix(src, ".c") + ".desc"
		if f, err := os.Open(desc); err == nil {
			err = parseDesc(f, &t)
			f.Close()
			if err != nil {
				return nil, fmt.Errorf("%s: %w", desc, err)
			}
		}
		tests = append(tests, t)
	}
	return tests, nil
}

// Find returns the tests named by names, in that order. A name may be
// "static/NAME", "NAME", or a path ending in static/NAME.
func Find(suite []Test, names []string) ([]Test, error) {
	var out []Test
	for _, n := range names {
		n = strings.TrimSuffix(n, ".c")
		found := false
		for _, t := range suite {
			if t.Name == n || strings.TrimPrefix(t.Name, "static/") == n || strings.HasSuffix(n, "/"+t.Name) {
				out = append(out, t)
				found = true
				break
			}
		}
		if !found {
			return nil, fmt.Errorf("%w: %s (see zdtm list)", ErrNoTest, n)
		}
	}
	return out, nil
}

// parseDesc reads a test description: lines of "key: value", with
// # comments. Keys: args (shell-like words, no quoting), flavors, needs,
// opts (criu options), owns (namespaces of its own in h).
func parseDesc(f *os.File, t *Test) error {
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		s := strings.TrimSpace(sc.Text())
		if s == "" || strings.HasPrefix(s, "#") {
			continue
		}
		k, v, ok := strings.Cut(s, ":")
		if !ok {
			return fmt.Errorf("line %d: want key: value", line)
		}
		words := strings.Fields(v)
		switch strings.TrimSpace(k) {
		case "args":
			t.Args = append(t.Args, words...)
		case "flavors":
			t.Flavors = append(t.Flavors, words...)
		case "needs":
			t.Needs = append(t.Needs, words...)
		case "opts":
			t.Opts = append(t.Opts, words...)
		case "owns":
			t.Owns = append(t.Owns, words...)
		default:
			return fmt.Errorf("line %d: unknown key %q", line, k)
		}
	}
	return sc.Err()
}

// BinaryTest makes a Test of any protocol-speaking binary.
func BinaryTest(path string, args []string) (Test, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return Test{}, err
	}
	st, err := os.Stat(abs)
	if err != nil {
		return Test{}, err
	}
	if !st.Mode().IsRegular() || st.Mode()&0o111 == 0 {
		return Test{}, fmt.Errorf("%s is not an executable file", abs)
	}
	return Test{Name: "bin/" + filepath.Base(abs), Path: abs, Args: args}, nil
}

// cpuFlags returns the flags of the first CPU in /proc/cpuinfo.
func cpuFlags() map[string]bool {
	flags := map[string]bool{}
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return flags
	}
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "flags" {
			for _, f := range strings.Fields(v) {
				flags[f] = true
			}
			break
		}
	}
	return flags
}

// FindZdtmDir finds the zdtm directory: the one holding static/, next
// to the executable's bin/ directory, or at or above the working dir.
func FindZdtmDir() (string, error) {
	var cands []string
	if exe, err := os.Executable(); err == nil {
		cands = append(cands, filepath.Join(filepath.Dir(filepath.Dir(exe)), "zdtm"))
	}
	if wd, err := os.Getwd(); err == nil {
		for d := wd; ; d = filepath.Dir(d) {
			cands = append(cands, d, filepath.Join(d, "zdtm"))
			if d == filepath.Dir(d) {
				break
			}
		}
	}
	for _, c := range cands {
		if st, err := os.Stat(filepath.Join(c, "static")); err == nil && st.IsDir() {
			if _, err := os.Stat(filepath.Join(c, "lib", "zdtmtst.h")); err == nil {
				return c, nil
			}
		}
	}
	return "", errors.New("cannot find the zdtm directory (give --zdtm-dir)")
}
