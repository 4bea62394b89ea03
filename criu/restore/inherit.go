package restore

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/tty"
)

// Inherited fds (criu restore --inherit-fd fd[N]:KEY, CRIU's option): a
// file of the images named by KEY is not made anew; the task gets criu's
// own fd N in its place. The keys are CRIU's names of the files:
//
//	pipe:[INO]          a pipe, by the inode it had at dump (pipe_id)
//	socket:[INO]        a socket, by its inode at dump
//	tty[RDEV:DEV]       a terminal, by its device and its file's device (hex)
//	path/to/file        a regular file, by its path without the leading /
//
// A pipe is reopened through /proc/self/fd/N with the dumped flags (a
// description of its own, as CRIU's reopen), and so is a terminal
// (package tty); a regular file is the very description of fd N (as CRIU). The bytes the images hold for an
// inherited pipe are not written to it.

// ParseInheritFd parses one --inherit-fd argument, fd[N]:KEY.
func ParseInheritFd(arg string) (fd int, key string, err error) {
	rest, ok := strings.CutPrefix(arg, "fd[")
	num, key, ok2 := strings.Cut(rest, "]:")
	if !ok || !ok2 || key == "" {
		return 0, "", fmt.Errorf("--inherit-fd %q: want fd[N]:KEY (pipe:[INO], socket:[INO], tty[RDEV:DEV] or path/to/file)", arg)
	}
	if k, ok, err := tty.ParseTTYKey(key); ok {
		if err != nil {
			return 0, "", fmt.Errorf("--inherit-fd %q: %w", arg, err)
		}
		key = k // as the images name it: hex, lower case
	}
	fd, err = strconv.Atoi(num)
	if err != nil || fd < 0 {
		return 0, "", fmt.Errorf("--inherit-fd %q: bad fd number %q", arg, num)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return 0, "", fmt.Errorf("--inherit-fd %q: fd %d: %w", arg, fd, os.NewSyscallError("fstat", err))
	}
	return fd, key, nil
}

// inheritedFd returns criu's fd that Options.InheritFd gives for key,
// and records that the key was used.
func (t *treeRestorer) inheritedFd(key string) (int, bool) {
	fd, ok := t.opts.InheritFd[key]
	if ok {
		if t.inheritUsed == nil {
			t.inheritUsed = map[string]bool{}
		}
		t.inheritUsed[key] = true
	}
	return fd, ok
}

// warnUnusedInherit names the --inherit-fd keys that no file of the
// images had (CRIU ignores them too).
func (t *treeRestorer) warnUnusedInherit() {
	for key, fd := range t.opts.InheritFd {
		if !t.inheritUsed[key] {
			t.log.Warn().Str("key", key).Int("fd", fd).Msg("--inherit-fd: no file of the images has this name")
		}
	}
}
