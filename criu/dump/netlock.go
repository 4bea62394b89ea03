package dump

import (
	"context"
	"fmt"
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
	if t.ns != nil && t.ns.Mask&unix.CLONE_NEWNET != 0 {
		t.netSent = true
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
func (t *tree) connections() ([]netlock.Conn, error) {
	var pids []int
	for _, d := range t.tasks {
		if !d.zombie {
			pids = append(pids, d.pid)
		}
	}
	return netlock.TreeConns(pids)
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
	// A failed dump that sent network-lock sends network-unlock (CRIU's cr_dump_finish).
	if !t.kept && t.netSent {
		if err := t.opts.notify(ctx, "network-unlock"); err != nil {
			t.opts.Log.Warn().Err(err).Msg("network-unlock after the failed dump")
		}
	}
}
