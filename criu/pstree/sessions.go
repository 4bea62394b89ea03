package pstree

import (
	"fmt"

	"github.com/criugo/criu/criu/errdefs"
)

// Sessions is how restore gives every task its session. Restore makes
// sessions by setsid and fork: a task forked by its parent is born in
// the parent's session, and a session leader forks the children that
// keep its former session before its setsid (Born), the others after.
type Sessions struct {
	// Born: the session a leader must be born in, before its own
	// setsid, for the descendants that keep it (CRIU's born_sid).
	// A leader not here may be born in any.
	Born map[int]int
	// Via: the tasks whose session their parent cannot give them, by
	// pid, and how they get it.
	Via map[int]Via
}

// Via is how restore gives a task a session its parent cannot give it:
// the task was re-parented to a subreaper or init when its session's
// leader, or the tasks between them, exited. Another task, in the
// session, forks it in its parent's stead, with clone3's CLONE_PARENT
// (the new task is its caller's sibling) or, with Reparent, as its own
// child that the kernel re-parents when the forker exits.
type Via struct {
	// By is the pid of the task that forks it: the session's leader
	// (alive, or a zombie, which lives until the tree is built), or
	// with Helper a helper task restore makes with the leader's pid,
	// a child of the task's parent, which calls setsid, forks the
	// session's members and exits, reaped by the parent, before the
	// tree resumes (CRIU 4.2's TASK_HELPER; neither its pstree nor
	// ours has an entry for it).
	By     int
	Helper bool
	// Reparent: the leader By is deeper in the tree than the task's
	// parent. By forks a helper (a pid of no task) that forks the task
	// and exits: the task goes to the nearest child subreaper above,
	// which must then be its parent (the tree's pid namespace init, or
	// a child subreaper made so early at restore).
	Reparent bool
}

// PlanSessions says how restore gives every task its session
// (Sessions). A session outside the tree's pid namespace, 0, is left to
// restore. It refuses, naming it, a session that restore cannot give:
// a task whose leader is neither an ancestor nor below the task's
// parent; a leader that descendants need born in two sessions; the
// members of a reaped leader's session under different parents (one
// helper gives the session once: a second setsid with the same pid
// fails while the session lives). tasks are parents first, the root
// first.
func PlanSessions(tasks []Task) (Sessions, error) {
	s := Sessions{Born: map[int]int{}, Via: map[int]Via{}}
	if len(tasks) == 0 {
		return s, nil
	}
	byPid := make(map[int]*Task, len(tasks))
	for i := range tasks {
		byPid[tasks[i].Pid] = &tasks[i]
	}
	helperOf := map[int]int{} // session -> the parent its helper is a child of
	for _, d := range tasks[1:] {
		if d.Sid == d.Pid || d.Sid == 0 {
			continue
		}
		led, err := s.born(byPid, d)
		if err != nil {
			return s, err
		}
		if led {
			continue
		}
		refuse := func(why string) error {
			return fmt.Errorf("%w: task %d is in session %d, whose leader cannot give it its session at restore: %s (the task was re-parented when its session's tasks between them exited)", errdefs.ErrUnsupported, d.Pid, d.Sid, why)
		}
		l := byPid[d.Sid]
		switch {
		case l == nil && d.Sid == tasks[0].Sid:
			return s, refuse("it is outside the tree, as the root's session is, and an ancestor of the task is in another session")
		case l != nil && l.Ppid == d.Ppid:
			s.Via[d.Pid] = Via{By: l.Pid}
		case l != nil && below(byPid, l, d.Ppid):
			s.Via[d.Pid] = Via{By: l.Pid, Reparent: true}
		case l != nil:
			return s, refuse(fmt.Sprintf("it is neither an ancestor of the task nor below its parent %d", d.Ppid))
		default:
			if p, ok := helperOf[d.Sid]; ok && p != d.Ppid {
				return s, refuse(fmt.Sprintf("it has exited, and members of its session have different parents, %d and %d: a helper gives a session to the children of one parent", p, d.Ppid))
			}
			helperOf[d.Sid] = d.Ppid
			s.Via[d.Pid] = Via{By: d.Sid, Helper: true}
		}
	}
	return s, nil
}

// born walks up from d's parent towards d's session's leader: a parent
// in d's session gives it (it gets it itself, by the same rules: tasks
// are checked parents first); each leader on the way must be born in
// d's session, before its setsid. It reports whether d gets its session
// from its ancestors so.
func (s Sessions) born(byPid map[int]*Task, d Task) (bool, error) {
	var leaders []*Task
	for a := byPid[d.Ppid]; a != nil; a = byPid[a.Ppid] {
		if a.Pid == d.Sid || a.Sid == d.Sid {
			for _, l := range leaders {
				if b, ok := s.Born[l.Pid]; ok && b != d.Sid {
					return false, fmt.Errorf("%w: task %d, a session leader, would have to be born in sessions %d and %d for its descendants", errdefs.ErrUnsupported, l.Pid, b, d.Sid)
				}
				s.Born[l.Pid] = d.Sid
			}
			return true, nil
		}
		if a.Sid != a.Pid {
			return false, nil // a task of another session, not a leader
		}
		leaders = append(leaders, a)
	}
	return false, nil
}

// below reports whether l descends from the task pid.
func below(byPid map[int]*Task, l *Task, pid int) bool {
	for a := byPid[l.Ppid]; a != nil; a = byPid[a.Ppid] {
		if a.Pid == pid {
			return true
		}
	}
	return false
}

// CheckSessions refuses, naming it, a task whose session restore cannot
// give it (PlanSessions).
func CheckSessions(tasks []Task) error {
	_, err := PlanSessions(tasks)
	return err
}
