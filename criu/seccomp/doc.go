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
// sharing is found as CRIU finds it, by comparing the programs: when
// every thread of a process has the same chain, it is saved once in
// the leader with SECCOMP_FILTER_FLAG_TSYNC on each filter and the other
// threads are saved without a mode of their own; restore installs it in
// the leader with TSYNC, which gives every thread the leader's chain,
// shared, so that a later TSYNC by the program succeeds as it did. Other
// threads get chains of their own. Between processes sharing cannot be
// seen by the program (TSYNC acts within a thread group), so each
// process gets its own copy.
//
// # Order at restore
//
// The filters are installed in each thread oldest first, after every
// other part of the thread's state except its credentials: installing a
// filter needs CAP_SYS_ADMIN unless no_new_privs is set, and the thread
// still holds the restorer's. Every syscall injected after that (creds,
// no_new_privs, the restorer's own munmap) and the seccomp() calls of
// a chain whose older filters block seccomp() itself, runs with the
// filters suspended (PTRACE_O_SUSPEND_SECCOMP, set on every thread of
// the process first), and the filters take effect when the restorer
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
