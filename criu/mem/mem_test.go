package mem_test

import (
	"bufio"
	"bytes"
	"fmt"
	"os/exec"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/criugo/criu/criu/crtest"
	"github.com/criugo/criu/criu/mem"
)

func TestRuns(t *testing.T) {
	const p = mem.PageSize
	keep := func(e uint64) bool { return e == 1 }
	for _, tc := range []struct {
		ents []uint64
		want []mem.Range
	}{
		{nil, nil},
		{[]uint64{0, 0}, nil},
		{[]uint64{1}, []mem.Range{{0x1000, 0x1000 + p}}},
		{[]uint64{1, 1, 0, 1}, []mem.Range{{0x1000, 0x1000 + 2*p}, {0x1000 + 3*p, 0x1000 + 4*p}}},
		{[]uint64{0, 1, 1, 1}, []mem.Range{{0x1000 + p, 0x1000 + 4*p}}},
	} {
		if got := mem.Runs(0x1000, tc.ents, keep); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Runs(%v) = %v, want %v", tc.ents, got, tc.want)
		}
	}
}

func TestAlignedBuffer(t *testing.T) {
	for _, n := range []int{1, mem.PageSize, 3<<20 + 17} {
		b := mem.AlignedBuffer(n)
		if len(b) != n || cap(b) != n {
			t.Fatalf("AlignedBuffer(%d): len %d cap %d", n, len(b), cap(b))
		}
		var addr uintptr
		fmt.Sscanf(fmt.Sprintf("%p", b), "0x%x", &addr)
		if addr%mem.PageSize != 0 {
			t.Errorf("AlignedBuffer(%d) at %#x", n, addr)
		}
	}
}

// child starts memchild and returns its pid and the addresses it printed.
func child(t *testing.T) (pid int, p, ro uint64) {
	t.Helper()
	crtest.RequireRoot(t)
	bin := crtest.BuildC(t, filepath.Join(crtest.SourceDir(), "memchild.c"), false)
	cmd := exec.Command(bin)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fmt.Sscanf(line, "%x %x", &p, &ro); err != nil {
		t.Fatalf("memchild said %q: %v", line, err)
	}
	return cmd.Process.Pid, p, ro
}

func page(n byte) []byte { return bytes.Repeat([]byte{n}, mem.PageSize) }

func TestPagemapAndReadRemote(t *testing.T) {
	pid, p, _ := child(t)
	pm, err := mem.OpenPagemap(pid)
	if err != nil {
		t.Fatal(err)
	}
	defer pm.Close()
	defer pm.Close() // safe twice
	r := mem.Range{Start: p, End: p + 16*mem.PageSize}
	ents, err := pm.Read(r)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 16 {
		t.Fatalf("%d entries", len(ents))
	}
	present := func(e uint64) bool { return e&mem.PMPresent != 0 }
	runs := mem.Runs(p, ents, present)
	P := uint64(mem.PageSize)
	want := []mem.Range{{p, p + 4*P}, {p + 8*P, p + 10*P}, {p + 15*P, p + 16*P}}
	if !reflect.DeepEqual(runs, want) {
		t.Fatalf("runs %v, want %v", runs, want)
	}
	for i, e := range ents {
		if present(e) && (e&mem.PMFile != 0 || e&mem.PMExclusive == 0) {
			t.Errorf("page %d: entry %#x: want anonymous, exclusive", i, e)
		}
	}
	// Read the runs in one call.
	buf := make([]byte, 7*mem.PageSize)
	if err := mem.ReadRemote(pid, runs, buf); err != nil {
		t.Fatal(err)
	}
	var exp []byte
	for _, n := range []byte{1, 2, 3, 4, 9, 10, 16} {
		exp = append(exp, page(n)...)
	}
	if !bytes.Equal(buf, exp) {
		t.Fatal("ReadRemote: wrong bytes")
	}
	// A buffer too short is refused.
	if err := mem.ReadRemote(pid, runs, buf[:len(buf)-1]); err == nil {
		t.Error("ReadRemote into a short buffer succeeded")
	}
	// Write two pages across a hole (one untouched page faults in) and
	// read them back.
	wr := []mem.Range{{p + 3*P, p + 4*P}, {p + 5*P, p + 6*P}}
	in := append(page(0xaa), page(0xbb)...)
	if err := mem.WriteRemote(pid, wr, in); err != nil {
		t.Fatal(err)
	}
	back := make([]byte, len(in))
	if err := mem.ReadRemote(pid, wr, back); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(back, in) {
		t.Fatal("WriteRemote did not stick")
	}
	// An unmapped address is an error, not a silent short read.
	if err := mem.ReadRemote(pid, []mem.Range{{0x1000, 0x2000}}, make([]byte, 0x1000)); err == nil {
		t.Error("ReadRemote of an unmapped page succeeded")
	}
}

func TestProcMemReadOnly(t *testing.T) {
	pid, _, ro := child(t)
	r := []mem.Range{{ro, ro + mem.PageSize}}
	// process_vm_writev honours protections.
	if err := mem.WriteRemote(pid, r, page(1)); err == nil {
		t.Fatal("process_vm_writev into a read-only page succeeded")
	}
	f, err := mem.OpenFile(pid)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got := make([]byte, mem.PageSize)
	if err := f.ReadAt(got, ro); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, page(0x5a)) {
		t.Fatal("read-only page: wrong bytes")
	}
	// /proc/PID/mem writes through the protection (FOLL_FORCE).
	if err := f.WriteAt(page(0x6b), ro); err != nil {
		t.Fatal(err)
	}
	if err := mem.ReadRemote(pid, r, got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, page(0x6b)) {
		t.Fatal("write through /proc/PID/mem did not stick")
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestSharedRuns(t *testing.T) {
	p := func(pfn uint64) uint64 { return mem.PMPresent | pfn }
	a := []uint64{p(5), p(6), p(7), 0, p(9), mem.PMSwap | 10, p(11), p(0)}
	b := []uint64{p(5), p(6), p(8), 0, p(9), mem.PMSwap | 10, p(12), p(0)}
	got := mem.SharedRuns(0x10000, a, b)
	want := []mem.Range{{0x10000, 0x12000}, {0x14000, 0x15000}}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("SharedRuns = %v, want %v", got, want)
	}
}
