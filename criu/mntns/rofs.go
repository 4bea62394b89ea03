package mntns

import (
	"fmt"
	"slices"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/errdefs"
	"github.com/criugo/criu/proto/images"
)

// Writable runs fn with the read-only mounts that hold paths (the
// tree's paths: ghost files the restore makes, then removes, on a
// mount the task had made read-only, CRIU's zdtm ghost_on_rofs) made
// writable, and read-only again after, as CRIU 4.2 does. Only the
// mount's own flag is changed (MS_REMOUNT|MS_BIND), in the namespace
// Make built, by the root task pid (sys), through its bufSize bytes at
// buf (0: a mapping of its own meanwhile). A read-only superblock is
// refused: remounting it would change every mount of it. With no
// layout (the tree's mounts are a copy of criu's) fn just runs.
func (l *Layout) Writable(pid int, sys Syscall, buf uint64, paths []string, fn func() error) (err error) {
	if l == nil {
		return fn()
	}
	var ro []*images.MntEntry
	for _, p := range paths {
		m := l.mountOf(p)
		if m == nil || m.GetFlags()&unix.MS_RDONLY == 0 || slices.Contains(ro, m) {
			continue
		}
		if m.GetSbFlags()&unix.MS_RDONLY != 0 {
			return fmt.Errorf("%w: %s is to be made on mount %s, whose file system is read-only (not only the mount)", errdefs.ErrUnsupported, p, m.GetMountpoint())
		}
		ro = append(ro, m)
	}
	if len(ro) == 0 {
		return fn()
	}
	t := task{pid, sys}
	if buf == 0 {
		const prot, flags = unix.PROT_READ | unix.PROT_WRITE, unix.MAP_PRIVATE | unix.MAP_ANONYMOUS
		if buf, err = t.Syscall("mmap", unix.SYS_MMAP, 0, bufSize, prot, flags, ^uint64(0), 0); err != nil {
			return err
		}
		defer func() {
			if _, uerr := t.Syscall("munmap", unix.SYS_MUNMAP, buf, bufSize); err == nil {
				err = uerr
			}
		}()
	}
	k := &mk{l: l, t: t, buf: buf}
	flags := func(m *images.MntEntry) uintptr {
		return unix.MS_REMOUNT | unix.MS_BIND | uintptr(m.GetFlags()&^unix.MS_UNBINDABLE)
	}
	for i, m := range ro {
		if err := k.mount("", m.GetMountpoint(), "", flags(m)&^unix.MS_RDONLY, ""); err != nil {
			for _, w := range ro[:i] {
				k.mount("", w.GetMountpoint(), "", flags(w), "")
			}
			return fmt.Errorf("mount %s: writable for a while: %w", m.GetMountpoint(), err)
		}
	}
	err = fn()
	for _, m := range ro {
		if rerr := k.mount("", m.GetMountpoint(), "", flags(m), ""); rerr != nil && err == nil {
			err = fmt.Errorf("mount %s: read-only again: %w", m.GetMountpoint(), rerr)
		}
	}
	return err
}

// mountOf is the mount of the layout path is on: the last made of those
// with the longest mount point above it.
func (l *Layout) mountOf(path string) *images.MntEntry {
	var best *images.MntEntry
	for _, m := range l.mounts {
		p := m.GetMountpoint()
		if p != "/" && path != p && !strings.HasPrefix(path, strings.TrimSuffix(p, "/")+"/") {
			continue
		}
		if best == nil || len(p) >= len(best.GetMountpoint()) {
			best = m
		}
	}
	return best
}
