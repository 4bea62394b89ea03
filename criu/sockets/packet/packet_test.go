package packet

import (
	"errors"
	"os"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"

	"github.com/criugo/criu/criu/crtest"
	"github.com/criugo/criu/criu/errdefs"
	"github.com/criugo/criu/proto/images"
)

func TestMain(m *testing.M) { os.Exit(crtest.RunWithFdCheck(m)) }

// ETH_P_ALL and ETH_P_IP in network byte order, as socket(2) takes them.
var ethPAll, ethPIP = int(htons(unix.ETH_P_ALL)), int(htons(unix.ETH_P_IP))

func newSock(t *testing.T, typ, protocol int) int {
	t.Helper()
	fd, err := unix.Socket(unix.AF_PACKET, typ|unix.SOCK_CLOEXEC, protocol)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return fd
}

func dump(t *testing.T, fd int) (*images.PacketSockEntry, error) {
	t.Helper()
	return Dump(fd, diagOf(t, fd))
}

// diagOf is what sock_diag tells of packet socket fd.
func diagOf(t *testing.T, fd int) *Diag {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		t.Fatal(err)
	}
	l, err := List()
	if err != nil {
		t.Fatal(err)
	}
	d := l[uint32(st.Ino)]
	if d == nil {
		t.Fatalf("socket:[%d] not in sock_diag's list", st.Ino)
	}
	return d
}

// A SOCK_RAW socket bound to lo with its options, memberships and a
// fanout group (with a flag diag does not show) is dumped, closed and
// opened again the same; so is an unbound SOCK_DGRAM one.
func TestDumpOpen(t *testing.T) {
	crtest.RequireRoot(t)
	lo := 1
	fd := newSock(t, unix.SOCK_RAW, ethPAll)
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: uint16(ethPAll), Ifindex: lo}); err != nil {
		t.Fatal(err)
	}
	for _, o := range [][2]int{
		{unix.PACKET_VERSION, unix.TPACKET_V3}, {unix.PACKET_RESERVE, 32}, {unix.PACKET_AUXDATA, 1},
		{unix.PACKET_ORIGDEV, 1}, {unix.PACKET_VNET_HDR, 1}, {unix.PACKET_LOSS, 1}, {unix.PACKET_TIMESTAMP, 0x40},
		{unix.PACKET_FANOUT, 0x777 | (unix.PACKET_FANOUT_LB|unix.PACKET_FANOUT_FLAG_ROLLOVER)<<16},
	} {
		if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, o[0], o[1]); err != nil {
			t.Fatalf("setsockopt %d: %v", o[0], err)
		}
	}
	mr := &unix.PacketMreq{Ifindex: int32(lo), Type: unix.PACKET_MR_MULTICAST, Alen: 6, Address: [8]byte{1, 0, 0x5e, 1, 2, 3}}
	for range 2 {
		if err := unix.SetsockoptPacketMreq(fd, unix.SOL_PACKET, unix.PACKET_ADD_MEMBERSHIP, mr); err != nil {
			t.Fatal(err)
		}
	}
	e, err := dump(t, fd)
	if err != nil {
		t.Fatal(err)
	}
	if e.GetType() != unix.SOCK_RAW || e.GetProtocol() != uint32(ethPAll) || e.GetIfindex() != uint32(lo) ||
		e.GetVersion() != unix.TPACKET_V3 || !e.GetAuxData() || !e.GetVnetHdr() || len(e.GetMclist()) != 2 ||
		e.GetFanout()>>24 != unix.PACKET_FANOUT_FLAG_ROLLOVER>>8 {
		t.Fatalf("dumped %v", e)
	}
	unix.Close(fd)
	if fd, err = Open(e); err != nil {
		t.Fatal(err)
	}
	again, err := dump(t, fd)
	unix.Close(fd)
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(e, again) {
		t.Errorf("opened again as %v, want %v", again, e)
	}

	dg := newSock(t, unix.SOCK_DGRAM, ethPIP)
	e, err = dump(t, dg)
	if err != nil {
		t.Fatal(err)
	}
	if fd, err = Open(e); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if again, err = dump(t, fd); err != nil || !proto.Equal(e, again) {
		t.Errorf("opened again as %v (%v), want %v", again, err, e)
	}

	// A group whose id the kernel chose comes back with that id.
	uniq := newSock(t, unix.SOCK_RAW, ethPAll)
	if err := unix.SetsockoptInt(uniq, unix.SOL_PACKET, unix.PACKET_FANOUT, (unix.PACKET_FANOUT_HASH|unix.PACKET_FANOUT_FLAG_UNIQUEID)<<16); err != nil {
		t.Fatal(err)
	}
	// The kernel's first unique id after boot is 0: membership is the
	// diag's fanout attribute, not a non-zero value.
	if e, err = dump(t, uniq); err != nil || e.Fanout == nil {
		t.Fatalf("dumped %v, %v", e, err)
	}
	unix.Close(uniq)
	if fd, err = Open(e); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if f, err := unix.GetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_FANOUT); err != nil || uint32(f) != e.GetFanout() {
		t.Errorf("fanout %#x (%v), want %#x", f, err, e.GetFanout())
	}
	if again, err := dump(t, fd); err != nil || again.Fanout == nil {
		t.Errorf("opened again as %v (%v): not in a fanout group", again, err)
	}
}

// Rings (PACKET_RX_RING, PACKET_TX_RING) of each TPACKET version are
// dumped with their geometry and opened again the same: the new
// socket's rings map at the dumped size, which mmap takes only whole.
func TestRings(t *testing.T) {
	crtest.RequireRoot(t)
	req := unix.TpacketReq{Block_size: 4096, Block_nr: 2, Frame_size: 2048, Frame_nr: 4}
	for _, tc := range []struct {
		name    string
		version int
		tx      bool
	}{{"v1 rx", unix.TPACKET_V1, false}, {"v2 rx tx", unix.TPACKET_V2, true}, {"v3 rx", unix.TPACKET_V3, false}} {
		t.Run(tc.name, func(t *testing.T) {
			fd := newSock(t, unix.SOCK_RAW, ethPAll)
			if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_VERSION, tc.version); err != nil {
				t.Fatal(err)
			}
			size := 2 * 4096
			var err error
			if tc.version == unix.TPACKET_V3 {
				err = unix.SetsockoptTpacketReq3(fd, unix.SOL_PACKET, unix.PACKET_RX_RING, &unix.TpacketReq3{
					Block_size: 4096, Block_nr: 2, Frame_size: 2048, Frame_nr: 4, Retire_blk_tov: 7, Sizeof_priv: 16})
			} else {
				err = unix.SetsockoptTpacketReq(fd, unix.SOL_PACKET, unix.PACKET_RX_RING, &req)
			}
			if err == nil && tc.tx {
				size *= 2
				err = unix.SetsockoptTpacketReq(fd, unix.SOL_PACKET, unix.PACKET_TX_RING, &req)
			}
			if err != nil {
				t.Fatal(err)
			}
			e, err := dump(t, fd)
			if err != nil {
				t.Fatal(err)
			}
			rx := e.GetRxRing()
			if rx.GetBlockSize() != 4096 || rx.GetBlockNr() != 2 || rx.GetFrameSize() != 2048 || rx.GetFrameNr() != 4 || (e.TxRing != nil) != tc.tx {
				t.Fatalf("dumped rings %v, %v", rx, e.GetTxRing())
			}
			if tc.version == unix.TPACKET_V3 && (rx.GetRetireTmo() != 7 || rx.GetSizeofPriv() != 16) {
				t.Fatalf("dumped TPACKET_V3 ring %v, want retire_tmo 7, sizeof_priv 16", rx)
			}
			again, err := Open(e)
			if err != nil {
				t.Fatal(err)
			}
			defer unix.Close(again)
			if got, err := dump(t, again); err != nil || !proto.Equal(got.GetRxRing(), rx) || !proto.Equal(got.GetTxRing(), e.GetTxRing()) {
				t.Errorf("opened again with rings %v, %v (%v), want %v, %v", got.GetRxRing(), got.GetTxRing(), err, rx, e.GetTxRing())
			}
			m, err := unix.Mmap(again, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
			if err != nil {
				t.Fatalf("mmap of the new socket's rings (%d bytes): %v", size, err)
			}
			unix.Munmap(m)
		})
	}
}

// What Open could not make again fails the dump by name.
func TestRefused(t *testing.T) {
	crtest.RequireRoot(t)
	bpf := newSock(t, unix.SOCK_RAW, ethPAll)
	if err := unix.SetsockoptInt(bpf, unix.SOL_PACKET, unix.PACKET_FANOUT, 0x999|unix.PACKET_FANOUT_CBPF<<16); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		fd   int
		name string
	}{{bpf, "PACKET_FANOUT_CBPF"}} {
		_, err := dump(t, c.fd)
		if !errors.Is(err, errdefs.ErrUnsupported) || !contains(err.Error(), c.name) {
			t.Errorf("dump: %v, want ErrUnsupported naming %s", err, c.name)
		}
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
