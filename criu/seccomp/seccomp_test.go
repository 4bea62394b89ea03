package seccomp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/criugo/criu/proto/images"
)

// prog makes a program of BPF_RET|BPF_K instructions returning ks.
func prog(ks ...uint32) []byte {
	var b []byte
	for _, k := range ks {
		b = binary.LittleEndian.AppendUint16(b, 0x06) // BPF_RET|BPF_K
		b = append(b, 0, 0)
		b = binary.LittleEndian.AppendUint32(b, k)
	}
	return b
}

var errEnd = errors.New("end")

// fake serves chains by tid, oldest first.
type fake map[int][]Filter

func (f fake) SeccompFilter(tid, idx int) ([]byte, uint64, error) {
	c := f[tid]
	if idx >= len(c) {
		return nil, 0, errEnd
	}
	return c[idx].Prog, c[idx].Flags, nil
}

func TestReadThread(t *testing.T) {
	a, b := Filter{Prog: prog(0x7fff0000)}, Filter{Prog: prog(0x00050000 | 42), Flags: FlagLog}
	src := fake{1: {a, b}, 2: {{Prog: prog(0x7fc00000)}}, 3: {{Prog: []byte{1, 2, 3}}}}
	th, err := ReadThread(src, 1, ModeFilter, 2, errEnd)
	if err != nil || len(th.Chain) != 2 || string(th.Chain[0].Prog) != string(a.Prog) || th.Chain[1].Flags != FlagLog {
		t.Fatalf("%+v %v", th, err)
	}
	for _, tt := range []struct {
		tid   int
		mode  uint32
		count int
	}{
		{1, ModeFilter, 3}, // /proc says more than there are
		{2, ModeFilter, 1}, // SECCOMP_RET_USER_NOTIF
		{3, ModeFilter, 1}, // not whole instructions
		{1, ModeStrict, 2}, // strict with filters
		{1, 7, 0},          // unknown mode
		{4, ModeFilter, 0}, // filter mode with none
	} {
		if _, err := ReadThread(src, tt.tid, tt.mode, tt.count, errEnd); err == nil {
			t.Errorf("thread %d mode %d count %d: no error", tt.tid, tt.mode, tt.count)
		}
	}
}

// A computed return (BPF_RET|BPF_A) may be SECCOMP_RET_USER_NOTIF.
func TestCheckProgComputedReturn(t *testing.T) {
	p := []byte{0x16, 0, 0, 0, 0, 0, 0, 0}
	if err := checkProg(p); !errors.Is(err, ErrUnsupported) {
		t.Errorf("RET A: %v", err)
	}
}

// Table writes CRIU's layout (core names the oldest, prev the next
// newer, prev always earlier), shares identical chains, and Chain reads
// each back in install order.
func TestTableChain(t *testing.T) {
	a, b, c := Filter{Prog: prog(1)}, Filter{Prog: prog(2)}, Filter{Prog: prog(3), Flags: FlagLog}
	var tb Table
	chains := [][]Filter{{a, b, c}, {a, b, c}, {a, b}, {c}, {b, c}}
	var idx []uint32
	for _, ch := range chains {
		idx = append(idx, tb.Add(ch))
	}
	if idx[0] != idx[1] {
		t.Errorf("identical chains at %d and %d", idx[0], idx[1])
	}
	e := tb.Entry()
	for i, f := range e.GetSeccompFilters() {
		if f.Prev != nil && f.GetPrev() >= uint32(i) {
			t.Errorf("entry %d: prev %d not earlier", i, f.GetPrev())
		}
	}
	// Through the wire, as restore reads it.
	raw, err := proto.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	back := &images.SeccompEntry{}
	if err := proto.Unmarshal(raw, back); err != nil {
		t.Fatal(err)
	}
	for i, ch := range chains {
		got, err := Chain(back, idx[i])
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(filtersOf(got)) != fmt.Sprint(ch) {
			t.Errorf("chain %d: got %v, want %v", i, filtersOf(got), ch)
		}
	}
}

func filtersOf(fs []*images.SeccompFilter) []Filter {
	var out []Filter
	for _, f := range fs {
		out = append(out, Filter{Prog: f.GetFilter(), Flags: uint64(f.GetFlags())})
	}
	return out
}

func TestChainBadImage(t *testing.T) {
	f := func(p []byte, prev *uint32, flags uint32) *images.SeccompFilter {
		return &images.SeccompFilter{Filter: p, Prev: prev, Flags: proto.Uint32(flags)}
	}
	for name, e := range map[string]*images.SeccompEntry{
		"loop":     {SeccompFilters: []*images.SeccompFilter{f(prog(1), proto.Uint32(0), 0)}},
		"forward":  {SeccompFilters: []*images.SeccompFilter{f(prog(1), proto.Uint32(1), 0), f(prog(1), nil, 0)}},
		"dangling": {SeccompFilters: []*images.SeccompFilter{f(prog(1), nil, 0)}},
		"odd size": {SeccompFilters: []*images.SeccompFilter{f([]byte{1}, nil, 0)}},
		"listener": {SeccompFilters: []*images.SeccompFilter{f(prog(1), nil, FlagNewListener)}},
	} {
		idx := uint32(0)
		if name == "dangling" {
			idx = 5
		}
		if _, err := Chain(e, idx); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// Threads with one chain are saved once, in the leader, with TSYNC.
func TestProcessTSync(t *testing.T) {
	a := Filter{Prog: prog(1)}
	var tb Table
	ths := []Thread{{Tid: 1, Mode: ModeFilter, Chain: []Filter{a}}, {Tid: 2, Mode: ModeFilter, Chain: []Filter{a}}}
	cores := []*images.ThreadCoreEntry{{}, {}}
	tb.Process(ths, cores)
	if cores[1].SeccompMode != nil || cores[0].GetSeccompMode() != ModeFilter {
		t.Fatalf("modes %v %v", cores[0].SeccompMode, cores[1].SeccompMode)
	}
	ch, err := Chain(tb.Entry(), cores[0].GetSeccompFilter())
	if err != nil || len(ch) != 1 || ch[0].GetFlags()&FlagTSync == 0 {
		t.Fatalf("%v %v", ch, err)
	}
	// Different chains: each its own, no TSYNC.
	tb = Table{}
	ths[1].Chain = []Filter{a, {Prog: prog(2)}}
	cores = []*images.ThreadCoreEntry{{}, {}}
	tb.Process(ths, cores)
	if cores[1].GetSeccompMode() != ModeFilter || cores[0].GetSeccompFilter() == cores[1].GetSeccompFilter() {
		t.Fatalf("cores %v %v", cores[0], cores[1])
	}
}
