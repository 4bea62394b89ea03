package files

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/criugo/criu/criu/errdefs"
)

// DefaultGhostLimit is CRIU's default --ghost-limit: 1 MiB of data.
const DefaultGhostLimit = 1 << 20

// ParseSize reads a size as CRIU's --ghost-limit takes it: a number of
// bytes, or of KiB, MiB or GiB with a K, M or G after it ("4M").
func ParseSize(s string) (int64, error) {
	mult := int64(1)
	num := s
	for suf, m := range map[string]int64{"K": 1 << 10, "M": 1 << 20, "G": 1 << 30} {
		if n, ok := strings.CutSuffix(s, suf); ok {
			num, mult = n, m
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("size %q: want a number of bytes, or one followed by K, M or G", s)
	}
	return n * mult, nil
}

// overGhostLimit refuses a ghost whose data (the blocks it holds, as
// CRIU counts them: a sparse file's holes are free) is past limit.
func overGhostLimit(path string, blocks, limit int64) error {
	if data := blocks * 512; data > limit {
		return fmt.Errorf("%w: %s was deleted while open and holds %d bytes of data, past the ghost limit of %d (dump with --ghost-limit SIZE to keep it)",
			errdefs.ErrUnsupported, path, data, limit)
	}
	return nil
}
