package pstree

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// Member is a created task of the tree being restored, as SetGroups
// drives it.
type Member struct {
	Proc
	Pid, Pgid int  // in the images: its pid and its group
	Cur       *int // its group now, which SetGroups updates
	Helper    bool // a helper of restore's, in the group it was made for
}

// SetGroups puts every task in its process group, by setpgid: group
// leaders first, then members. A group none of the tasks leads, which is
// not joinable as it is (one of the restorer's), gets a helper task with
// the group's id, which helper(i, pgid) makes as the child of ms[i], the
// first member, in the group: it exits once the members have joined
// (FinishDead).
func SetGroups(ms []Member, joinable func(pgid int) bool, helper func(i, pgid int) error) error {
	for _, m := range ms {
		if m.Pgid == m.Pid && *m.Cur != m.Pid {
			if _, err := m.Sys("setpgid", unix.SYS_SETPGID, 0, 0); err != nil {
				return err
			}
			*m.Cur = m.Pid
		}
	}
	for i, m := range ms {
		if *m.Cur == m.Pgid || m.Helper {
			continue
		}
		if !joinable(m.Pgid) {
			if err := helper(i, m.Pgid); err != nil {
				return err
			}
		}
		if _, err := m.Sys("setpgid", unix.SYS_SETPGID, 0, uint64(m.Pgid)); err != nil {
			return fmt.Errorf("task %d joins group %d: %w", m.Pid, m.Pgid, err)
		}
		*m.Cur = m.Pgid
	}
	return nil
}
