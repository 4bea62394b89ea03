package crtest

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// fdSettle is how long RunWithFdCheck waits for fds to be closed after
// the tests (by goroutines still winding down, or by the cleanups of
// unreachable *os.File and *os.Process values) before it calls them
// leaked.
const fdSettle = 2 * time.Second

// RunWithFdCheck runs the tests of m and returns the code for os.Exit:
// m.Run's, or 1 when the tests passed but left file descriptors open
// that were not open before them; it names each leaked fd and what it
// refers to on stderr. Call it from TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(crtest.RunWithFdCheck(m)) }
//
// The fds the Go runtime opens once and keeps (the netpoller's epoll
// fd and eventfd) are opened before the first look. An *os.File or
// *os.Process dropped without Close is closed by its cleanup once the
// garbage collector finds it, which the check waits for: it reports
// only what stays open, such as raw fds from unix.Open or unix.Socket.
func RunWithFdCheck(m *testing.M) int { return checkFds(m.Run, os.Stderr, fdSettle) }

// checkFds is RunWithFdCheck for any run function, reporting to w.
func checkFds(run func() int, w io.Writer, settle time.Duration) int {
	warmPoller()
	before, err := OpenFds()
	if err != nil {
		fmt.Fprintf(w, "fd check: %v\n", err)
		return 1
	}
	code := run()
	if code != 0 {
		return code // the failures say more than the fds they left
	}
	leaked := leakedFds(before, settle)
	if len(leaked) == 0 {
		return code
	}
	fmt.Fprintf(w, "fd leak: the tests left %d file descriptor(s) open:\n", len(leaked))
	for _, l := range leaked {
		fmt.Fprintf(w, "\t%s\n", l)
	}
	return 1
}

// warmPoller makes the runtime open its netpoller's fds, which it keeps
// for the life of the process, so that they are there before the first
// look.
func warmPoller() {
	if r, w, err := os.Pipe(); err == nil {
		r.Close()
		w.Close()
	}
}

// OpenFds returns this process's open file descriptors, each with what
// it refers to (the /proc/self/fd link: a path, "pipe:[123]",
// "anon_inode:[eventpoll]"...).
func OpenFds() (map[int]string, error) {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return nil, err
	}
	out := map[int]string{}
	for _, e := range ents {
		n, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		l, err := os.Readlink("/proc/self/fd/" + e.Name())
		if err != nil {
			continue // the directory's own fd, closed by now
		}
		out[n] = l
	}
	return out, nil
}

// leakedFds waits up to settle for the fds opened since before to be
// closed, running the garbage collector so that the cleanups of
// unreachable files run, and describes those still open: "fd 7 ->
// pipe:[123]", or "fd 3 -> /x (was /y)" for a number that now refers to
// something else.
func leakedFds(before map[int]string, settle time.Duration) []string {
	ignore := profileFiles()
	deadline := time.Now().Add(settle)
	pause := 5 * time.Millisecond
	for {
		var leaked []string
		now, err := OpenFds()
		if err != nil {
			return []string{err.Error()}
		}
		nums := make([]int, 0, len(now))
		for n := range now {
			nums = append(nums, n)
		}
		sort.Ints(nums)
		for _, n := range nums {
			l := now[n]
			was, ok := before[n]
			switch {
			case ok && was == l, ignore[l], cgroupKept(n):
			case ok:
				leaked = append(leaked, fmt.Sprintf("fd %d -> %s (was %s)", n, l, was))
			default:
				leaked = append(leaked, fmt.Sprintf("fd %d -> %s", n, l))
			}
		}
		if len(leaked) == 0 || time.Now().After(deadline) {
			return leaked
		}
		runtime.GC()
		time.Sleep(pause)
		pause = min(2*pause, 200*time.Millisecond)
	}
}

// profileFiles are the files the testing package leaves open on
// purpose (-test.cpuprofile, -test.trace: written until exit).
func profileFiles() map[string]bool {
	out := map[string]bool{}
	dir := ""
	if f := flag.Lookup("test.outputdir"); f != nil {
		dir = f.Value.String()
	}
	for _, name := range []string{"test.cpuprofile", "test.trace"} {
		f := flag.Lookup(name)
		if f == nil || f.Value.String() == "" {
			continue
		}
		p := f.Value.String()
		if dir != "" && !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		if a, err := filepath.Abs(p); err == nil {
			out[a] = true
		}
	}
	return out
}

// cgroupKept reports whether fd n is the O_PATH directory fd of a
// cgroup v1 hierarchy that package cgroup mounted for itself (no mount
// of it was in criu's namespace) and keeps for the life of the process.
func cgroupKept(n int) bool {
	var st unix.Statfs_t
	if unix.Fstatfs(n, &st) != nil || st.Type != unix.CGROUP_SUPER_MAGIC {
		return false
	}
	fl, err := unix.FcntlInt(uintptr(n), unix.F_GETFL, 0)
	return err == nil && fl&unix.O_PATH != 0
}
