package dump

import (
	"time"

	"github.com/rs/zerolog"
)

// Options says what to dump and how. The criu command fills it from its
// flags; the engine never sees a flag set.
type Options struct {
	// Pid is the task to dump.
	Pid int
	// LeaveRunning lets the task continue after the dump instead of
	// killing it.
	LeaveRunning bool
	// ShellJob allows stdio on a terminal, pipe or socket inherited from
	// the shell: such fds are recorded as external and taken from the
	// restorer at restore.
	ShellJob bool
	// Log receives progress; the zero value logs nothing.
	Log zerolog.Logger
}

// Stats are the figures of one dump, also written to stats-dump.img.
type Stats struct {
	Freezing     time.Duration // seize and stop every thread
	Frozen       time.Duration // from stopped to killed or let go
	MemDump      time.Duration // reading pages
	MemWrite     time.Duration // writing pages to the store
	PagesScanned uint64
	PagesWritten uint64
}
