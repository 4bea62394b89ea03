package soccr

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"

	"github.com/criugo/criu/criu/errdefs"
	"github.com/criugo/criu/internal/linux"
	"github.com/criugo/criu/proto/images"
)

// TCP states (include/net/tcp_states.h).
const (
	StateEstablished = 1
	StateSynSent     = 2
	StateSynRecv     = 3
	StateFinWait1    = 4
	StateFinWait2    = 5
	StateTimeWait    = 6
	StateClose       = 7
	StateCloseWait   = 8
	StateLastAck     = 9
	StateListen      = 10
	StateClosing     = 11
	StateNewSynRecv  = 12
)

// Connected tells whether a connection in state is saved and restored
// by this package: ESTABLISHED and the half-closed states.
func Connected(state uint32) bool {
	switch state {
	case StateEstablished, StateFinWait1, StateFinWait2, StateCloseWait, StateLastAck, StateClosing:
		return true
	}
	return false
}

// Saves tells whether Save and Restore take a TCP socket in state:
// the Connected ones, a connection closed (CLOSE: after its FINs, or a
// reset), which keeps its peer's address, and one connecting
// (SYN_SENT).
func Saves(state uint32) bool {
	return Connected(state) || state == StateClose || state == StateSynSent
}

// StateName names the TCP states as ss(8) and /proc/net/tcp's readers
// do.
func StateName(s uint32) string {
	switch s {
	case StateEstablished:
		return "ESTABLISHED"
	case StateSynSent:
		return "SYN_SENT"
	case StateSynRecv:
		return "SYN_RECV"
	case StateTimeWait:
		return "TIME_WAIT"
	case StateClose:
		return "CLOSE"
	case StateListen:
		return "LISTEN"
	case StateNewSynRecv:
		return "NEW_SYN_RECV"
	case StateFinWait1:
		return "FIN_WAIT1"
	case StateFinWait2:
		return "FIN_WAIT2"
	case StateCloseWait:
		return "CLOSE_WAIT"
	case StateLastAck:
		return "LAST_ACK"
	case StateClosing:
		return "CLOSING"
	}
	return fmt.Sprintf("state %d", s)
}

// ErrState is a connection in a state Save does not handle (SYN_RECV
// is a listener's, TIME_WAIT no task's: neither is met in a fd table).
var ErrState = fmt.Errorf("%w: a TCP socket in a state TCP_REPAIR does not save here", errdefs.ErrUnsupported)

// ErrSynData is a connection in SYN_SENT with bytes in its send queue:
// sent with its SYN (TCP Fast Open, sendto with MSG_FASTOPEN), which
// a new connect does not send again.
var ErrSynData = fmt.Errorf("%w: a TCP connection in SYN_SENT with data sent with its SYN (TCP Fast Open)", errdefs.ErrUnsupported)

// MaxQueue caps the bytes of one queue, read at dump and sent again at
// restore.
const MaxQueue = 64 << 20

// Pause puts fd in repair mode. Closed in it, the socket sends nothing
// (no FIN, no RST): the peer sees nothing.
func Pause(fd int) error { return linux.SetTCPRepair(fd, true) }

// Resume takes each of fds out of repair mode: the connections go on
// (a window probe is sent on each).
func Resume(fds ...int) error {
	var errs []error
	for _, fd := range fds {
		if err := linux.SetTCPRepair(fd, false); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Restored is a connection Restore made: its fd, and the bytes its send
// queue held that were never sent.
type Restored struct {
	Fd        int
	Unsent    []byte
	ReuseAddr bool // SO_REUSEADDR, which the end of repair mode clears
	// Connect is the peer of a connection in SYN_SENT (restoreSynSent),
	// connected to by ResumeRestored.
	Connect unix.Sockaddr
}

// ResumeRestored takes the connections out of repair mode, connects
// those in SYN_SENT (their SYN is sent now, every socket of the tree
// made: a listener of the tree does not answer it with a reset for
// want of being there yet; the network lock may hold it, and the
// kernel sends it again), then writes each one's unsent bytes as the
// task would have (ordinary writes, after every connection is out of
// repair mode: both ends of a connection inside the tree exist by
// then, so none answers the data with a RST).
func ResumeRestored(conns []Restored) error {
	var errs []error
	for _, c := range conns {
		errs = append(errs, Resume(c.Fd))
		if c.ReuseAddr {
			errs = append(errs, SetReuseAddr(c.Fd, true))
		}
	}
	for _, c := range conns {
		if c.Connect != nil {
			errs = append(errs, connectNoWait(c.Fd, c.Connect))
		}
	}
	for _, c := range conns {
		if err := writeUnsent(c.Fd, c.Unsent); err != nil {
			errs = append(errs, fmt.Errorf("unsent data: %w", err))
		}
	}
	return errors.Join(errs...)
}

// connectNoWait connects fd to dst without waiting for the handshake,
// whatever fd's file status flags (the task's, set back after).
func connectNoWait(fd int, dst unix.Sockaddr) (err error) {
	fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
	if err != nil {
		return os.NewSyscallError("fcntl(F_GETFL)", err)
	}
	if fl&unix.O_NONBLOCK == 0 {
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFL, fl|unix.O_NONBLOCK); err != nil {
			return os.NewSyscallError("fcntl(F_SETFL)", err)
		}
		defer func() {
			if _, e := unix.FcntlInt(uintptr(fd), unix.F_SETFL, fl); e != nil {
				err = errors.Join(err, os.NewSyscallError("fcntl(F_SETFL)", e))
			}
		}()
	}
	if err := unix.Connect(fd, dst); err != nil && !errors.Is(err, unix.EINPROGRESS) {
		return fmt.Errorf("connection in SYN_SENT: %w", os.NewSyscallError("connect", err))
	}
	return nil
}

// writeUnsent writes b, the bytes fd's send queue held unsent at dump,
// with its send buffer grown for the write and then set back (its size
// and SO_BUF_LOCK as they were). They were in it beside the bytes sent
// and not acked, queued again in repair mode; but the kernel looks for
// room only before it starts a segment, which a send then fills whole,
// so a full queue holds up to a segment more than its buffer, how much
// more depending on where the task's segments began and their size:
// the same bytes written again in one send, in the new socket's
// segments, may not fit (socket-tcp4v6-fin-wait1 failed so one run in
// two; TestFinWait1OverfullQueue). And the peer, not running yet,
// opens no window, so a write that waited for room would wait for the
// tasks, which run only after it (socket-tcpbuf-local hung so). The
// task finds its queue as full as it left it, its buffer's size as it
// set it.
func writeUnsent(fd int, b []byte) error {
	if len(b) == 0 {
		return nil
	}
	size, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF)
	if err != nil {
		return os.NewSyscallError("getsockopt(SO_SNDBUF)", err)
	}
	lock, lockErr := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_BUF_LOCK)
	// The kernel doubles what it is given (SO_SNDBUF reads the doubled
	// size).
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, size+2*len(b)); err != nil {
		return os.NewSyscallError("setsockopt(SO_SNDBUFFORCE)", err)
	}
	err = write(fd, b)
	if e := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, size/2); e != nil {
		err = errors.Join(err, os.NewSyscallError("setsockopt(SO_SNDBUFFORCE)", e))
	}
	if lockErr == nil {
		if e := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_BUF_LOCK, lock); e != nil {
			err = errors.Join(err, os.NewSyscallError("setsockopt(SO_BUF_LOCK)", e))
		}
	}
	return err
}

// Save reads the state of fd, a TCP socket in repair mode (Pause),
// established, half-closed, closed or connecting (Saves). Of a
// connection that sent its FIN the lengths are those of the data (the
// FIN takes a sequence number and no byte, as libsoccr counts it):
// outq_len and unsq_len without it, outq_seq after it; of one that
// received the peer's FIN, inq_seq is after it. A closed connection
// (CLOSE) keeps its receive queue only: its send queue was acked, or
// dropped by the reset, and is saved empty, as libsoccr. One connecting
// (SYN_SENT) has outq_seq after its SYN, and no bytes (ErrSynData).
func Save(fd int) (*Stream, error) {
	ti, err := linux.GetTCPInfoHead(fd)
	if err != nil {
		return nil, err
	}
	state := uint32(ti.State)
	if !Saves(state) {
		return nil, fmt.Errorf("%w: %s", ErrState, StateName(state))
	}
	if state == StateSynSent {
		if err := checkSynData(fd); err != nil {
			return nil, err
		}
	}
	e, inq, outq, err := save(fd, ti, state)
	if err != nil {
		return nil, err
	}
	return &Stream{Entry: e, State: state, InQ: inq, OutQ: outq}, nil
}

func save(fd int, ti linux.TCPInfoHead, state uint32) (e *images.TcpStreamEntry, inq, outq []byte, err error) {
	inLen, outLen, unsent, err := linux.TCPQueueLens(fd)
	if err != nil {
		return nil, nil, nil, err
	}
	switch {
	case state == StateClose:
		// SIOCOUTQ counts what a reset dropped, unacked.
		outLen, unsent = 0, 0
	case ourFIN(state):
		outLen, unsent = max(outLen-1, 0), max(unsent-1, 0)
	}
	if inLen > MaxQueue || outLen > MaxQueue || unsent > outLen {
		return nil, nil, nil, fmt.Errorf("TCP queues of %d and %d bytes (%d unsent): more than soccr takes", inLen, outLen, unsent)
	}
	mss, err := unix.GetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_MAXSEG)
	if err != nil {
		return nil, nil, nil, os.NewSyscallError("getsockopt(TCP_MAXSEG)", err)
	}
	e = &images.TcpStreamEntry{
		InqLen: proto.Uint32(uint32(inLen)), OutqLen: proto.Uint32(uint32(outLen)), UnsqLen: proto.Uint32(uint32(unsent)),
		OptMask: proto.Uint32(uint32(ti.Options)), SndWscale: proto.Uint32(0), MssClamp: proto.Uint32(uint32(mss)),
	}
	if ti.Options&linux.TCPIOptWscale != 0 {
		e.SndWscale, e.RcvWscale = proto.Uint32(ti.SndWscale()), proto.Uint32(ti.RcvWscale())
	}
	if ti.Options&linux.TCPIOptTimestamps != 0 {
		ts, err := linux.TCPTimestamp(fd)
		if err != nil {
			return nil, nil, nil, err
		}
		e.Timestamp = proto.Uint32(ts)
	}
	w, err := linux.GetTCPRepairWindow(fd)
	switch {
	case errors.Is(err, unix.ENOPROTOOPT): // before Linux 4.8
	case err != nil:
		return nil, nil, nil, err
	default:
		e.SndWl1, e.SndWnd, e.MaxWindow = proto.Uint32(w.SndWl1), proto.Uint32(w.SndWnd), proto.Uint32(w.MaxWindow)
		e.RcvWnd, e.RcvWup = proto.Uint32(w.RcvWnd), proto.Uint32(w.RcvWup)
	}
	var inSeq, outSeq uint32
	if inSeq, inq, err = peekQueue(fd, linux.TCPRecvQueue, inLen); err != nil {
		return nil, nil, nil, fmt.Errorf("receive queue: %w", err)
	}
	if outSeq, outq, err = peekQueue(fd, linux.TCPSendQueue, outLen); err != nil {
		return nil, nil, nil, fmt.Errorf("send queue: %w", err)
	}
	e.InqSeq, e.OutqSeq = proto.Uint32(inSeq), proto.Uint32(outSeq)
	if err := linux.SetTCPRepairQueue(fd, linux.TCPNoQueue); err != nil {
		return nil, nil, nil, err
	}
	return e, inq, outq, nil
}

// checkSynData refuses fd, in SYN_SENT, if its send queue holds bytes
// (SIOCOUTQ tells 0 in SYN_SENT whatever it holds): the repair-mode
// peek copies the whole queue, or fails if it holds more than asked.
func checkSynData(fd int) error {
	if err := linux.SetTCPRepairQueue(fd, linux.TCPSendQueue); err != nil {
		return err
	}
	b := make([]byte, 64<<10)
	n, _, err := unix.Recvfrom(fd, b, unix.MSG_PEEK|unix.MSG_DONTWAIT)
	if e := linux.SetTCPRepairQueue(fd, linux.TCPNoQueue); e != nil && err == nil {
		return e
	}
	switch {
	case errors.Is(err, unix.EFAULT) || err == nil && n > 0:
		return ErrSynData
	case err != nil:
		return os.NewSyscallError("recv(MSG_PEEK)", err)
	}
	return nil
}

// peekQueue selects queue and reads its sequence number and its n bytes
// (one more is asked for, to be sure there are no more).
func peekQueue(fd, queue, n int) (uint32, []byte, error) {
	if err := linux.SetTCPRepairQueue(fd, queue); err != nil {
		return 0, nil, err
	}
	seq, err := linux.TCPQueueSeq(fd)
	if err != nil || n == 0 {
		return seq, nil, err
	}
	b := make([]byte, n+1)
	got, _, err := unix.Recvfrom(fd, b, unix.MSG_PEEK|unix.MSG_DONTWAIT)
	if err != nil {
		return 0, nil, os.NewSyscallError("recv(MSG_PEEK)", err)
	}
	if got != n {
		return 0, nil, fmt.Errorf("%d bytes queued, %d read", n, got)
	}
	return seq, b[:n], nil
}

// Restore rebuilds on fd the connection st describes, from src to dst,
// in its state (st.State), with its queues but the unsent part of the
// send queue of a connection that has not sent its FIN: fd is a new
// TCP socket of the family
// of src, its options set, not bound. It is put in repair mode and stays
// in it: ResumeRestored lets the connection go on and writes the rest
// (UnsentAtResume). freebind tells whether the task's socket had
// IP_FREEBIND (or IPV6_FREEBIND): the bind is free all the same, as the
// namespace may not hold the address yet, and the option is put back as
// it was. It runs in the network namespace of the connection: the
// peer's FIN is put back with a segment sent to the socket there.
func Restore(fd int, st *Stream, src, dst unix.Sockaddr, freebind bool) error {
	if err := Pause(fd); err != nil {
		return err
	}
	level, opt := unix.IPPROTO_IP, unix.IP_FREEBIND
	if _, v6 := src.(*unix.SockaddrInet6); v6 {
		level, opt = unix.IPPROTO_IPV6, ipv6Freebind
	}
	if !freebind {
		if err := unix.SetsockoptInt(fd, level, opt, 1); err != nil {
			return os.NewSyscallError("setsockopt(FREEBIND)", err)
		}
		defer unix.SetsockoptInt(fd, level, opt, 0)
	}
	switch {
	case st.State == StateSynSent:
		return restoreSynSent(fd, st, src)
	case !Saves(st.State):
		return fmt.Errorf("%w: %s", ErrState, StateName(st.State))
	}
	return restore(fd, st, src, dst)
}

// restoreSynSent makes on fd the first half of a connection in
// SYN_SENT: bound to src in repair mode, its first sequence number the
// dumped SYN's (outq_seq, after the SYN, less one), so that the SYN
// ResumeRestored's connect sends is the one the peer may have seen
// (and answered: its SYN-ACK is then good for the new socket too).
// What the handshake agrees (options, windows) it agrees again.
func restoreSynSent(fd int, st *Stream, src unix.Sockaddr) error {
	if len(st.InQ) != 0 || len(st.OutQ) != 0 {
		return fmt.Errorf("%w: tcp_stream_entry: a connection in SYN_SENT with queues of %d and %d bytes", errdefs.ErrBadImage, len(st.InQ), len(st.OutQ))
	}
	if err := unix.Bind(fd, src); err != nil {
		return os.NewSyscallError("bind", err)
	}
	if err := linux.SetTCPRepairQueue(fd, linux.TCPSendQueue); err != nil {
		return err
	}
	if err := linux.SetTCPQueueSeq(fd, st.Entry.GetOutqSeq()-1); err != nil {
		return err
	}
	return linux.SetTCPRepairQueue(fd, linux.TCPNoQueue)
}

// ipv6Freebind is IPV6_FREEBIND (Linux 4.15), not in x/sys/unix.
const ipv6Freebind = 78

// restore is Restore of a connection, as libsoccr does it: the
// sequence numbers before the FINs, the queues, then our FIN
// (shutdown(SHUT_WR) in repair mode: in FIN_WAIT2, where the peer acked
// it, with the send queue chosen, so that it counts as sent; else sent
// at once, held by the network lock and sent again), the peer's FIN (a
// segment from the peer, sendPeer) and, in FIN_WAIT2, the peer's ack of
// ours.
func restore(fd int, st *Stream, src, dst unix.Sockaddr) error {
	e, inq, outq := st.Entry, st.InQ, st.OutQ
	if len(inq) != int(e.GetInqLen()) || len(outq) != int(e.GetOutqLen()) || e.GetUnsqLen() > e.GetOutqLen() {
		return fmt.Errorf("tcp_stream_entry: queues of %d and %d bytes for inq_len %d, outq_len %d, unsq_len %d",
			len(inq), len(outq), e.GetInqLen(), e.GetOutqLen(), e.GetUnsqLen())
	}
	state := st.State
	if state == StateClose && len(outq) != 0 {
		return fmt.Errorf("%w: tcp_stream_entry: a closed connection with %d bytes to send", errdefs.ErrBadImage, len(outq))
	}
	inSeq, outSeq := e.GetInqSeq(), e.GetOutqSeq() // after the FINs
	if peerFIN(state) {
		inSeq--
	}
	if ourFIN(state) {
		outSeq--
	}
	una := outSeq - e.GetOutqLen() // the first byte not acked
	if err := Connect(fd, inSeq-e.GetInqLen(), una, src, dst); err != nil {
		return err
	}
	var opts []unix.TCPRepairOpt
	m := e.GetOptMask()
	if m&linux.TCPIOptSack != 0 {
		opts = append(opts, unix.TCPRepairOpt{Code: unix.TCPOPT_SACK_PERMITTED})
	}
	if m&linux.TCPIOptWscale != 0 {
		opts = append(opts, unix.TCPRepairOpt{Code: unix.TCPOPT_WINDOW, Val: e.GetSndWscale() | e.GetRcvWscale()<<16})
	}
	if m&linux.TCPIOptTimestamps != 0 {
		opts = append(opts, unix.TCPRepairOpt{Code: unix.TCPOPT_TIMESTAMP})
	}
	opts = append(opts, unix.TCPRepairOpt{Code: unix.TCPOPT_MAXSEG, Val: e.GetMssClamp()})
	if err := linux.SetTCPRepairOptions(fd, opts); err != nil {
		return err
	}
	if m&linux.TCPIOptTimestamps != 0 {
		if err := linux.SetTCPTimestamp(fd, e.GetTimestamp()); err != nil {
			return err
		}
	}
	if err := sendQueue(fd, linux.TCPRecvQueue, inq); err != nil {
		return fmt.Errorf("receive queue: %w", err)
	}
	sent := len(outq) - int(e.GetUnsqLen())
	if err := sendQueue(fd, linux.TCPSendQueue, outq[:sent]); err != nil {
		return fmt.Errorf("send queue: %w", err)
	}
	if ourFIN(state) && sent < len(outq) {
		// The unsent bytes go before our FIN: written out of repair
		// mode, as the task wrote them (held by the network lock).
		if err := Resume(fd); err != nil {
			return err
		}
		if err := writeUnsent(fd, outq[sent:]); err != nil {
			return fmt.Errorf("unsent data: %w", err)
		}
		if err := Pause(fd); err != nil {
			return err
		}
	}
	if e.SndWnd != nil {
		w := linux.TCPRepairWindow{SndWl1: e.GetSndWl1(), SndWnd: e.GetSndWnd(), MaxWindow: e.GetMaxWindow(), RcvWnd: e.GetRcvWnd(), RcvWup: e.GetRcvWup()}
		if peerFIN(state) {
			// rcv_wup was past the FIN, which is not received yet.
			w.RcvWup--
			w.RcvWnd++
		}
		if err := linux.SetTCPRepairWindow(fd, &w); err != nil {
			return err
		}
	}
	if err := linux.SetTCPRepairQueue(fd, linux.TCPNoQueue); err != nil {
		return err
	}
	if state == StateEstablished {
		return nil
	}
	local, peer := AddrPort(src), AddrPort(dst)
	// Ours second: LAST_ACK, and CLOSE (a closed connection is made
	// as the end that closed last: LAST_ACK, then the peer's ack).
	second := state == StateLastAck || state == StateClose
	if ourFIN(state) && !second {
		if err := shutdownWrite(fd, state == StateFinWait2); err != nil {
			return err
		}
	}
	if peerFIN(state) {
		if err := sendPeer(e, local, peer, inSeq, una, tcpFIN|tcpACK); err != nil {
			return err
		}
		want := uint32(StateCloseWait)
		if state == StateClosing {
			want = StateClosing
		}
		if err := waitState(fd, want); err != nil {
			return err
		}
		inSeq++ // past the peer's FIN
	}
	if second {
		if err := shutdownWrite(fd, state == StateClose); err != nil {
			return err
		}
	}
	if state == StateFinWait2 || state == StateClose {
		// The peer's ack of our FIN.
		if err := sendPeer(e, local, peer, inSeq, outSeq+1, tcpACK); err != nil {
			return err
		}
	}
	return waitState(fd, state)
}

// shutdownWrite puts our FIN in the send queue of fd, in repair mode:
// with acked, as sent (the send queue chosen: nothing is sent), else
// sent at once.
func shutdownWrite(fd int, acked bool) error {
	q := linux.TCPNoQueue
	if acked {
		q = linux.TCPSendQueue
	}
	if err := linux.SetTCPRepairQueue(fd, q); err != nil {
		return err
	}
	if err := unix.Shutdown(fd, unix.SHUT_WR); err != nil {
		return os.NewSyscallError("shutdown(SHUT_WR)", err)
	}
	return linux.SetTCPRepairQueue(fd, linux.TCPNoQueue)
}

// Connect binds fd (a new socket in repair mode) to src, sets the first
// sequence numbers of its receive and send queues (inSeq, outSeq) and
// connects it to dst: in repair mode no SYN is sent, the socket is
// ESTABLISHED at once.
func Connect(fd int, inSeq, outSeq uint32, src, dst unix.Sockaddr) error {
	if err := unix.Bind(fd, src); err != nil {
		return os.NewSyscallError("bind", err)
	}
	if err := linux.SetTCPRepairQueue(fd, linux.TCPRecvQueue); err != nil {
		return err
	}
	if err := linux.SetTCPQueueSeq(fd, inSeq); err != nil {
		return err
	}
	if err := linux.SetTCPRepairQueue(fd, linux.TCPSendQueue); err != nil {
		return err
	}
	if err := linux.SetTCPQueueSeq(fd, outSeq); err != nil {
		return err
	}
	if err := unix.Connect(fd, dst); err != nil {
		return os.NewSyscallError("connect", err)
	}
	return nil
}

// Closed leaves fd, a new TCP socket, closed both ways, as CRIU 4.2's
// --tcp-close restores a connection (criu restore --tcp-close): in
// state CLOSE, it reads end of file, polls POLLHUP and writes fail with
// EPIPE.
func Closed(fd int) error {
	// A socket in state CLOSE is shut down all the same (ENOTCONN).
	if err := unix.Shutdown(fd, unix.SHUT_RDWR); err != nil && !errors.Is(err, unix.ENOTCONN) {
		return os.NewSyscallError("shutdown", err)
	}
	return nil
}

// sendQueue puts b into queue of fd in repair mode, in chunks halved
// while the kernel refuses them (it allocates one linear buffer per
// send on the receive queue).
func sendQueue(fd, queue int, b []byte) error {
	if len(b) == 0 {
		return nil
	}
	if err := linux.SetTCPRepairQueue(fd, queue); err != nil {
		return err
	}
	chunk := len(b)
	for len(b) > 0 {
		n, err := unix.SendmsgN(fd, b[:min(chunk, len(b))], nil, nil, 0)
		if err != nil || n <= 0 {
			if chunk > 1024 {
				chunk /= 2
				continue
			}
			return os.NewSyscallError("send", err)
		}
		b = b[n:]
	}
	return nil
}

// write sends b on fd as an ordinary write (without blocking, whatever
// fd's file status flags: the task's), waiting at most 5s for room in
// the send buffer.
func write(fd int, b []byte) error {
	for len(b) > 0 {
		n, err := unix.SendmsgN(fd, b, nil, nil, unix.MSG_NOSIGNAL|unix.MSG_DONTWAIT)
		if errors.Is(err, unix.EAGAIN) {
			p := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLOUT}}
			if k, err := linux.Poll(p, 5000); err != nil {
				return err
			} else if k == 0 {
				return fmt.Errorf("send buffer full for 5s with %d bytes to write", len(b))
			}
			continue
		}
		if err != nil {
			return os.NewSyscallError("send", err)
		}
		b = b[n:]
	}
	return nil
}
