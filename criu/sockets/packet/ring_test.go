package packet

import (
	"errors"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/crtest"
)

// TestCheckRings: an RX ring of each TPACKET version passes while it
// has carried no frame, and is refused (ErrRingUsed) once one came in:
// the kernel's place in it is no longer the first frame.
func TestCheckRings(t *testing.T) {
	crtest.RequireRoot(t)
	const lo, proto = 1, 0xb588 // 0x88b5 (IEEE local experimental), network order
	for _, version := range []int{unix.TPACKET_V1, unix.TPACKET_V2, unix.TPACKET_V3} {
		fd := newSock(t, unix.SOCK_RAW, proto)
		if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_VERSION, version); err != nil {
			t.Fatal(err)
		}
		req := unix.TpacketReq3{Block_size: 4096, Block_nr: 2, Frame_size: 2048, Frame_nr: 4}
		if version == unix.TPACKET_V3 {
			req.Retire_blk_tov = 5
		}
		if err := unix.SetsockoptTpacketReq3(fd, unix.SOL_PACKET, unix.PACKET_RX_RING, &req); err != nil {
			t.Fatal(err)
		}
		if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: proto, Ifindex: lo}); err != nil {
			t.Fatal(err)
		}
		if err := CheckRings(fd, diagOf(t, fd)); err != nil {
			t.Fatalf("TPACKET version %d, unused: %v", version, err)
		}
		tx := newSock(t, unix.SOCK_RAW, 0)
		frame := make([]byte, 64)
		frame[12], frame[13] = 0x88, 0xb5
		if err := unix.Sendto(tx, frame, 0, &unix.SockaddrLinklayer{Protocol: proto, Ifindex: lo, Halen: 6}); err != nil {
			t.Fatal(err)
		}
		// A V3 block is the task's once retired (5ms): the kernel has
		// moved to the next one by then.
		time.Sleep(50 * time.Millisecond)
		if err := CheckRings(fd, diagOf(t, fd)); !errors.Is(err, ErrRingUsed) {
			t.Errorf("TPACKET version %d, a frame received: %v, want ErrRingUsed", version, err)
		}
	}
}
