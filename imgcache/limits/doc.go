// Package limits is the image cache's admission control: what the TCP
// peers may hold of the daemon (connections, reader connections), what
// share of MaxMemory the connections' buffers may use, and how a
// connection refused for either is told why. Package imgcache decides
// what is charged and when (its doc, Memory); this package counts and
// refuses, and never waits.
//
// Peers. One TCP peer host holds at most MaxConnsPerPeer connections
// and MaxReadersPerPeer reader connections, all TCP peers together at
// most MaxConns (--max-conns), so many peers cannot exhaust the
// daemon's fds; a refused connection is told why (ErrPermission naming
// the cap) as its handshake's answer, at most maxRefusing at a time
// (past that it is closed at once). The UNIX socket (owner-only, peer
// "") is not capped, but its connections are charged like the others.
//
// Buffers. Connection buffers have a share of MaxMemory (Share): all of
// it with Dir, else a sixteenth (4 to 32 MiB) that image bytes may not
// use, so a cache full of snapshots still accepts the restore that
// frees them; TCP peers may fill three quarters of the share, the rest
// is kept for the owner's UNIX socket. A charge that does not fit is
// refused at once with ErrNoSpace naming --max-memory.
package limits
