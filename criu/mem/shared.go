package mem

import (
	"os"
	"strings"

	"github.com/criugo/criu/criu/procfs"
)

// SharedWithParent returns the pages of pid's private mappings (but the
// vdso and vvar) that its parent ppid maps at the same address to the
// same physical page: shared copy-on-write since the fork. Sorted.
func SharedWithParent(pid, ppid int) ([]Range, error) {
	f, err := os.Open(procfs.Path(pid, "maps"))
	if err != nil {
		return nil, err
	}
	maps, err := procfs.ParseMaps(f)
	f.Close()
	if err != nil {
		return nil, err
	}
	pm, err := OpenPagemap(pid)
	if err != nil {
		return nil, err
	}
	defer pm.Close()
	ppm, err := OpenPagemap(ppid)
	if err != nil {
		return nil, err
	}
	defer ppm.Close()
	var out []Range
	for _, m := range maps {
		if m.Shared || strings.HasPrefix(m.Path, "[v") {
			continue
		}
		r := Range{Start: m.Start, End: m.End}
		a, err := pm.Read(r)
		if err != nil {
			return nil, err
		}
		b, err := ppm.Read(r)
		if err != nil {
			return nil, err
		}
		out = append(out, SharedRuns(r.Start, a, b)...)
	}
	return out, nil
}

// GuardRuns are the guard region pages (MADV_GUARD_INSTALL) of r, a
// mapping of pid, from its pagemap.
func GuardRuns(pid int, r Range) ([]Range, error) {
	pm, err := OpenPagemap(pid)
	if err != nil {
		return nil, err
	}
	defer pm.Close()
	ents, err := pm.Read(r)
	if err != nil {
		return nil, err
	}
	return Runs(r.Start, ents, func(e uint64) bool { return e&PMGuard != 0 }), nil
}
