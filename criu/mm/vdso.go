package mm

import (
	"github.com/criugo/criu/criu/image"
	"github.com/criugo/criu/proto/images"
)

// specialVmas are the dumped vdso and vvar VMAs, as vmaps never written
// through the task's page tables.
func specialVmas(vmas []*images.VmaEntry) []*vmap {
	var out []*vmap
	for _, v := range vmas {
		if v.GetStatus()&(image.VmaAreaVdso|image.VmaAreaVvar) != 0 {
			out = append(out, &vmap{e: v, viaForce: true})
		}
	}
	return out
}

func findVma(maps []*vmap, addr uint64) *vmap {
	for _, m := range maps {
		if m.e.GetStart() <= addr && addr < m.e.GetEnd() {
			return m
		}
	}
	return nil
}
