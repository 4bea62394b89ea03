// Package imgproxy is the image proxy daemon (criu image-proxy) of the
// source host: criu dump writes images to its owner-only UNIX socket, and
// it forwards them, while the dump runs, over one TCP connection (mutual
// TLS when configured) to the image cache, many images multiplexed on it.
//
// The proxy holds each image's bytes until the cache acknowledges them, at
// most MaxMemory bytes in all, counting every buffer: a frame's payload
// is charged before it is read (a writer waiting for budget holds no
// frame), each connection's read buffer while it lives (a writer is not
// read while the budget is used up), and a reader relay's buffers (a
// dump reading its parent snapshot through the proxy: the cache
// connection's read buffer, one frame buffer every message is read
// into, the writer's buffer towards criu; image bytes go out by writev)
// before the relay dials. The rule against deadlock: frames wait for
// budget only while other frames hold some (the cache's acks free them
// whatever the waiter does); a relay whose buffers do not fit when
// only connections' buffers hold the budget is refused at once
// (ErrNoSpace naming --max-memory, the answer to its first Get), never
// waits for other connections to end. After a dropped
// connection it redials and resends every unacknowledged byte by
// transfer id, so nothing is lost or duplicated; a refusal that retrying
// cannot heal (a certificate the cache rejects, another protocol
// version) fails the pending images at once. A silent link is dropped
// (TCP_USER_TIMEOUT and keepalives of the Dial the caller gives, and a
// watchdog on each Finish or Confirm sent: ReplyTimeout). While busy it
// logs its progress and throughput every few seconds.
//
// A writer's Finish is answered before a drain (Shutdown) may close the
// connection, and a connection whose Finish was answered ok stays open
// for the dump's Confirm (the two-phase finish of package remoteimg).
// The protocol is described in package remoteimg.
package imgproxy
