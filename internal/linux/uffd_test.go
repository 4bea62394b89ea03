package linux

import (
	"encoding/binary"
	"testing"
)

// TestParseUffdMsgs: struct uffd_msg records, 32 bytes each, the event
// in the first byte and the union's three u64 from byte 8; a trailing
// partial record is not one.
func TestParseUffdMsgs(t *testing.T) {
	b := make([]byte, 2*UffdMsgSize+5)
	b[0] = UFFD_EVENT_PAGEFAULT
	binary.LittleEndian.PutUint64(b[8:], UFFD_PAGEFAULT_FLAG_WP|UFFD_PAGEFAULT_FLAG_WRITE)
	binary.LittleEndian.PutUint64(b[16:], 0x7f0000001234)
	b[32] = UFFD_EVENT_REMAP
	binary.LittleEndian.PutUint64(b[40:], 0x1000)
	binary.LittleEndian.PutUint64(b[48:], 0x9000)
	binary.LittleEndian.PutUint64(b[56:], 0x2000)
	got := ParseUffdMsgs(b)
	want := []UffdMsg{
		{Event: UFFD_EVENT_PAGEFAULT, Arg: [3]uint64{UFFD_PAGEFAULT_FLAG_WP | UFFD_PAGEFAULT_FLAG_WRITE, 0x7f0000001234, 0}},
		{Event: UFFD_EVENT_REMAP, Arg: [3]uint64{0x1000, 0x9000, 0x2000}},
	}
	if len(got) != len(want) {
		t.Fatalf("%d messages, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("message %d: %+v, want %+v", i, got[i], want[i])
		}
	}
}
