package dump

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/netlock"
)

// lockNetwork locks the network of the frozen tree (package netlock),
// before any socket is put in repair mode: a tree of its own network
// namespace has the whole namespace locked, one of criu's namespace its
// TCP connections. release lifts it again once the tree is thawed, when
// the dump fails; finishNetwork keeps it for the restore when the tree
// is killed, or lifts it when the tree runs on.
func (t *frozenTree) lockNetwork(ctx context.Context) error {
	m := t.opts.NetworkLock
	if m == "" {
		m = netlock.NFTables
	}
	var err error
	if t.ns != nil && t.ns.mask&unix.CLONE_NEWNET != 0 {
		if err := t.opts.notify(ctx, "network-lock"); err != nil {
			return err
		}
		t.netlock, err = netlock.LockNetns(ctx, m, t.runID, t.tasks[0].pid, t.opts.Log)
	} else {
		var conns []netlock.Conn
		if conns, err = t.connections(); err != nil {
			return fmt.Errorf("lock network: %w", err)
		}
		t.netlock, err = netlock.LockConns(ctx, m, t.runID, conns, t.opts.Log)
	}
	return err
}

// connections are the TCP connections of the tree's sockets.
//
// A stopgap until sockets.Set lists them (Established): the sockets are
// the tasks' fds that are socket:[INO], their connections are read from
// /proc/PID/net/tcp{,6} of the root.
func (t *tree) connections() ([]netlock.Conn, error) {
	inodes := map[uint64]bool{}
	for _, d := range t.tasks {
		if d.zombie {
			continue
		}
		dir := fmt.Sprintf("/proc/%d/fd", d.pid)
		ents, err := os.ReadDir(dir)
		if err != nil {
			return nil, err
		}
		for _, e := range ents {
			l, err := os.Readlink(dir + "/" + e.Name())
			if err != nil {
				continue // closed meanwhile: not by a frozen task
			}
			if s, ok := strings.CutPrefix(l, "socket:["); ok {
				if ino, err := strconv.ParseUint(strings.TrimSuffix(s, "]"), 10, 64); err == nil {
					inodes[ino] = true
				}
			}
		}
	}
	if len(inodes) == 0 {
		return nil, nil
	}
	return netlock.ReadConns(t.tasks[0].pid, inodes)
}

// finishNetwork, once the dump succeeded: the lock stays for the
// restore when the tree was killed, and goes when it runs on. The dump
// stands either way: a failure is logged.
func (t *frozenTree) finishNetwork() {
	if t.opts.LeaveRunning {
		t.unlockNetwork()
	} else if err := t.netlock.Keep(); err != nil {
		t.opts.Log.Error().Err(err).Msg("network lock not kept for the restore")
	}
}

// unlockNetwork lifts a lock still held (a failed dump, or one left
// running), even when the dump's context has ended: the tree must not
// stay cut off.
func (t *frozenTree) unlockNetwork() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := t.netlock.Unlock(ctx); err != nil {
		t.opts.Log.Error().Err(err).Str("id", t.netlock.ID()).Msg("network not unlocked")
	}
}
