package mntns

import (
	"fmt"
	"strings"

	"github.com/criugo/criu/criu/errdefs"
	"github.com/criugo/criu/proto/images"
)

// CheckFiles refuses, at the dump of a pivot_root'ed tree (whose root
// task pid's root no path from criu's reaches: its restore needs
// --root), the files a
// restore with --root cannot make yet (restore refuses them too, but by
// then the tree is gone): files deleted while open (ghosts, made before
// the container's mounts), unix sockets bound to a path, terminals.
func CheckFiles(pid int, entries []*images.FileEntry, ghosts bool) error {
	if reachable(pid) {
		return nil
	}
	if ghosts {
		return fmt.Errorf("%w: a file deleted while open in a pivot_root'ed container (restore with --root makes ghost files before its mounts)", errdefs.ErrUnsupported)
	}
	for _, e := range entries {
		if u := e.GetUsk(); u != nil {
			if n := u.GetName(); len(n) > 0 && n[0] != 0 {
				return fmt.Errorf("%w: socket:[%d] bound to %q in a pivot_root'ed container (restore with --root does not resolve unix socket paths inside it yet)", errdefs.ErrUnsupported, u.GetIno(), strings.TrimRight(string(n), "\x00"))
			}
		}
		if e.GetTty() != nil {
			return fmt.Errorf("%w: a terminal (tty id %d) in a pivot_root'ed container (restore with --root would make it on the host's devpts)", errdefs.ErrUnsupported, e.GetId())
		}
	}
	return nil
}
