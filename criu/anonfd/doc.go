// Package anonfd checkpoints the anonymous-inode files that carry a small
// state of their own: eventfd, signalfd, timerfd, epoll and pidfd
// (inotify and fanotify are package fsnotify).
//
// Dump (Dump): eventfd, signalfd and timerfd from their fdinfo (counter,
// signal mask, clock, ticks, time left and interval; an eventfd in
// semaphore mode is refused, CRIU's image having no field for it);
// epoll with its targets, each found at the fd number it was added with
// or, closed or replaced since, at another fd of the task (kcmp
// KCMP_EPOLL_TFD), or else in another task holding the same epoll,
// whose fds restore then fills it from (Fills: the first holder with
// an fd at each target's number); else the dump is refused. criu's own
// copy of an epoll passed in flight has its targets found in the fds
// of the first task of the tree holding them all (dumpInFlight), and
// restore fills it from inside that task (FillEpolls). A pidfd (DumpPidfd) must be
// of a task of the tree (a zombie too; a thread pidfd of its leader), saved
// with the task's pid in its own pid namespace as CRIU's, or of a task
// that has exited and been reaped, saved with nspid -1 and its wait
// status. A task's own userfaultfd is refused by name.
//
// Restore: Open creates the file in the restorer, as CRIU (an eventfd's
// counter written, a timerfd set to the time left, from now for one set
// to an absolute time, keeping its settime flags (as CRIU), an expired
// periodic timer let expire again and its ticks set with
// TFD_IOC_SET_TICKS), with its status flags; the tasks get it like any
// other master. An epoll is created empty; AddTargets adds its targets by
// epoll_ctl injected into the first task holding it that holds an fd at
// each target's number (Fills), by the fd number
// each was added with (dup'ed there for the call if it has moved). A
// pidfd is opened inside the first task holding it, by that pid
// (OpenPidfd), and copied to the restorer as the master of the others;
// one of a reaped task is a pidfd of a stand-in (standin.go), a process
// made in the tree's pid namespace that dies with the saved status once
// the pidfds of it are open (OpenDeadPidfds).
package anonfd
