// Package dump checkpoints a process tree (the root given and every
// descendant, zombies included; any number of threads each) into CRIU
// images written through an image.Store. It orchestrates the phases;
// each kind of kernel object is dumped by its own package, which also
// holds its restore half and its image names.
//
// Phases (dump.go, Dump): freeze the tree top down (tree.go, freeze.go: a
// task's children are listed once it is stopped; every thread seized with
// PTRACE_SEIZE and PTRACE_INTERRUPT); check what the whole tree must
// satisfy (namespaces, ns.go; shell jobs, shelljob.go with package tty;
// what tasks share, found with kcmp: fd tables, fs, memory); then each
// task (dumpTask): its memory layout (package mm), its fds (fds.go,
// collectFds: each open fd recorded once per open file description and
// handed to its object's package: files, pipes, sockets, tty, anonfd,
// fsnotify, shmem for memfds; file locks, package locks), its state and
// its threads' (package task, with syscalls injected through a scratch
// mapping of the dump's own), its pages (package mm); then the files
// passed in flight in the UNIX sockets' queues (dumpInFlight, fds.go:
// criu's copies from the peek, recorded as fds of criu's own, so that one
// a task holds too gets that fd's file id); then the objects
// of the whole tree, once (tree.writeShared in tree.go, writeObjects in
// shared.go: sockets, pipes, ghosts, locks, terminals, shared memory,
// System V segments, seccomp filters, namespaces); then Finish, and the
// kill or the resume.
//
// PreDump (predump.go) freezes the tree only to copy its memory and
// start the write tracking (package mm); the next dump writes only what
// changed.
//
// ns.go: namespaces. A namespace of the root that is not criu's own is
// the tree's: the pid, net, ipc, uts and mnt kinds are supported, every
// other task must be in the root's namespaces (ErrUnsupported otherwise,
// naming the task and the namespace), and a root in a pid namespace of its
// own must be its init. Then every pid the images hold (pstree, the pid
// and tid in image names, lock owners, timer targets) is the one seen
// inside that namespace (the last field of NSpid, NSpgid, NSsid), while
// everything done from outside uses host pids. ids-N.img names each
// task's namespaces by object id, inventory root_ids are criu's own (as in
// CRIU), and the network namespace's configuration is saved with the ip
// tool (criu/netns); sock_diag is asked from inside it.
//
// The dump never loses its task: every task is frozen with PTRACE_SEIZE and
// PTRACE_INTERRUPT, its state is read through ptrace, /proc and syscalls
// injected at the [vdso]'s syscall instruction, and on any error every
// thread gets its registers and signal mask back and is detached. Only after
// the store's Finish has returned nil are the tasks killed (or, with
// LeaveRunning, let go). With LeaveRunning the memory is copy-on-write
// (package mm, cow.go): the tree is let go once every image but its
// pages is written, mm.Tree.CopyPages then writes them while it runs, and
// only then inventory.img and Finish; the frozen time ends at the resume.
//
// A cancelled context (criu: SIGINT, SIGTERM, SIGHUP) is such an error:
// Dump and PreDump check it between their steps, and criu's store fails
// each read and write once it is cancelled, so a dump stops within one
// image write; Finish is the commit point, after which the dump is not
// undone. The frozen time (Stats.Frozen, stats-dump) runs from the
// last thread stopped to the kill or the resume; stats-dump is written
// after it when the store takes images after Finish
// (Options.StatsAfterFinish). A remote snapshot is sealed by its
// confirmation: there (image.LateFinisher) stats-dump goes with the
// Confirm, its frozen time taken once the cache has acknowledged the
// Finish, so it leaves out only the Confirm's round trip and the kill.
//
// Injected calls run with every signal blocked but SIGTRAP: the kernel
// resets the handler of a forced signal that is blocked, and the single
// step's trap is one.
package dump
