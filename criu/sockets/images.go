package sockets

// Socket states as the kernel reports them (include/net/tcp_states.h);
// UNIX sockets use the same numbers.
const (
	tcpEstablished = 1
	tcpClose       = 7
	tcpListen      = 10
)

// usk_entry uflags (CRIU's USK_*).
const (
	// uskExtern: a socket outside the dumped tree, written with its name
	// and no fd.
	uskExtern = 1 << 0
)
