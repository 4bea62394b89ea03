// Package restore rebuilds a dumped process tree, with the same PIDs and
// thread ids, parents, sessions and process groups, from CRIU images read
// through an image.Store.
//
// tree.go: the root is cloned from the stub; every other task is forked
// by its parent with clone3(set_tid) injected into the parent (with
// CLONE_FILES/CLONE_FS when it shared them). A session leader forks the
// children that kept its former session before its setsid; group leaders
// setpgid before their members; a group whose leader is gone gets a
// helper task with the leader's pid, which exits and is reaped by its
// parent once the members joined. Zombies are created, put in their group
// and made to exit with their dumped status (or die of their signal).
// Each task's memory is restored before it forks its children, so that
// they inherit it: private mappings a child got by fork and still had
// as its parent did stay, with the pages it shared copy-on-write with
// its parent left shared (meminherit.go; the dump flags them PeCow by
// PFN), and only its own pages are written. Then each task restores the
// rest of its state; all resume together.
// shelljob.go: with Options.ShellJob, the shell's session and group in
// the images are replaced by the restorer's (CRIU's rules) and the job's
// group takes the foreground of the restorer's terminal.
//
// shared.go: objects that join tasks (pipes with their buffered bytes,
// fork-shared file descriptions) are created in the restorer and handed
// to each task with pidfd_getfd injected into it; a shared anonymous
// mapping is one object created in the restorer, filled there from its
// pagemap-shmem image (package shmem) and mapped by each task through
// /proc/<restorer>/map_files; a memfd likewise, made once per inode,
// filled, opened by each fd and mapping through /proc/<restorer>/fd, and
// sealed once every task is restored. Sockets (sockets.go) and eventfd,
// signalfd, timerfd and epoll files (anon.go) are created there too:
// connected UNIX pairs with socketpair (also a connection whose peer had
// closed: the stand-in end sends its queue, then closes), then binds
// (sockets sharing a path, a listener and the connections it accepted or
// deleted sockets and the path's new holder, bind in turn, the live one
// last, the others' file unlinked; a deleted socket's missing directories
// are made and removed after, what stands at its path now is moved aside
// and back), listens, options, queues refilled
// (a stream by its peer; a datagram from its sender's name: the tree's
// socket of that name, one bound to it for the send, or an unnamed one),
// then datagram connects and connections not yet accepted connected to
// their listener again (an external datagram peer by its name; a
// connection to an external peer must be given with --inherit-fd
// fd[N]:socket:[INO], which takes its place as it is), the filter, the
// shutdowns. Inet sockets get their options, bind, listen or connect,
// shutdown and filter. An epoll's targets are added by
// epoll_ctl injected into the first task holding it, by fd number.
// inotify files (inotify.go) get their watches back by path, each with
// its watch descriptor (on the ghost copy for a deleted file, through
// /proc/self/fd of its opened handle for one known by handle only; the
// events the restore queues are read away); ptys (tty.go) are opened from /dev/ptmx at their
// index, then their slaves, with termios, locked termios and window size,
// before the tree is created, and bytes that waited in a master's buffer
// are put back with TIOCSTI on it. A pty that was a session's controlling
// terminal is taken by the session leader (TIOCSCTTY on a copy of the
// restorer's slave) right after its setsid in tree.go, before it forks
// the tasks of its session, which so inherit it; its foreground group is
// set (TIOCSPGRP) once setGroups has made every group. An external
// terminal (exttty.go, EXT_TTY: criu dump --external tty[RDEV:DEV]) is
// the terminal --inherit-fd fd[N]:tty[RDEV:DEV] gives, opened anew with
// the dumped flags and given the dumped termios and window size, as
// CRIU; without it the restore fails naming the key, the task and the fd.
// When it was a session's controlling terminal, it is given back the same
// way. inherit.go: --inherit-fd fd[N]:KEY gives criu's fd N in
// place of the file CRIU names KEY (pipe:[INO], socket:[INO],
// tty[RDEV:DEV], path/to/file), looked up with inheritedFd.
//
// Files (task.go): the stub inherited criu's fds 0-2 and every fd of
// criu's that is not close-on-exec; all that the images do not hold are
// closed, then the task's fds are opened by their paths from criu's
// root. Ghost files (restore.go) are made again at their path (with
// their holes, mode, owner and times; a ghost directory with the
// removed directories above it) and removed once every file is open.
// Each file's owner and signal (fown.go) are set from inside the task
// once every thread exists, and last, before the creds, a task that had
// chroot()ed gets its root back (restoreRoot).
//
// locks.go: file locks are taken back (without blocking) from inside the
// task that held each, once every task's files are open; images with
// locks need Options.FileLocks. sysvshm.go: a System V shared memory
// segment still present is attached as it is; a missing one is created
// with its shmid (kernel.shm_next_id), key, mode and bytes, attached by
// shmat injected into each task, and removed again if it was removed at
// dump.
//
// ns.go: a tree whose ids name other namespaces than the inventory's
// root_ids (the dumping criu's) gets them anew: the root is cloned from
// the stub with CLONE_NEWPID, CLONE_NEWNET, CLONE_NEWIPC, CLONE_NEWUTS and
// CLONE_NEWNS as recorded (as pid 1 of its pid namespace), its children
// with set_tid = their pid inside it, and the host pid of each new task
// or thread comes from the ptrace clone event. Nodes keep the images'
// pids; restorers carry the host pid too. The network namespace is
// configured (criu/netns) before any socket is made, and sockets are made
// from a thread inside it; tasks in a pid namespace reach the restorer's
// pidfd through /proc. Killing the root kills the whole namespace.
//
// task.go, creds.go, taskmisc.go: each task's own state. Process-wide
// first (sigactions, personality, oom_score_adj, subreaper, umask, cwd,
// root, rlimits, itimers, membarrier registrations, loginuid), then the
// threads (cloned in the order package seccomp's sharing needs), POSIX
// timers (once the threads exist: SIGEV_THREAD_ID names one), and per
// thread robust list, clear_tid, sigaltstack, rseq, comm, pending
// signals, seccomp filters (package seccomp: with seccomp suspended for
// the restorer from then on), creds, pdeath signal, no_new_privs,
// scheduling. A task that was stopped (TASK_STOPPED) is sent its stop
// signal before it is detached, so it stops before running any code.
//
// No code is loaded into the new task: a stub (the dumped executable,
// stopped at its exec by PTRACE_TRACEME) is made to clone3 the task with
// set_tid = the dumped pid; every later step is a syscall injected into
// the new task at its [vdso] syscall instruction: the vDSO is moved to its
// dumped address, everything else unmapped, the dumped mappings created and
// filled, files opened, threads cloned with their tids, and finally each
// thread gets its registers, xstate and signal mask back and is detached.
// On any failure everything created is killed.
package restore
