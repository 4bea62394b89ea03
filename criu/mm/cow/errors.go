package cow

import "errors"

// ErrSnapshotLost is why a copy-on-write dump failed: the tree dropped
// pages of its memory before they were copied.
var ErrSnapshotLost = errors.New("pages of the copy-on-write snapshot went before they were copied")
