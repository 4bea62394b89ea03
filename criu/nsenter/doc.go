// Package nsenter runs Go code inside a namespace of another task.
//
// Do starts a goroutine that locks its OS thread, joins the namespace
// (setns(2) on that thread only), runs the function and returns
// without unlocking the thread, so that the Go runtime ends the thread
// instead of handing it, still in the other namespace, to other
// goroutines. Everything the function does on that thread follows the
// namespace: the System V IPC calls and /proc/sys/kernel/{shm,msg,sem}*
// for an IPC namespace, uname(2) and sethostname(2) for a UTS one,
// every path for a mount one (the thread first unshares CLONE_FS, as
// setns(2) requires of a multithreaded process, so that its root and
// cwd become the namespace's alone). DoAll joins several on one thread.
//
// What belongs here: entering a namespace for in-process work. What does
// not: starting programs in a namespace (package netns does that for
// the ip tool), namespaces that a multithreaded process cannot join
// (user, pid for the caller itself).
package nsenter
