package linux

import (
	"os"

	"golang.org/x/sys/unix"
)

// The queues of a socket in TCP repair mode (include/uapi/linux/tcp.h:
// TCP_NO_QUEUE, TCP_RECV_QUEUE, TCP_SEND_QUEUE), chosen with
// TCP_REPAIR_QUEUE.
const (
	TCPNoQueue   = 0
	TCPRecvQueue = 1
	TCPSendQueue = 2
)

// TCPI_OPT_* bits of tcp_info's tcpi_options (include/uapi/linux/tcp.h).
const (
	TCPIOptTimestamps = 1
	TCPIOptSack       = 2
	TCPIOptWscale     = 4
	TCPIOptECN        = 8
)

// TCPRepairWindow mirrors struct tcp_repair_window
// (include/uapi/linux/tcp.h), read and set with TCP_REPAIR_WINDOW.
type TCPRepairWindow struct {
	SndWl1    uint32
	SndWnd    uint32
	MaxWindow uint32
	RcvWnd    uint32
	RcvWup    uint32
}

// TCPInfoHead is the first 8 bytes of struct tcp_info
// (include/uapi/linux/tcp.h), up to the window scales that x/sys's
// TCPInfo leaves out (a bit field: tcpi_snd_wscale in the low nibble of
// Wscale, tcpi_rcv_wscale in the high one).
type TCPInfoHead struct {
	State       uint8
	CaState     uint8
	Retransmits uint8
	Probes      uint8
	Backoff     uint8
	Options     uint8 // TCPIOpt* bits
	Wscale      uint8
	AppLimited  uint8
}

// SndWscale is the peer's window scale (tcpi_snd_wscale).
func (h TCPInfoHead) SndWscale() uint32 { return uint32(h.Wscale & 0xf) }

// RcvWscale is our window scale (tcpi_rcv_wscale).
func (h TCPInfoHead) RcvWscale() uint32 { return uint32(h.Wscale >> 4) }

// SetTCPRepair is setsockopt(TCP_REPAIR): on puts fd in repair mode
// (TCP_REPAIR_ON), off takes it out (TCP_REPAIR_OFF). CAP_NET_ADMIN.
func SetTCPRepair(fd int, on bool) error {
	v := unix.TCP_REPAIR_OFF
	if on {
		v = unix.TCP_REPAIR_ON
	}
	return os.NewSyscallError("setsockopt(TCP_REPAIR)", retryErr(Once, func() error {
		return unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_REPAIR, v)
	}))
}

// SetTCPRepairQueue is setsockopt(TCP_REPAIR_QUEUE): the queue (TCP*Queue)
// that TCP_QUEUE_SEQ, send and recv(MSG_PEEK) act on in repair mode.
func SetTCPRepairQueue(fd, queue int) error {
	return os.NewSyscallError("setsockopt(TCP_REPAIR_QUEUE)", unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_REPAIR_QUEUE, queue))
}

// TCPQueueSeq is getsockopt(TCP_QUEUE_SEQ): the sequence number after
// the repair queue's last byte (rcv_nxt for the receive queue,
// write_seq for the send queue).
func TCPQueueSeq(fd int) (uint32, error) {
	v, err := unix.GetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_QUEUE_SEQ)
	return uint32(v), os.NewSyscallError("getsockopt(TCP_QUEUE_SEQ)", err)
}

// SetTCPQueueSeq is setsockopt(TCP_QUEUE_SEQ): the first sequence number
// of the repair queue, of a socket in repair mode not yet connected.
func SetTCPQueueSeq(fd int, seq uint32) error {
	return os.NewSyscallError("setsockopt(TCP_QUEUE_SEQ)", unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_QUEUE_SEQ, int(int32(seq))))
}

// SetTCPRepairOptions is setsockopt(TCP_REPAIR_OPTIONS): the options
// the handshake would have agreed (TCPOPT_MAXSEG, TCPOPT_WINDOW,
// TCPOPT_SACK_PERMITTED, TCPOPT_TIMESTAMP), on a connected repair socket.
func SetTCPRepairOptions(fd int, opts []unix.TCPRepairOpt) error {
	return os.NewSyscallError("setsockopt(TCP_REPAIR_OPTIONS)", unix.SetsockoptTCPRepairOpt(fd, unix.IPPROTO_TCP, unix.TCP_REPAIR_OPTIONS, opts))
}

// TCPTimestamp is getsockopt(TCP_TIMESTAMP): the socket's timestamp
// clock, with its offset.
func TCPTimestamp(fd int) (uint32, error) {
	v, err := unix.GetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_TIMESTAMP)
	return uint32(v), os.NewSyscallError("getsockopt(TCP_TIMESTAMP)", err)
}

// SetTCPTimestamp is setsockopt(TCP_TIMESTAMP): sets the offset so that
// the socket's timestamp clock reads ts now (repair mode).
func SetTCPTimestamp(fd int, ts uint32) error {
	return os.NewSyscallError("setsockopt(TCP_TIMESTAMP)", unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_TIMESTAMP, int(int32(ts))))
}

// TCPQueueLens are the ioctls SIOCINQ (bytes in the receive queue not
// read), SIOCOUTQ (bytes in the send queue not acknowledged, sent or
// not) and SIOCOUTQNSD (bytes in the send queue not sent yet).
func TCPQueueLens(fd int) (inq, outq, unsent int, err error) {
	if inq, err = unix.IoctlGetInt(fd, unix.SIOCINQ); err != nil {
		return 0, 0, 0, os.NewSyscallError("ioctl(SIOCINQ)", err)
	}
	if outq, err = unix.IoctlGetInt(fd, unix.SIOCOUTQ); err != nil {
		return 0, 0, 0, os.NewSyscallError("ioctl(SIOCOUTQ)", err)
	}
	if unsent, err = unix.IoctlGetInt(fd, unix.SIOCOUTQNSD); err != nil {
		return 0, 0, 0, os.NewSyscallError("ioctl(SIOCOUTQNSD)", err)
	}
	return inq, outq, unsent, nil
}
