// Package soccr saves and restores the state of a connected TCP socket
// with the kernel's repair mode (TCP_REPAIR), as CRIU's libsoccr does:
// what the connection has agreed and where it stands, and the bytes in
// flight both ways. It knows nothing of images beyond tcp_stream_entry,
// nor of the tree; package sockets calls it for each connection.
//
// # Save (the socket in repair mode: nothing is sent, nothing is acked)
//
//	TCP_INFO          state, TCPI_OPT_* (timestamps, SACK, window
//	                  scale), both window scales
//	SIOCINQ           inq_len: bytes received and not read
//	SIOCOUTQ          outq_len: bytes written and not acknowledged
//	SIOCOUTQNSD       unsq_len: of those, never sent
//	TCP_MAXSEG        mss_clamp
//	TCP_TIMESTAMP     timestamp (with TCPI_OPT_TIMESTAMPS)
//	TCP_REPAIR_WINDOW snd_wl1, snd_wnd, max_window, rcv_wnd, rcv_wup
//	TCP_REPAIR_QUEUE  each queue in turn: TCP_QUEUE_SEQ gives inq_seq
//	                  (rcv_nxt) and outq_seq (write_seq), and
//	                  recv(MSG_PEEK) its bytes
//
// # Restore (a new socket, its options set, in repair mode)
//
//	bind the local address (repair mode forces the reuse of the port the
//	listener holds), TCP_QUEUE_SEQ of each queue to its first byte
//	(inq_seq - inq_len, outq_seq - outq_len), connect (no SYN in repair
//	mode), TCP_REPAIR_OPTIONS (mss, window scales, SACK, timestamps),
//	TCP_TIMESTAMP, the receive queue (sent on TCP_RECV_QUEUE), the sent
//	part of the send queue (on TCP_SEND_QUEUE: in flight, to be
//	retransmitted until acked), TCP_REPAIR_WINDOW. The socket stays in
//	repair mode; ResumeRestored ends it for every connection of the
//	restore, then writes each one's unsent part as the task would have:
//	by then both ends of a connection inside the tree exist, where
//	libsoccr writes it at once and counts on the network lock.
//
// The image: ImageName, ReadImage, WriteImage (tcp-stream-INO.img, one
// tcp_stream_entry then inq_len then outq_len raw bytes, as CRIU).
//
// # Half-closed connections (as libsoccr)
//
// FIN_WAIT1, FIN_WAIT2, CLOSING, LAST_ACK (our FIN sent) and
// CLOSE_WAIT, CLOSING, LAST_ACK (the peer's FIN received) are saved
// with the lengths of the data (outq_len and unsq_len without our FIN,
// outq_seq and inq_seq after the FINs) and the state in the
// inet_sk_entry, as CRIU. Restore sets the sequence numbers before the
// FINs, restores the queues (the unsent bytes of a connection that sent
// its FIN are written then, out of repair mode for the time of the
// write, before the FIN), then puts the FINs back in the order they
// came: ours with shutdown(SHUT_WR) in repair mode (in FIN_WAIT2, acked,
// with the send queue chosen so that nothing is sent; else sent and
// held by the network lock), the peer's with a FIN segment from the peer
// sent on a raw socket (marked Mark, which the network lock lets
// through), and in FIN_WAIT2 the peer's ack of ours. It checks that the
// socket is in the saved state. A connection closed (CLOSE: both FINs,
// or a reset) is saved with its receive queue and an empty send queue
// (acked, or dropped by the reset), and made as libsoccr makes it: as
// the end that closed last, the peer's FIN, ours (acked), then the
// peer's ack of it (LAST_ACK to CLOSE); what its task can see of it is
// the same either way (its unread bytes, then end of file; writes fail
// with EPIPE; its addresses), but the sequence numbers are one FIN
// apart for a reset one. SYN_RECV and TIME_WAIT are in no task's fd
// table (ErrState).
//
// # Connecting (SYN_SENT)
//
// Saved with outq_seq after the SYN (its first sequence number, the
// ISN, plus one); its send queue must be empty (ErrSynData: bytes sent
// with the SYN, TCP Fast Open). Restore binds the new socket in repair
// mode and sets its ISN; ResumeRestored connects it (without waiting,
// whatever the task's flags): the SYN goes out once every socket of
// the tree exists, the same SYN as before, so that the peer's SYN-ACK
// to the first one, if any, still fits. The handshake's options are
// agreed again, and the SYN's retransmission count starts from zero,
// as with CRIU: a connect that would have timed out does so later.
package soccr
