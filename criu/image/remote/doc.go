// Package remote is the remote image.Store: the client through which
// criu dump writes a snapshot's images to the local image proxy and criu
// restore reads them from the local image cache, over the protocol of
// package remoteimg.
//
//	criu dump ──UNIX──▶ image-proxy ══TCP══▶ image-cache ◀──UNIX── criu restore
//	Store (ModeWrite)                                      Store (ModeRead)
//
// A Store implements image.Store and its optional interfaces:
// image.Releaser (Release: the restore is done with the snapshot),
// image.Chained (SetParent and Parent: pre-dump chains, the parent read
// through the proxy's reader relay in write mode, from the cache in read
// mode) and image.LateFinisher (FinishWith: stats-dump sent inside
// the Confirm). Each open image uses a connection of its own: a Writer
// sends Put, Data and Commit; a Reader sends Get and returns io.EOF only
// after End, with the size and CRC it computed itself. Finish sends the
// manifest, then Confirm; it returns nil only once the cache confirmed.
//
// Besides the Store: DialUnix (a daemon's socket and the handshake),
// ListSnapshots (the cache's List) and ResolveSnapshot (the snapshot a
// restore with -D DIR means, whichever source host dumped it).
//
// What belongs here: the criu side of the remote path only. Frames,
// messages, codes and names are remoteimg's; the daemons (imgproxy,
// imgcache) do not import this package (their tests do, to act as criu).
package remote
