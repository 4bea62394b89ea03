package files

import (
	"fmt"

	"github.com/criugo/criu/criu/errdefs"
)

// DefaultGhostLimit is CRIU's default --ghost-limit: 1 MiB of data.
const DefaultGhostLimit = 1 << 20

// overGhostLimit refuses a ghost whose data (the blocks it holds, as
// CRIU counts them: a sparse file's holes are free) is past limit.
func overGhostLimit(path string, blocks, limit int64) error {
	if data := blocks * 512; data > limit {
		return fmt.Errorf("%w: %s was deleted while open and holds %d bytes of data, past the ghost limit of %d (dump with --ghost-limit SIZE to keep it)",
			errdefs.ErrUnsupported, path, data, limit)
	}
	return nil
}
