// Package seccomp dumps and restores the seccomp state of threads: the
// mode (SECCOMP_MODE_STRICT or SECCOMP_MODE_FILTER) and, for filter
// mode, the chain of BPF filters, in seccomp.img and the thread core's
// seccomp_mode (11) and seccomp_filter (12) fields, as CRIU writes them.
//
// # Image
//
// seccomp.img holds one SeccompEntry for the whole tree. Its filters
// form chains through prev, in CRIU's layout: a thread's core names the
// oldest filter of its chain (the first installed), whose prev names
// the filter installed after it (CRIU's name for that link), up to the
// newest, which has no prev; every prev names an earlier entry. Chains
// of identical filters are written once (a child that inherited its
// parent's filters by fork names the parent's entries), which CRIU reads
// the same way. PTRACE_SECCOMP_GET_FILTER numbers a thread's filters
// from the oldest (0).
//
// # What is shared
//
// The kernel gives no identity for a filter (there is no kcmp type for
// it, and PTRACE_SECCOMP_GET_FILTER returns a copy of the program), so
// sharing is found as CRIU finds it, by comparing the programs. It is
// visible to a program through TSYNC, which succeeds only when every
// other thread's chain holds the caller's, and it is kept so:
//
//   - when every thread of a process has the same chain, it is saved once
//     in the leader with SECCOMP_FILTER_FLAG_TSYNC on each filter and the
//     other threads without a mode of their own (CRIU's layout); restore
//     installs it in the leader with TSYNC, which gives it to every
//     thread, shared;
//   - otherwise (threads that added filters of their own on top of what
//     they inherited) each thread's chain is saved whole, and restore
//     clones each thread once the leader has installed the oldest
//     filters that thread shares with it (equal programs and flags):
//     the thread inherits them, shared, as a thread created after its
//     creator installed them has them, and then installs its own. CRIU
//     4.2 installs separate copies there, and a later TSYNC fails.
//
// Filters that threads share with each other but not with the leader
// (a thread that created threads after installing a filter) come back
// as copies; so do filters inherited across fork, where sharing cannot
// be seen (TSYNC acts within a thread group), as in CRIU.
//
// # Order at restore
//
// The filters are installed in each thread oldest first, after every
// other part of the thread's state except its credentials (the leader's
// shared ones before its threads are cloned): installing a filter needs
// CAP_SYS_ADMIN unless no_new_privs is set, and the thread still holds
// the restorer's. Every syscall injected after that (creds,
// no_new_privs, the restorer's own munmap) and the seccomp() calls of
// a chain whose older filters block seccomp() itself, runs with the
// filters suspended (PTRACE_O_SUSPEND_SECCOMP, set on the leader before
// anything is installed and inherited by the threads cloned from it),
// and the filters take effect when the restorer
// detaches. The dumper suspends them the same way before it injects
// anything into a task in seccomp mode, strict mode included (strict
// mode would kill the task at the dumper's first mmap).
//
// # Refused
//
// A filter that can return SECCOMP_RET_USER_NOTIF is refused at dump,
// naming the thread and the filter: its listener (a notification fd
// held by some supervisor) cannot be restored, and without one the
// kernel answers ENOSYS where the supervisor would have answered.
package seccomp
