package sockets

import (
	"errors"
	"fmt"
	"slices"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/sockets/raw"
	"github.com/criugo/criu/criu/sockets/unsaved"
)

// rawDiag returns what raw sock_diag (or, without it, /proc/net/raw)
// tells of the raw socket ino of family; the raw sockets of a family are
// listed once per dump, in the tree's network namespace.
func (s *Set) rawDiag(family int, ino uint32) (*raw.Diag, error) {
	m, ok := s.rawSks[family]
	if !ok {
		err := s.t.NetDo(func() error {
			var err error
			if m, err = raw.List(family); errors.Is(err, unix.ENOENT) {
				// No raw_diag (CONFIG_INET_RAW_DIAG): the same but
				// the shutdown from /proc/net/raw.
				s.rawNoDiag = true
				m, err = raw.ListProc(family)
			}
			return err
		})
		if err != nil {
			return nil, err
		}
		if s.rawSks == nil {
			s.rawSks = map[int]map[uint32]*raw.Diag{}
		}
		s.rawSks[family] = m
	}
	d := m[ino]
	if d == nil {
		return nil, fmt.Errorf("raw socket:[%d] is not in sock_diag's list of the tree's network namespace", ino)
	}
	return d, nil
}

// rawSockaddr is a raw socket's address (4 or 16 bytes) with no port.
func rawSockaddr(b []byte) unix.Sockaddr {
	if len(b) == 16 {
		sa := &unix.SockaddrInet6{}
		copy(sa.Addr[:], b)
		return sa
	}
	sa := &unix.SockaddrInet4{}
	copy(sa.Addr[:], b)
	return sa
}

// rawUnsaved are the option lists a raw socket is checked against:
// those of lists but IP_NODEFRAG, which a raw socket's entry holds, and
// IPV6_CHECKSUM.
func rawUnsaved(lists [][]unsaved.Opt) [][]unsaved.Opt {
	out := make([][]unsaved.Opt, 0, len(lists)+1)
	for _, l := range lists {
		out = append(out, slices.DeleteFunc(slices.Clone(l), unsaved.IsNodefrag))
	}
	return append(out, unsaved.Raw)
}

// rawShutdown tells how the raw socket ino (open at fd) of family was
// shut down: from raw sock_diag, else from poll, which shows a read
// shutdown and both, not a write shutdown alone (which changes nothing
// a raw socket does but what sock_diag shows).
func (s *Set) rawShutdown(fd, family int, ino uint32) (uint8, error) {
	if !s.rawNoDiag {
		return s.rawSks[family][ino].Shutdown, nil
	}
	return pollShutdown(fd, false)
}
