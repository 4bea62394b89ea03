// Package imgcache is the image cache daemon (criu image-cache) of the
// target host: it accepts snapshots from image proxies over TCP (mutual TLS
// when configured), keeps them in memory or under its directory, and serves
// them to criu restore over its owner-only UNIX socket, while they are still
// arriving. The protocol is described in package remoteimg.
//
// What belongs where: server.go and peers.go the connections (serving
// proxies and readers, what their buffers cost); store.go the state
// machine of snapshots and images, with their memory (direct.go,
// arena_linux.go); recover.go what the store hands to and takes from
// package disk (the on-disk side: layout, journals, recovery); package
// limits the admission control (connection caps, the buffers' share).
//
// With Dir, snapshots are kept on disk (package disk: the layout, the
// journals, recovery). Finish is acknowledged only once the snapshot's
// journal holds exactly its manifest, ending in "held"; the dump's
// Confirm (two-phase finish, package remoteimg) appends "finish" (with
// the late stats-dump it carries, stored first), and only a
// confirmed snapshot is served (its images' End waits for it); a held
// one not confirmed within ResumeTimeout is given up by the janitor.
// After a restart (recover.go) finished snapshots are served again;
// unfinished ones wait ResumeTimeout for their proxy to resume them.
//
// Snapshots and attempts (store.go). A snapshot id may see several dumps
// (a retry after a failed attempt). A Put naming an image the snapshot
// already holds is a new attempt (one dump writes each image once) and
// replaces it by name; the Finish's manifest drops what the old attempt
// left. What a new writer may not do is refused with ErrExist: destroy a
// finished snapshot no restore has released (one released under Keep may
// be replaced), or touch a snapshot a restore is reading (an image held
// by a reader, or a Get within ResumeTimeout): the dead attempt is given
// up instead, so its reader fails rather than see images of two dumps.
// A snapshot given up (abandoned) stays as a tombstone that answers its
// error, until a new dump replaces it or nobody has read it for
// ResumeTimeout.
//
// Abandoning. A janitor gives up every unfinished snapshot that had no
// Put, Data or Commit for ResumeTimeout (a dump that failed, a proxy gone
// for good), whether or not the proxy's connection is still up, and
// frees its memory or files; a refused Finish gives its snapshot up at
// once.
//
// Serving. A complete image held in a file is read back whole and
// checked against its committed size and CRC before its first byte goes
// out (restore reads only the bytes it needs and may never reach End);
// a mismatch answers ErrCorrupt at Get, from then on, and the file stays.
// What went out is checked again before End.
//
// Draining (Shutdown): Puts that would start a snapshot are refused
// (ErrShutdown); transfers in flight finish; a proxy connection with an
// unfinished snapshot stays open for its Finish, which without Dir is
// refused too (the snapshot would die with the process). Without Dir the
// cache says at start that what it holds is lost when it exits.
//
// Memory. MaxMemory bounds everything the cache holds: image bytes
// without Dir, and with or without Dir every connection's buffers.
// Connection buffers have a share of it (package limits: all of it with
// Dir, else a sixteenth that image bytes may not use; TCP peers may fill
// three quarters of it, the rest is the owner's UNIX socket's). The rule that keeps this free of deadlock: no
// buffer is ever waited for. A buffer a connection needs to make any
// progress is charged before it exists, and one that does not fit
// refuses what needed it at once, with ErrNoSpace naming --max-memory:
//   - every connection: its 64 KiB read buffer, frame writer, stacks
//     (connCharge, 96 KiB; 48 KiB more with TLS), at accept, before
//     the handshake allocates them; a refused one gets the error as its
//     handshake's answer;
//   - a proxy connection's 1 MiB frame buffer (Data on disk, a large
//     Finish), when the first such frame comes; refused, that frame's
//     transfer fails and the connection goes on;
//   - a reader's 1 MiB buffer for an image in a file, and over TLS its
//     frame writer's 1 MiB copy buffer (no writev), when it has bytes
//     to read (a reader waiting for a snapshot holds only connCharge);
//     refused, that Get fails.
//
// Readers' frames are capped at a Get's size, and Data of a transfer
// already failed is dropped unread, so no peer makes the cache allocate
// an uncharged payload.
//
// Image bytes without Dir: at most their share of MaxMemory, every
// buffer charged (arenas, the prefaulted spare, allocations).
// The proxy connection's one reader never waits for room: a snapshot
// whose next bytes do not fit is dropped at once and its dump fails with
// ErrNoSpace naming the budget, so one snapshot too large, or several
// that together are, never stall the others on the link. Only Release
// (without Keep) or abandoning frees a snapshot's memory: a reader
// consuming an image frees nothing, since a restore may re-read it and
// any number of readers may read it. Large Data payloads are read from
// the socket straight into arenas (anonymous mappings of small pages)
// that grow with their image: 1 MiB, then doubling up to 32 MiB; the
// full-size ones are faulted in ahead by another goroutine, so page
// zeroing does not stall the socket read. An arena's unused tail is
// given back at commit. Small payloads, and every payload under a
// MaxMemory below 256 MiB, get an allocation of their own. With Dir,
// image bytes are written straight to files as they arrive (the kernel's
// page cache holds them), so the daemon's own memory is the connections'
// buffers, whatever the snapshot size (a 1 GiB snapshot with MaxMemory
// 64M peaks at about 11 MiB of RSS); with write-behind (package disk)
// the time from a snapshot's last byte to its ack is tens of
// milliseconds, not the writeback of the whole image.
//
// Peers (package limits, peers.go). The connections of one TCP peer
// host, its reader connections and all TCP connections are capped
// (MaxConnsPerPeer, MaxReadersPerPeer, MaxConns); a refused connection
// is told why as its handshake's answer. A TCP peer without a client
// certificate with nothing in flight for IdleTimeout is dropped.
package imgcache
