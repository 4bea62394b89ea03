// Package daemon is the plumbing that both image daemons, the proxy
// (imgproxy) and the cache (imgcache), and their command lines (criu
// image-proxy, criu image-cache) share, below their protocol logic:
//
//   - ConnSet: the accept loop (transient accept errors retried with
//     backoff, RetryAccept) and the set of live connections that Drain,
//     Wait and CloseAll act on, as a net/http.Server does; each daemon's
//     connection type implements Tracked.
//   - ListenUnix and CheckPeer: the owner-only (0600) local socket, and
//     the SO_PEERCRED check that admits only our own uid or root.
//   - TLSFiles: the mutual-TLS configs of the TCP leg (the cache's
//     server side, the proxy's client side).
//   - TCPDialer, TCPListenConfig and LinkTimeout: the liveness of the TCP
//     leg (TCP_USER_TIMEOUT and keepalives), so that a black-holed link
//     is dropped within about LinkTimeout instead of some 15 minutes.
//
// What belongs here: socket, TLS and connection-set code used by both
// daemons. What does not: anything of one daemon only (it lives in that
// daemon), frames, messages and codes (package remoteimg, which this
// package imports only for its sentinels), and anything of the engine
// (criu/...) or of proto/images, which the daemons must not link
// (remoteimg/deps_test.go checks it).
package daemon
