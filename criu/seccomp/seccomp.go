package seccomp

import (
	"encoding/binary"
	"errors"
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/criugo/criu/proto/images"
)

// ImageName is the tree's seccomp image.
const ImageName = "seccomp.img"

// Seccomp modes (uapi/linux/seccomp.h), as /proc/PID/status shows them.
const (
	ModeDisabled = 0
	ModeStrict   = 1
	ModeFilter   = 2
)

// SECCOMP_FILTER_FLAG_* (uapi/linux/seccomp.h).
const (
	FlagTSync       = 1 << 0
	FlagLog         = 1 << 1
	FlagSpecAllow   = 1 << 2
	FlagNewListener = 1 << 3
)

// Values of a BPF filter (uapi/linux/filter.h, uapi/linux/seccomp.h).
const (
	bpfRet           = 0x06 // BPF_RET class
	bpfK             = 0x00 // BPF_K source
	retUserNotif     = 0x7fc00000
	retActionFullMsk = 0xffff0000
	insnSize         = 8 // struct sock_filter
	maxInsns         = 4096
)

var (
	// ErrUnsupported is wrapped by a refusal at dump.
	ErrUnsupported = errors.New("seccomp: not supported")
	// ErrBadImage is wrapped by an image that cannot be right.
	ErrBadImage = errors.New("seccomp: bad image")
)

// Filter is one BPF program of a chain.
type Filter struct {
	Prog  []byte // struct sock_filter[]
	Flags uint64 // SECCOMP_FILTER_FLAG_*
}

// Thread is the seccomp state of one thread.
type Thread struct {
	Tid   int
	Mode  uint32
	Chain []Filter // oldest first; empty unless Mode is ModeFilter
}

// Source reads a stopped thread's filters: filter idx counted from the
// oldest (0), errNoFilter past the newest. *ptrace.Tracer is one.
type Source interface {
	SeccompFilter(tid, idx int) ([]byte, uint64, error)
}

// ReadThread reads the filters of thread tid, which /proc says is in
// mode with count filters (Seccomp, Seccomp_filters of its status). A
// chain of another length than count, or a filter that defers to a
// user-space listener, is an error naming the thread.
func ReadThread(src Source, tid int, mode uint32, count int, errNoFilter error) (Thread, error) {
	th := Thread{Tid: tid, Mode: mode}
	switch mode {
	case ModeDisabled, ModeStrict:
		if count != 0 {
			return th, fmt.Errorf("thread %d: seccomp mode %d with %d filters", tid, mode, count)
		}
		return th, nil
	case ModeFilter:
	default:
		return th, fmt.Errorf("thread %d: %w: seccomp mode %d", tid, ErrUnsupported, mode)
	}
	for idx := 0; ; idx++ {
		prog, flags, err := src.SeccompFilter(tid, idx)
		if errors.Is(err, errNoFilter) {
			break
		}
		if err != nil {
			return th, fmt.Errorf("thread %d: %w", tid, err)
		}
		if idx >= maxInsns {
			return th, fmt.Errorf("thread %d: more than %d seccomp filters", tid, maxInsns)
		}
		if err := checkProg(prog); err != nil {
			return th, fmt.Errorf("thread %d: seccomp filter %d (of %d, 0 the oldest): %w", tid, idx, count, err)
		}
		th.Chain = append(th.Chain, Filter{Prog: prog, Flags: flags})
	}
	if len(th.Chain) != count || count == 0 {
		return th, fmt.Errorf("thread %d: read %d seccomp filters, /proc says %d", tid, len(th.Chain), count)
	}
	return th, nil
}

// checkProg refuses a program that is not whole instructions, and one
// with a return of SECCOMP_RET_USER_NOTIF (a constant return: seccomp
// programs return through BPF_RET|BPF_K, or through A, which is refused
// too since it could be one).
func checkProg(prog []byte) error {
	if len(prog) == 0 || len(prog)%insnSize != 0 || len(prog)/insnSize > maxInsns {
		return fmt.Errorf("%w: program of %d bytes", ErrBadImage, len(prog))
	}
	for i := 0; i < len(prog); i += insnSize {
		code := binary.LittleEndian.Uint16(prog[i:])
		k := binary.LittleEndian.Uint32(prog[i+4:])
		if code&0x07 != bpfRet {
			continue
		}
		if code&0x18 != bpfK {
			return fmt.Errorf("%w: instruction %d returns a computed action, which may be SECCOMP_RET_USER_NOTIF (a user-space listener cannot be restored)", ErrUnsupported, i/insnSize)
		}
		if k&retActionFullMsk == retUserNotif {
			return fmt.Errorf("%w: instruction %d returns SECCOMP_RET_USER_NOTIF (a user-space listener cannot be restored)", ErrUnsupported, i/insnSize)
		}
	}
	return nil
}

// Table collects the filters of a tree for seccomp.img, in CRIU's
// layout: a thread's core names the oldest filter of its chain, and each
// filter's prev names the one installed after it (CRIU's name for the
// link), the newest having none; every prev names an earlier entry.
// Identical chains are kept once.
type Table struct {
	filters []*images.SeccompFilter
	index   map[string]uint32
}

// Add adds chain (oldest first) and returns the index of its oldest
// filter, for the thread core's seccomp_filter. Entries are shared
// where the filter and every filter after it are the same.
func (t *Table) Add(chain []Filter) uint32 {
	if t.index == nil {
		t.index = map[string]uint32{}
	}
	next := int64(-1) // the entry of the filter installed after
	for j := len(chain) - 1; j >= 0; j-- {
		f := chain[j]
		key := fmt.Sprintf("%d/%d/%s", next, f.Flags, f.Prog)
		i, ok := t.index[key]
		if !ok {
			i = uint32(len(t.filters))
			e := &images.SeccompFilter{Filter: append([]byte(nil), f.Prog...), Flags: proto.Uint32(uint32(f.Flags))}
			if next >= 0 {
				e.Prev = proto.Uint32(uint32(next))
			}
			t.filters = append(t.filters, e)
			t.index[key] = i
		}
		next = int64(i)
	}
	return uint32(next)
}

// Entry is the SeccompEntry of seccomp.img.
func (t *Table) Entry() *images.SeccompEntry {
	return &images.SeccompEntry{SeccompFilters: t.filters}
}

// Process saves the seccomp state of the threads of one process (leader
// first) into their cores (cores[i] is threads[i]'s), adding their
// chains to t. When every thread has the same chain and there is more
// than one thread, the chain is saved once, in the leader, with TSYNC
// (see the package doc).
func (t *Table) Process(threads []Thread, cores []*images.ThreadCoreEntry) {
	if len(threads) != len(cores) {
		panic("seccomp: threads and cores differ")
	}
	if len(threads) > 1 && allSame(threads) {
		chain := make([]Filter, len(threads[0].Chain))
		for i, f := range threads[0].Chain {
			chain[i] = Filter{Prog: f.Prog, Flags: f.Flags | FlagTSync}
		}
		cores[0].SeccompMode = images.SeccompMode(ModeFilter).Enum()
		cores[0].SeccompFilter = proto.Uint32(t.Add(chain))
		return
	}
	for i, th := range threads {
		if th.Mode == ModeDisabled {
			continue
		}
		cores[i].SeccompMode = images.SeccompMode(th.Mode).Enum()
		if th.Mode == ModeFilter {
			cores[i].SeccompFilter = proto.Uint32(t.Add(th.Chain))
		}
	}
}

func allSame(threads []Thread) bool {
	l := threads[0]
	if l.Mode != ModeFilter {
		return false
	}
	for _, th := range threads[1:] {
		if th.Mode != l.Mode || len(th.Chain) != len(l.Chain) {
			return false
		}
		for i, f := range th.Chain {
			if f.Flags != l.Chain[i].Flags || string(f.Prog) != string(l.Chain[i].Prog) {
				return false
			}
		}
	}
	return true
}
