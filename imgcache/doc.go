// Package imgcache is the image cache daemon (criu image-cache) of the
// target host: it accepts snapshots from image proxies over TCP (mutual TLS
// when configured), keeps them in memory or under its directory, and serves
// them to criu restore over its owner-only UNIX socket, while they are still
// arriving. The protocol is described in package remoteimg.
//
// On disk (with Dir):
//
//	DIR/snapshots/<id>/.journal                 parent, commits, held and finish, one per line
//	DIR/snapshots/<id>/.part.<xfer hex>.<name>  an image still arriving
//	DIR/snapshots/<id>/<name>                   a committed image (fsynced)
//
// "held" records a Finish the cache accepted, "finish" the dump's Confirm
// (two-phase finish, package remoteimg): only a confirmed snapshot is
// served, and a held one is dropped if no Confirm comes within
// ResumeTimeout. After a restart the cache replays the journals: finished
// snapshots are served again, unfinished ones wait ResumeTimeout for their proxy to
// resume the partial images (acknowledged bytes are in the part files).
//
// Memory. Without Dir, image bytes live in memory, at most MaxMemory of
// them; when that is reached the cache stops reading from its proxies
// (backpressure: the proxy then stops reading its writers, and the dump
// waits). Only Release (without Keep) frees a snapshot's memory: a reader
// consuming an image frees nothing, since a restore may re-read it and
// any number of readers may read it. A snapshot larger than MaxMemory
// therefore cannot complete without Dir: its dump stalls until the
// snapshot is released, and then fails (ErrAborted). Large Data payloads
// are read from the socket straight into 32 MiB arenas (anonymous
// mappings of small pages, faulted in ahead by another
// goroutine, so page zeroing does not stall the socket read); an arena
// counts in full against MaxMemory until its image is committed, when
// its unused tail is given back. Small payloads, and every payload under
// a MaxMemory below 256 MiB, get an allocation of their own. With Dir, image
// bytes are written straight to files as they arrive (the kernel's page
// cache holds them), so the daemon's own memory is a frame buffer per
// proxy connection and per reader, whatever the snapshot size (a 1 GiB
// snapshot with MaxMemory 64M peaks at about 11 MiB of RSS). The cache
// starts the writeback of every 8 MiB written (sync_file_range, without
// waiting), so the fsync at commit waits only for the tail: the time from
// a snapshot's last byte to its ack is tens of milliseconds, not the
// writeback of the whole image.
package imgcache
