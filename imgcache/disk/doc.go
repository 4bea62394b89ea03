// Package disk is the image cache's on-disk side (criu image-cache -D
// DIR): the snapshot directories, their journals, the image files as
// they are written, synced, renamed and read back, and the recovery of
// what a previous cache (one that exited, or crashed) left there. The
// state machine (which snapshot is finished, who may replace or read
// what) is package imgcache's; it calls this package through Dir (Open,
// Create, Load), Snap (one snapshot's directory) and File (one image's
// file), and nothing here knows of connections, readers or memory.
//
// On disk:
//
//	DIR/snapshots/<id>/.journal                 parent, commits, held and finish, one per line
//	DIR/snapshots/<id>/.part.<xfer hex>.<name>  an image still arriving
//	DIR/snapshots/<id>/<name>                   a committed image (fsynced)
//	DIR/snapshots/.trash.<id>.<n>               a dropped snapshot being removed
//
// A snapshot's journal is a text file of lines, appended while the
// snapshot arrives:
//
//	parent "<id>"                         the parent named by the first Put
//	commit <xfer hex> <size> <crc> "<name>" an image committed (file fsynced, renamed)
//
// At Finish the journal is replaced whole (written to .journal.new,
// fsynced, renamed over .journal, the directory fsynced) by one that
// holds exactly the manifest:
//
//	parent "<id>"
//	commit … (one line per manifest image)
//	held
//
// so that a restarted cache replays a finished snapshot from its
// manifest alone, whatever earlier attempts under the id appended. The
// Finish is acknowledged only after that rename is durable. The dump's
// Confirm (two-phase finish) then appends, synced, one line:
//
//	finish                                  no late image
//	finish commit <xfer hex> <size> <crc> "stats-dump"
//
// the second when the Confirm carried the late image (remoteimg.Confirm),
// whose file is synced and renamed in place before the line is written:
// the image and the confirmation are recorded by the same line, and a
// torn one leaves the snapshot held as if the Confirm never came. Only
// then is the snapshot served (a journal ending in "held" is a
// snapshot its dump never confirmed; journals of older caches end in
// "finish" alone).
//
// Recovery (Load, load.go). After a restart the cache replays the
// journals: finished snapshots are served again, and are never deleted
// by recovery (an image missing or resized is served as corrupt, the
// files stay); unfinished ones keep the images that check out and wait
// for their proxy to resume the partial images (acknowledged bytes are
// in the part files). A snapshot directory without a journal never got
// past its creation and is removed; one whose journal cannot be read is
// left alone, not served. What a crash left half done (a .journal.new
// of a Finish never acknowledged, a .trash. directory, part files of a
// finished snapshot) is removed. No error of Load leaves a file open:
// what it does not return is closed.
//
// Write-behind. The cache starts the writeback of every 8 MiB written
// (sync_file_range, without waiting), so the fsync at commit waits only
// for the tail.
package disk
