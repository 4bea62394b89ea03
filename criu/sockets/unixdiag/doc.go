// Package unixdiag asks sock_diag (package sockdiag) what it knows of
// the UNIX sockets of the calling thread's network namespace: each
// one's type, state, name, bound file, peer, connections not yet
// accepted, queue lengths and shutdown (include/uapi/linux/unix_diag.h).
// The dumper of criu/sockets reads it once per network namespace.
package unixdiag
