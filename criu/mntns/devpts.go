package mntns

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/tty"
	"github.com/criugo/criu/proto/images"
)

// A bind of a pty slave of the namespace's own devpts (runc binds the
// container's console, /dev/pts/N, on /dev/console) needs the slave's
// node, which a new devpts instance has only while pty N exists: its
// master is opened from that instance's ptmx before the bind, as CRIU
// does, and kept as the pty's master (PtyMaster), so that the bound
// node stays the restored terminal's.

// slaveNode opens the master of the pty whose slave rel names in the
// devpts mount o, if rel is one ("/N") and the node is not there.
func (k *mk) slaveNode(o *images.MntEntry, rel string) error {
	if fsName(o) != "devpts" {
		return nil
	}
	n, err := strconv.ParseUint(strings.TrimPrefix(rel, "/"), 10, 32)
	if err != nil || !strings.HasPrefix(rel, "/") {
		return nil
	}
	dir := k.view(o)
	if _, err := os.Stat(filepath.Join(dir, rel)); err == nil {
		return nil
	}
	fd, err := tty.OpenPtmx(filepath.Join(dir, "ptmx"), uint32(n), unix.O_RDWR)
	if err != nil {
		return fmt.Errorf("open pty %d for the bind of its slave: %w", n, err)
	}
	if k.l.ptys == nil {
		k.l.ptys = map[uint32]int{}
	}
	k.l.ptys[uint32(n)] = fd
	return nil
}

// PtyMaster is the master of pty index that Make opened for a bind of
// its slave, if any (the caller holds it: PtyMasters); none for a nil
// Layout (no mount namespace to make).
func (l *Layout) PtyMaster(index uint32) (int, bool) {
	if l == nil {
		return -1, false
	}
	fd, ok := l.ptys[index]
	return fd, ok
}

// PtyMasters are the masters Make opened (PtyMaster), for the caller to
// close once the restore is over, also after a failed Make.
func (l *Layout) PtyMasters() []int {
	fds := make([]int, 0, len(l.ptys))
	for _, fd := range l.ptys {
		fds = append(fds, fd)
	}
	return fds
}
