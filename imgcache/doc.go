// Package imgcache is the image cache daemon (criu image-cache) of the
// target host: it accepts snapshots from image proxies over TCP (mutual TLS
// when configured), keeps them in memory or under its directory, and serves
// them to criu restore over its owner-only UNIX socket, while they are still
// arriving. The protocol is described in package remoteimg.
//
// On disk (with Dir):
//
//	DIR/snapshots/<id>/.journal                 parent, commits and finish, one per line
//	DIR/snapshots/<id>/.part.<xfer hex>.<name>  an image still arriving
//	DIR/snapshots/<id>/<name>                   a committed image (fsynced)
//
// After a restart the cache replays the journals: finished snapshots are
// served again, unfinished ones wait ResumeTimeout for their proxy to
// resume the partial images (acknowledged bytes are in the part files).
//
// Without Dir, image bytes live in memory; when MaxMemory is reached the
// cache stops reading from proxies until a Release frees memory. With
// Dir, image bytes are written straight to files (the kernel's page cache
// holds them), so the daemon's own memory stays small.
package imgcache
