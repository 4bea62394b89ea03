// Package handoff is how the tasks of a restore take what the restorer
// holds: its files (pidfd_getfd, through a pidfd of the restorer open
// in the task) and the objects it made that are opened by a path of
// its own /proc (a memfd's inode, shared anonymous memory through
// map_files, its own pidfd reopened).
//
// A task in a pid namespace of its own cannot name the restorer's pid
// to pidfd_open, and a task pivot_root'ed into a container (package
// mntns) no longer reaches the host's /proc by path: its /proc, if it
// has one, is the container's. So, for such a tree, the root task
// opens the host's /proc (O_PATH) before its mount namespace is made
// (Anchor), at an fd number above every fd of the tree's images; every
// task forked from it inherits that fd, and each /proc path of the
// restorer is opened relative to it (Open). Release closes it in each
// task before the tree resumes, with the restorer's pidfd.
//
// What belongs here: the pidfd of the restorer in the tasks, the
// anchor, the fd handover itself. What does not: which file a task
// gets (criu/restore and the objects' packages), the injection
// (criu/ptrace).
package handoff
