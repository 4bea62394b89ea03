package config

import (
	"fmt"
	"strconv"
	"strings"
)

// ParseSize reads a size as CRIU's options take it (--ghost-limit, and
// the daemons' --max-memory): a number of bytes, or one followed by K, M,
// G or T (powers of 1024, either case, a "B" or "iB" after it allowed:
// 512M, 64k, 2GiB, 100B). Anything else is an error naming the value; CRIU
// would read "1.5M" as 1 MiB and "4m" as 4 bytes.
func ParseSize(s string) (int64, error) {
	t := strings.ToUpper(strings.TrimSpace(s))
	if u, ok := strings.CutSuffix(t, "IB"); ok {
		t = u
	} else if u, ok := strings.CutSuffix(t, "B"); ok {
		t = u
	}
	mult := int64(1)
	if n := len(t); n > 0 {
		if i := strings.IndexByte("KMGT", t[n-1]); i >= 0 {
			mult, t = int64(1)<<(10*(i+1)), t[:n-1]
		}
	}
	v, err := strconv.ParseInt(t, 10, 64)
	if err != nil || v < 0 || v > (1<<62)/mult {
		return 0, fmt.Errorf("size %q: want a number of bytes, or one followed by K, M, G or T (e.g. 512M, 2G)", s)
	}
	return v * mult, nil
}
