// Package pstree holds the shape of a dumped process tree as CRIU's
// pstree.img keeps it: each task's pid, parent, process group, session
// and threads, inside the tree's pid namespace, parents before children,
// and a dead task's (a zombie's) core with its exit status. Write writes
// those images; PlanSessions says how restore gives each task its
// session (and CheckSessions refuses, at dump, a tree whose sessions it
// cannot make again); SetGroups puts a restored tree's tasks in their
// process groups, and FinishDead ends its zombies and helper tasks.
//
// What belongs here: the rules of the tree's shape (which sessions and
// groups can be rebuilt by fork, setsid and setpgid, and through which
// helpers), and the end of its dead tasks. What does not: a
// live task's state (package task), the freeze and the kernel objects
// tasks share (criu/dump), the restore's building of the tree
// (criu/restore).
package pstree
