package sockdiag

import (
	"encoding/binary"
	"fmt"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// sockDiagByFamily is SOCK_DIAG_BY_FAMILY (include/uapi/linux/sock_diag.h).
const sockDiagByFamily = 20

// Dump sends one SOCK_DIAG_BY_FAMILY dump request (req is the request
// body after the netlink header) on a new NETLINK_SOCK_DIAG socket and
// calls each with every reply message's body until the dump is done. A
// family or protocol the kernel has no diag module for fails with
// ENOENT (errors.Is).
func Dump(req []byte, each func([]byte) error) error {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_SOCK_DIAG)
	if err != nil {
		return os.NewSyscallError("socket(NETLINK_SOCK_DIAG)", err)
	}
	defer unix.Close(fd)
	le := binary.LittleEndian
	msg := make([]byte, unix.NLMSG_HDRLEN+len(req))
	le.PutUint32(msg[0:], uint32(len(msg)))
	le.PutUint16(msg[4:], sockDiagByFamily)
	le.PutUint16(msg[6:], unix.NLM_F_REQUEST|unix.NLM_F_DUMP)
	le.PutUint32(msg[8:], 1) // seq
	copy(msg[unix.NLMSG_HDRLEN:], req)
	if err := unix.Sendto(fd, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return os.NewSyscallError("sendto(sock_diag)", err)
	}
	buf := make([]byte, 1<<16)
	for {
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if err != nil {
			return os.NewSyscallError("recvfrom(sock_diag)", err)
		}
		msgs, err := syscall.ParseNetlinkMessage(buf[:n])
		if err != nil {
			return fmt.Errorf("parse sock_diag reply: %w", err)
		}
		for _, m := range msgs {
			switch m.Header.Type {
			case unix.NLMSG_DONE:
				// A family or protocol with no diag handler ends the
				// dump at once, its error in the DONE message
				// (-ENOENT for raw sockets without raw_diag).
				if len(m.Data) >= 4 {
					if e := int32(le.Uint32(m.Data)); e < 0 {
						return os.NewSyscallError("sock_diag", unix.Errno(-e))
					}
				}
				return nil
			case unix.NLMSG_ERROR:
				if len(m.Data) >= 4 {
					if e := int32(le.Uint32(m.Data)); e != 0 {
						return os.NewSyscallError("sock_diag", unix.Errno(-e))
					}
				}
				continue
			}
			if err := each(m.Data); err != nil {
				return err
			}
		}
	}
}

// Attrs calls each with the type and value of every netlink attribute
// of b (the part of a reply after its fixed header), in order. A length
// that does not fit is an error.
func Attrs(b []byte, each func(typ uint16, v []byte)) error {
	le := binary.LittleEndian
	for a := b; len(a) >= unix.SizeofRtAttr; {
		l := int(le.Uint16(a))
		if l < unix.SizeofRtAttr || l > len(a) {
			return fmt.Errorf("sock_diag: bad attribute length %d", l)
		}
		each(le.Uint16(a[2:]), a[unix.SizeofRtAttr:l])
		al := (l + unix.RTA_ALIGNTO - 1) &^ (unix.RTA_ALIGNTO - 1)
		if al >= len(a) {
			break
		}
		a = a[al:]
	}
	return nil
}
