// Package restore rebuilds a dumped process tree, with the same PIDs and
// thread ids, parents, sessions and process groups, from CRIU images read
// through an image.Store. It orchestrates the phases; each kind of kernel
// object is restored by its own package, which also holds its dump half.
//
// Order (tree.go, Restore): read the images (images.go); terminals
// (package tty) and namespaces (ns.go: packages netns, ipcns, utsns,
// mntns) first, a container's ghost files and terminals once its mounts
// exist;
// then the objects that join tasks, made once in the restorer (shared.go,
// openMasters: pipes and fifos, package pipes; sockets, package sockets;
// eventfd, signalfd, timerfd, epoll, package anonfd; inotify, package
// fsnotify; memfds and shared anonymous memory, package shmem; System V
// segments, package ipcns; fork-shared regular files, package files) and
// handed to each task with pidfd_getfd injected into it (installShared,
// package handoff: a tree with a mount or pid namespace of its own
// holds the host's /proc, opened by its root before its mounts, through
// which its tasks reach criu's pidfd and /proc files); then the tree.
//
// The tree: the root is cloned from a stub (the dumped executable, stopped
// at its exec by PTRACE_TRACEME) with clone3(set_tid); every other task is
// forked by its parent with clone3(set_tid) injected into the parent (with
// CLONE_FILES/CLONE_FS when it shared them). A session leader forks the
// children that kept its former session (or whose descendants do:
// pstree.Sessions) before its setsid. A task whose parent cannot give it
// its session (it was re-parented when its leader exited) is forked by a
// task of that session in the parent's stead (pstree.Via): the leader, or
// a helper with the leader's pid that calls setsid, with CLONE_PARENT; or
// a helper a deeper leader forks, whose exit re-parents it. Group leaders
// setpgid before their members; a group whose leader is gone gets a
// helper task with the leader's pid, which exits and is reaped by its
// parent once the members joined. Zombies are created, put in their group
// and made to exit with their dumped status (or die of their signal).
// Each task's memory (package mm) is restored before it forks its
// children, so that they inherit it, pages shared copy-on-write left
// shared. With Options.ShellJob (package shelljob) the shell's session
// and group in the images are replaced by the restorer's (CRIU's rules)
// and the job's group takes the foreground of the restorer's terminal.
//
// Then each task (task.go): its process-wide state (package task, in
// CRIU's order, with umask and cwd), its files (restoreFiles: the stub's
// fds the images do not hold are closed, the task's own opened by their
// paths from criu's root, ghosts made by package files beforehand; file
// owners, package files; epoll targets, package anonfd), its threads
// cloned with their tids in the order package seccomp's plan needs, POSIX
// timers, then per thread its registers, xstate, signal mask, pending
// signals, seccomp filters, creds (package task); file locks (package
// locks) once every task's files are open; a task that was stopped is
// sent its stop signal before it is detached. --inherit-fd fd[N]:KEY
// (inherit.go) gives criu's fd N in place of the file CRIU names KEY.
//
// Every step after the stub's clone is a syscall injected into the new
// task at its [vdso] syscall instruction; no code is loaded into it. On
// any failure everything created is killed.
package restore
