package sockets

import (
	"context"
	"fmt"

	"github.com/criugo/criu/criu/errdefs"
	"github.com/criugo/criu/criu/image"
	"github.com/criugo/criu/criu/sockets/skqueue"
)

// InFlight hands record each descriptor passed in a message queued on a
// UNIX socket of the tree (SCM_RIGHTS), as this process's copy of it
// (from the peek), with the inode of the socket it is queued on. record
// saves the file like an fd of the tree (a socket through Add, whose own
// queue is handed on in turn, so a chain of sockets passed in sockets is
// followed to its end) and returns its file id, which the message's scm
// entry names (CRIU's sk_packet_entry scm, rights). It is called once
// every fd of the tree is recorded, so that a file that a task also holds
// gets that fd's id, and before Check. The copies stay open until
// Release: the dumper tells the same open file by comparing fds (kcmp).
func (s *Set) InFlight(record func(fd int, via uint32) (uint32, error)) error {
	for i := 0; i < len(s.unixSks); i++ {
		sk := s.unixSks[i]
		for j := range sk.queue {
			p := &sk.queue[j]
			for k := len(p.Rights); k < len(p.Fds); k++ {
				s.via = sk.d.Ino
				id, err := record(p.Fds[k], sk.d.Ino)
				s.via = 0
				if err != nil {
					return sk.fail(fmt.Errorf("descriptor %d of its queued message %d (SCM_RIGHTS): %w", k, j, err))
				}
				p.Rights = append(p.Rights, id)
			}
		}
	}
	return nil
}

// closeInFlight closes the copies of the descriptors in flight.
func (s *Set) closeInFlight() {
	for _, sk := range s.unixSks {
		skqueue.ClosePackets(sk.queue)
	}
}

// fail names sk in err: its first fd in the tree, or the queue it is
// passed in.
func (sk *unixSk) fail(err error) error {
	if sk.first.via != 0 {
		return fmt.Errorf("socket:[%d], in flight in a message queued on socket:[%d]: %w", sk.d.Ino, sk.first.via, err)
	}
	return fmt.Errorf("dump %d: %w", sk.first.pid, &errdefs.FdError{Fd: sk.first.fd, Type: fmt.Sprintf("socket:[%d]", sk.d.Ino), Err: err})
}

// Write writes the established TCP connections' images and
// skqueue.Image (when a message is queued on a UNIX socket of the tree),
// once InFlight has recorded the descriptors in flight. The sockets'
// entries go to files.img with the fds (Add, Check).
func (s *Set) Write(ctx context.Context, store image.Store) error {
	if err := s.writeTCP(ctx, store); err != nil {
		return err
	}
	var pkts []skqueue.Packet
	for _, sk := range s.unixSks {
		pkts = append(pkts, sk.queue...)
	}
	return skqueue.Write(ctx, store, pkts)
}
