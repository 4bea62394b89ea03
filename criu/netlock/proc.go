package netlock

import (
	"bufio"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strconv"
	"strings"
)

// ReadConns is the TCP connections, in the network namespace of task
// pid, of the sockets whose inodes are given: every state with a peer
// (not LISTEN, CLOSE or TIME_WAIT), from /proc/PID/net/tcp and tcp6.
// The inodes the tables list (in any state) are deleted from inodes:
// what is left is not in them (not TCP, or closed: the kernel unhashes
// a closed socket).
//
// A stopgap until package sockets lists the tree's connections itself
// (sockets.Set.Established, with TCP repair).
func ReadConns(pid int, inodes map[uint64]bool) ([]Conn, error) {
	var conns []Conn
	seen := map[uint64]bool{}
	for _, name := range []string{"tcp", "tcp6"} {
		f, err := os.Open(fmt.Sprintf("/proc/%d/net/%s", pid, name))
		if err != nil {
			if name == "tcp6" && os.IsNotExist(err) {
				continue // no IPv6
			}
			return nil, err
		}
		c, err := parseProcNetTCP(f, inodes, seen)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("/proc/%d/net/%s: %w", pid, name, err)
		}
		conns = append(conns, c...)
	}
	for ino := range seen {
		delete(inodes, ino)
	}
	return conns, nil
}

// TCP states (include/net/tcp_states.h) that have no peer to lock.
const (
	tcpTimeWait = 6
	tcpClose    = 7
	tcpListen   = 10
)

// ParseProcNetTCP parses /proc/net/tcp or tcp6 (the header line, then a
// line per socket: sl, local and remote ADDR:PORT in hex, the address
// as 32-bit words in host order, the state in hex, ..., the inode as
// the 10th field) and keeps the connections of inodes.
func ParseProcNetTCP(r io.Reader, inodes map[uint64]bool) ([]Conn, error) {
	return parseProcNetTCP(r, inodes, map[uint64]bool{})
}

// parseProcNetTCP is ParseProcNetTCP that adds to seen each inode of
// inodes the table lists, in any state.
func parseProcNetTCP(r io.Reader, inodes, seen map[uint64]bool) ([]Conn, error) {
	sc := bufio.NewScanner(r)
	var conns []Conn
	for n := 0; sc.Scan(); n++ {
		f := strings.Fields(sc.Text())
		if n == 0 {
			continue
		}
		if len(f) < 10 {
			return nil, fmt.Errorf("line %d: %d fields", n+1, len(f))
		}
		ino, err := strconv.ParseUint(f[9], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("line %d: inode %q", n+1, f[9])
		}
		st, err := strconv.ParseUint(f[3], 16, 8)
		if err != nil {
			return nil, fmt.Errorf("line %d: state %q", n+1, f[3])
		}
		if inodes[ino] {
			seen[ino] = true
		}
		if !inodes[ino] || st == tcpListen || st == tcpClose || st == tcpTimeWait {
			continue
		}
		l, err := parseHexAddrPort(f[1])
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n+1, err)
		}
		rm, err := parseHexAddrPort(f[2])
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n+1, err)
		}
		conns = append(conns, Conn{Local: l, Remote: rm})
	}
	return conns, sc.Err()
}

func parseHexAddrPort(s string) (netip.AddrPort, error) {
	a, p, ok := strings.Cut(s, ":")
	b, err := hex.DecodeString(a)
	if !ok || err != nil || len(b) != 4 && len(b) != 16 || len(p) != 4 {
		return netip.AddrPort{}, fmt.Errorf("address %q", s)
	}
	port, err := strconv.ParseUint(p, 16, 16)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("port %q", s)
	}
	// Each 32-bit word was printed as a number in host order.
	for i := 0; i < len(b); i += 4 {
		binary.BigEndian.PutUint32(b[i:], binary.NativeEndian.Uint32(b[i:]))
	}
	addr, _ := netip.AddrFromSlice(b)
	return netip.AddrPortFrom(addr, uint16(port)), nil
}

// TreeConns is the TCP connections of the sockets that tasks pids hold
// (their fds that are socket:[INO]), read from /proc/PID/net/tcp{,6} of
// the first: the tasks share its network namespace. An fd closed
// meanwhile is not the tasks' (they are frozen). A closed socket that
// had a connection (state CLOSE, a peer address: ClosedConn) is one
// too, as CRIU 4.2 locks it: its restore makes it again through TCP
// repair, with packets of its own that the lock must keep from a
// reset.
func TreeConns(pids []int) ([]Conn, error) {
	inodes := map[uint64]bool{}
	where := map[uint64][2]int{} // an fd of each inode: pid, fd
	for _, pid := range pids {
		dir := fmt.Sprintf("/proc/%d/fd", pid)
		ents, err := os.ReadDir(dir)
		if err != nil {
			return nil, err
		}
		for _, e := range ents {
			l, err := os.Readlink(dir + "/" + e.Name())
			if err != nil {
				continue
			}
			if s, ok := strings.CutPrefix(l, "socket:["); ok {
				ino, err1 := strconv.ParseUint(strings.TrimSuffix(s, "]"), 10, 64)
				fd, err2 := strconv.Atoi(e.Name())
				if err1 == nil && err2 == nil && !inodes[ino] {
					inodes[ino] = true
					where[ino] = [2]int{pid, fd}
				}
			}
		}
	}
	if len(inodes) == 0 || len(pids) == 0 {
		return nil, nil
	}
	conns, err := ReadConns(pids[0], inodes)
	if err != nil {
		return nil, err
	}
	for ino := range inodes { // not in the tables
		c, ok, err := ClosedConn(where[ino][0], where[ino][1])
		if err != nil {
			return nil, err
		}
		if ok {
			conns = append(conns, c)
		}
	}
	return conns, nil
}
