// Package imgproxy is the image proxy daemon (criu image-proxy) of the
// source host: criu dump writes images to its owner-only UNIX socket, and
// it forwards them, while the dump runs, over one TCP connection (mutual
// TLS when configured) to the image cache, many images multiplexed on it.
//
// The proxy holds each image's bytes until the cache acknowledges them, at
// most MaxMemory bytes in all (a writer is not read while the budget is
// used up); after a dropped connection it redials and resends every
// unacknowledged byte by transfer id, so nothing is lost or duplicated.
// The protocol is described in package remoteimg.
package imgproxy
