package vmflags

import (
	"fmt"
	"strings"

	"github.com/criugo/criu/criu/errdefs"
	"github.com/criugo/criu/criu/procfs"
)

// vmFlagsKept are the smaps VmFlags that restore makes again: by the
// mmap protection, type and flags (rd wr ex sh mr mw me ms gd nr dp lo,
// ac: see image.VmaAccount), madvise (image.MadvFlags), mlock2 (lf), mseal (sl),
// guard regions (gu: image.VmaGuard); and
// those that are no state of the mapping (sd: soft-dirty tracking; uw:
// write-protect tracking, which is our own pre-dump's (package mm),
// or a task's own userfaultfd, whose fd the dump refuses).
var vmFlagsKept = map[string]bool{
	"rd": true, "wr": true, "ex": true, "sh": true, "mr": true, "mw": true, "me": true, "ms": true,
	"gd": true, "nr": true, "dp": true, "lo": true, "ac": true, "lf": true, "sl": true, "sd": true, "uw": true, "gu": true,
	"rr": true, "sr": true, "dc": true, "mg": true, "hg": true, "nh": true, "dd": true, "wf": true,
}

// vmFlagsSpecial are flags the kernel's own mappings ([vdso], [vvar],
// [vsyscall]) carry, which restore gets back by moving those mappings.
var vmFlagsSpecial = map[string]bool{"pf": true, "io": true, "de": true, "mm": true}

// vmFlagsHuge are the flags a mapping on huge pages (hugetlb) has, which
// its restore (with MAP_HUGETLB, or a memfd of MFD_HUGETLB) gives it
// again.
var vmFlagsHuge = map[string]bool{"ht": true, "de": true}

// vmFlagNames says what a VmFlag that restore cannot make again is.
var vmFlagNames = map[string]string{
	"ht": "on huge pages (VM_HUGETLB)",
	"ss": "a shadow stack (VM_SHADOW_STACK)",
	"sf": "MAP_SYNC (VM_SYNC)",
	"um": "registered with a userfaultfd for missing pages (VM_UFFD_MISSING)",
	"ui": "registered with a userfaultfd for minor faults (VM_UFFD_MINOR)",
	"pf": "a device mapping (VM_PFNMAP)",
	"io": "a device mapping (VM_IO)",
	"mm": "a device mapping (VM_MIXEDMAP)",
	"de": "not expandable (VM_DONTEXPAND), a driver's mapping",
	"ar": "an architecture-specific flag (VM_ARCH_1)",
}

// Check refuses a mapping with a VmFlag that restore would not
// give back. special: a kernel-made area ([vdso], an AIO ring...), or a
// packet socket's ring, which restore maps from the socket again; huge:
// a mapping on huge pages that restore makes as one.
func Check(m procfs.Mapping, special, huge bool) error {
	special = special || strings.HasPrefix(m.Path, "socket:[")
	for _, f := range m.VmFlags {
		if vmFlagsKept[f] || special && vmFlagsSpecial[f] || huge && vmFlagsHuge[f] {
			continue
		}
		what := vmFlagNames[f]
		if what == "" {
			what = "a flag restore cannot set"
		}
		return fmt.Errorf("%w: VmFlags %q: %s", errdefs.ErrUnsupported, f, what)
	}
	return nil
}
