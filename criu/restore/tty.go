package restore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"

	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"

	"github.com/criugo/criu/criu/image"
	"github.com/criugo/criu/proto/images"
)

// readTTYInfo reads tty-info.img, which exists only when the tree held
// terminals, by info id.
func readTTYInfo(ctx context.Context, s image.Store) (map[uint32]*images.TtyInfoEntry, error) {
	ms, err := image.ReadAll(ctx, s, "tty-info.img", func() proto.Message { return &images.TtyInfoEntry{} })
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	out := map[uint32]*images.TtyInfoEntry{}
	for _, m := range ms {
		e := m.(*images.TtyInfoEntry)
		out[e.GetId()] = e
	}
	return out, nil
}

// ptyFile is one open file of a pty end.
type ptyFile struct {
	id     uint32
	f      *images.TtyFileEntry
	info   *images.TtyInfoEntry
	master bool
}

// openPtys opens, in the restorer, the ptys of the files ids: each
// master from /dev/ptmx with its dumped index (devpts hands out the
// lowest free index, so lower ones are held open meanwhile), then its
// slaves from /dev/pts/N, with termios, window size, exclusive, packet
// mode and the slave lock set back. Buffered bytes are not restored
// (dump refuses a pty holding some).
func (t *treeRestorer) openPtys(ids []uint32) error {
	var files []ptyFile
	for _, id := range ids {
		f := t.ti.files[id].GetTty()
		info := t.ti.ttyInfo[f.GetTtyInfoId()]
		if info == nil {
			return fmt.Errorf("%w: tty file %d: no tty info %d", ErrBadImage, id, f.GetTtyInfoId())
		}
		if info.GetType() != images.TtyType_PTY || info.GetPty() == nil {
			return fmt.Errorf("%w: tty file %d of type %v", ErrUnsupported, id, info.GetType())
		}
		files = append(files, ptyFile{id: id, f: f, info: info, master: info.GetId()%2 == 1})
	}
	// Masters first, by index; then slaves.
	sort.Slice(files, func(i, j int) bool {
		a, b := files[i], files[j]
		if a.master != b.master {
			return a.master
		}
		return a.info.GetPty().GetIndex() < b.info.GetPty().GetIndex()
	})
	masters := map[uint32]int{} // master fd by index
	var slaves []int
	for _, p := range files {
		index := p.info.GetPty().GetIndex()
		var fd int
		var err error
		if p.master {
			if _, ok := masters[index]; ok {
				return fmt.Errorf("%w: pty %d has two master files", ErrBadImage, index)
			}
			if fd, err = openPtmx(index, int(p.f.GetFlags()&unix.O_ACCMODE)); err != nil {
				return fmt.Errorf("pty %d: %w", index, err)
			}
			t.masterFds = append(t.masterFds, fd)
			masters[index] = fd
			if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
				return fmt.Errorf("pty %d: %w", index, os.NewSyscallError("ioctl(TIOCSPTLCK)", err))
			}
			if p.info.GetPacketMode() {
				if err := unix.IoctlSetPointerInt(fd, unix.TIOCPKT, 1); err != nil {
					return fmt.Errorf("pty %d: %w", index, os.NewSyscallError("ioctl(TIOCPKT)", err))
				}
			}
		} else {
			if _, ok := masters[index]; !ok {
				return fmt.Errorf("%w: /dev/pts/%d without its master", ErrUnsupported, index)
			}
			path := fmt.Sprintf("/dev/pts/%d", index)
			flags := int(p.f.GetFlags()&unix.O_ACCMODE) | unix.O_NOCTTY | unix.O_CLOEXEC
			if fd, err = unix.Open(path, flags, 0); err != nil {
				return fmt.Errorf("pty %d: %w", index, os.NewSyscallError("open "+path, err))
			}
			t.masterFds = append(t.masterFds, fd)
			slaves = append(slaves, fd)
		}
		if err := setTTY(fd, p.info); err != nil {
			return fmt.Errorf("pty %d: %w", index, err)
		}
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFL, int(p.f.GetFlags()&^unix.O_ACCMODE)); err != nil {
			return os.NewSyscallError("fcntl(F_SETFL)", err)
		}
		t.masters[p.id] = fd
	}
	// Exclusive mode and the slave lock last: they refuse new opens.
	for _, p := range files {
		fd := t.masters[p.id]
		if p.info.GetExclusive() {
			if err := unix.IoctlSetInt(fd, unix.TIOCEXCL, 0); err != nil {
				return os.NewSyscallError("ioctl(TIOCEXCL)", err)
			}
		}
		if p.master && p.info.GetLocked() {
			if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 1); err != nil {
				return os.NewSyscallError("ioctl(TIOCSPTLCK)", err)
			}
		}
	}
	return nil
}

// openPtmx opens a pty master with the given index.
func openPtmx(index uint32, acc int) (int, error) {
	var held []int
	defer func() {
		for _, fd := range held {
			unix.Close(fd)
		}
	}()
	for {
		fd, err := unix.Open("/dev/ptmx", acc|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
		if err != nil {
			return -1, os.NewSyscallError("open /dev/ptmx", err)
		}
		n, err := unix.IoctlGetUint32(fd, unix.TIOCGPTN)
		if err != nil {
			unix.Close(fd)
			return -1, os.NewSyscallError("ioctl(TIOCGPTN)", err)
		}
		switch {
		case n == index:
			return fd, nil
		case n > index:
			unix.Close(fd)
			return -1, fmt.Errorf("%w: /dev/pts/%d is taken", ErrUnsupported, index)
		}
		held = append(held, fd)
	}
}

// setTTY sets the termios and window size of info on fd.
func setTTY(fd int, info *images.TtyInfoEntry) error {
	if te := info.GetTermios(); te != nil {
		tio := unix.Termios{
			Iflag: te.GetCIflag(), Oflag: te.GetCOflag(), Cflag: te.GetCCflag(), Lflag: te.GetCLflag(),
			Line: uint8(te.GetCLine()), Ispeed: te.GetCIspeed(), Ospeed: te.GetCOspeed(),
		}
		for i, c := range te.GetCCc() {
			if i < len(tio.Cc) {
				tio.Cc[i] = uint8(c)
			}
		}
		if err := unix.IoctlSetTermios(fd, unix.TCSETS, &tio); err != nil {
			return os.NewSyscallError("ioctl(TCSETS)", err)
		}
	}
	if ws := info.GetWinsize(); ws != nil {
		w := unix.Winsize{Row: uint16(ws.GetWsRow()), Col: uint16(ws.GetWsCol()), Xpixel: uint16(ws.GetWsXpixel()), Ypixel: uint16(ws.GetWsYpixel())}
		if err := unix.IoctlSetWinsize(fd, unix.TIOCSWINSZ, &w); err != nil {
			return os.NewSyscallError("ioctl(TIOCSWINSZ)", err)
		}
	}
	return nil
}
