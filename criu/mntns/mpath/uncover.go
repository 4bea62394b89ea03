package mpath

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/errdefs"
	"github.com/criugo/criu/proto/images"
)

// Uncover moves aside, in the namespace of the calling thread (the one
// made of layout, the image's mounts), the mounts made over each path's directories above the
// mount of id mnts[i] (the image's mount the file of a socket bound to
// path is on, unix_sk_entry.mnt_id), so that binding path reaches that
// mount: the socket is bound on the mount it was, under the ones over
// it, as it was. The mounts stacked on one point move (MS_MOVE) top
// first, each to a directory of its own beside the point; undo moves
// them back, bottom first, and removes the directories. A path that
// nothing covers needs nothing. With no layout (the tree's mounts are a
// copy of criu's: no layout), a path that reaches no file is refused by name: its
// file is hidden and the mount it is on cannot be told.
func Uncover(layout []*images.MntEntry, mnts []int32, paths []string) (undo func() error, err error) {
	type moved struct{ point, aside string }
	var done []moved
	undo = func() error {
		var err error
		for i := len(done) - 1; i >= 0; i-- {
			m := done[i]
			if merr := unix.Mount(m.aside, m.point, "", unix.MS_MOVE, ""); merr != nil {
				err = errors.Join(err, fmt.Errorf("move mount %s back from %s: %w", m.point, m.aside, os.NewSyscallError("mount", merr)))
				continue
			}
			os.Remove(m.aside)
		}
		done = nil
		return err
	}
	defer func() {
		if err != nil {
			undo()
		}
	}()
	for i, path := range paths {
		if layout == nil {
			if _, err := os.Lstat(path); errors.Is(err, os.ErrNotExist) {
				return nil, fmt.Errorf("%w: a socket is bound to %s, which a mount hides, in a namespace restored as a copy of criu's", errdefs.ErrUnsupported, path)
			}
			continue
		}
		var c *images.MntEntry
		for _, m := range layout {
			if int32(m.GetMntId()) == mnts[i] {
				c = m
			}
		}
		if c == nil {
			return nil, fmt.Errorf("%w: a socket bound to %s is on mount %d, which the images do not have", errdefs.ErrBadImage, path, mnts[i])
		}
		// The stacks over the path: the mounts on c at a point above
		// the path, and those on them at the same point, bottom first.
		var stacks [][]*images.MntEntry
		for _, m := range layout {
			q := m.GetMountpoint()
			if m.GetParentMntId() != c.GetMntId() || m == c || !strings.HasPrefix(path, strings.TrimSuffix(q, "/")+"/") {
				continue
			}
			st := []*images.MntEntry{m}
			for more := true; more; {
				more = false
				for _, o := range layout {
					if o.GetParentMntId() == st[len(st)-1].GetMntId() && o.GetMountpoint() == q {
						st, more = append(st, o), true
						break
					}
				}
			}
			stacks = append(stacks, st)
		}
		for _, st := range stacks {
			q := st[0].GetMountpoint()
			if slices.ContainsFunc(done, func(m moved) bool { return m.point == q }) {
				continue
			}
			for j := len(st) - 1; j >= 0; j-- {
				aside := filepath.Join(filepath.Dir(q), fmt.Sprintf(".criu-aside-%d-%d", os.Getpid(), len(done)))
				if err := os.Mkdir(aside, 0o700); err != nil {
					return nil, fmt.Errorf("a directory to move mount %s aside to, for the socket bound to %s under it: %w", q, path, err)
				}
				if err := unix.Mount(q, aside, "", unix.MS_MOVE, ""); err != nil {
					os.Remove(aside)
					return nil, fmt.Errorf("move mount %s (id %d) aside, for the socket bound to %s under it (a mount whose parent is shared does not move): %w", q, st[j].GetMntId(), path, os.NewSyscallError("mount", err))
				}
				done = append(done, moved{q, aside})
			}
		}
	}
	return undo, nil
}
