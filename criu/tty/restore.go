package tty

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"

	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"

	"github.com/criugo/criu/criu/errdefs"
	"github.com/criugo/criu/criu/image"
	"github.com/criugo/criu/criu/tty/ptybuf"
	"github.com/criugo/criu/criu/tty/termios"
	"github.com/criugo/criu/proto/images"
)

// ReadInfo reads tty-info.img, which exists only when the tree held
// terminals, by info id.
func ReadInfo(ctx context.Context, s image.Store) (map[uint32]*images.TtyInfoEntry, error) {
	ms, err := image.ReadAll(ctx, s, InfoImage, func() proto.Message { return &images.TtyInfoEntry{} })
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

// Restorer is what the restore of terminals needs of the tree restorer.
type Restorer interface {
	// Leads reports that sid is a live task of the images that leads
	// its own session.
	Leads(sid int) bool
	// InGroup reports that a task of the images (or a helper) of
	// session sid is in the process group pgrp.
	InGroup(sid, pgrp int) bool
	// InheritedFd is criu's fd that --inherit-fd gives for key, and
	// records that the key was used.
	InheritedFd(key string) (int, bool)
	// ReopenInherited opens criu's inherited fd anew with the access
	// mode and status flags of a dumped file.
	ReopenInherited(fd int, flags uint32) (int, error)
	// FileUser names, for errors, the first task and fd that have file
	// id: "task PID fd N has".
	FileUser(id uint32) string
	// Devpts is where criu opens the tree's ptys: the devpts
	// directory of the slaves and the ptmx of its masters (/dev/pts and
	// /dev/ptmx, or a container's devpts instance, made anew by its
	// mount namespace, through /proc/ROOT/root).
	Devpts() (pts, ptmx string)
	// OrphanMaster, if not nil, gives the restore's client fd, the new
	// master of a pty whose master the images do not hold (dumped with
	// Options.OrphanPtsMaster; CRIU's orphan_pts_master: criu swrk sends
	// it with the orphan-pts-master notification). Without it such a pty
	// fails the restore.
	OrphanMaster() func(fd int) error
	// PtyMaster is the master of pty index that the mounts opened, for
	// a bind of its slave (a container's /dev/console), held by the
	// restore; false if none.
	PtyMaster(index uint32) (int, bool)
	// Hold keeps the restorer's fd open until the restore ends.
	Hold(fd int)
	// Share makes the restorer's fd the file description that the
	// tasks get for file id.
	Share(id uint32, fd int)
	// RestorerPidfd opens a pidfd of the restorer in task r, which
	// the caller closes (package handoff: whatever r's namespaces).
	RestorerPidfd(r Remote) (uint64, error)
	// Task is the task of the images with pid, once created.
	Task(pid int) Remote
}

// Terminals are the terminals a restore opened in the restorer, before
// the tree is created, and the controlling terminals the session leaders
// take (SetCtty, SetForeground).
type Terminals struct {
	tree  Restorer
	log   zerolog.Logger
	files map[uint32]*images.FileEntry
	info  map[uint32]*images.TtyInfoEntry
	// fds: the restorer's fd of each terminal file, by file id.
	fds map[uint32]int
	// cttys: the controlling terminals of the tree's sessions, by
	// session.
	cttys map[int]*ctty
	// extTTYs: the restorer's fd of each external terminal, by tty
	// info id (restore_ext.go).
	extTTYs map[uint32]int
	// aliases: the /dev/tty files not yet opened, by the session
	// whose leader opens them (alias.go).
	aliases map[int][]uint32
	// simple: the restorer's fd of the console and of a virtual
	// terminal, by tty info id (simple.go).
	simple map[uint32]int
}

// ctty is a terminal that is the controlling terminal of a session of
// the tree: a pty's slave or an external terminal (restore_ext.go), name
// for errors; fd is the restorer's open slave, pgrp the foreground group.
type ctty struct {
	name string
	fd   int
	pgrp int
	// steal: an external terminal is taken even from the session
	// whose controlling terminal it is now (criu's own, when criu runs
	// in the terminal it hands over), as CRIU takes it.
	steal bool
}

// Open opens, in the restorer, every terminal the tasks' fds lead to
// (fdinfo: the fd tables of the images; files: files.img by id; info:
// ReadInfo's), before the tree is created: a session leader takes its
// controlling terminal right after its setsid (SetCtty), so that the
// tasks it forks next inherit it, as they had it. Each fd opened is
// given to tree.Hold, each terminal file's to tree.Share. The
// Terminals it returns are never nil.
func Open(ctx context.Context, s image.Store, files map[uint32]*images.FileEntry, fdinfo map[uint32][]*images.FdinfoEntry,
	info map[uint32]*images.TtyInfoEntry, tree Restorer, log zerolog.Logger) (*Terminals, error) {
	t := &Terminals{tree: tree, log: log, files: files, info: info, fds: map[uint32]int{}}
	seen := map[uint32]bool{}
	var ids []uint32
	for _, fdis := range fdinfo {
		for _, fi := range fdis {
			id := fi.GetId()
			if f := files[id]; f != nil && f.GetType() == images.FdTypes_TTY && !seen[id] {
				seen[id] = true
				ids = append(ids, id)
			}
		}
	}
	data, err := readTTYData(ctx, s)
	if err != nil {
		return t, err
	}
	if len(ids) == 0 {
		for _, info := range t.info {
			if info.GetSid() != 0 {
				return t, fmt.Errorf("%w: tty %d is the controlling terminal of session %d, but no task has it open", errdefs.ErrBadImage, info.GetId(), info.GetSid())
			}
		}
		if len(data) > 0 {
			return t, fmt.Errorf("%w: tty-data.img holds bytes for tty %d, which no task has open", errdefs.ErrBadImage, data[0].GetTtyId())
		}
		return t, nil
	}
	// External terminals first: a session's controlling terminal may
	// be one (openCttys).
	ids, err = t.openExtTTYs(ids)
	if err != nil {
		return t, err
	}
	if ids, err = t.takeAliases(ids); err != nil {
		return t, err
	}
	if ids, err = t.openSimple(ids); err != nil {
		return t, err
	}
	if err := t.openPtys(ids); err != nil {
		return t, err
	}
	return t, t.refillPtys(data)
}

// hold keeps fd until the restore ends.
func (t *Terminals) hold(fd int) { t.tree.Hold(fd) }

// share records fd as the restorer's description of file id.
func (t *Terminals) share(id uint32, fd int) {
	t.fds[id] = fd
	t.tree.Share(id, fd)
}

// maxTTYData caps the bytes of one tty-data.img entry: n_tty's buffer
// holds 4096.
const maxTTYData = 4096

// readTTYData reads tty-data.img, which exists only when bytes waited in
// a pty's buffer.
func readTTYData(ctx context.Context, s image.Store) ([]*images.TtyDataEntry, error) {
	ms, err := image.ReadAll(ctx, s, DataImage, func() proto.Message { return &images.TtyDataEntry{} })
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	out := make([]*images.TtyDataEntry, len(ms))
	for i, m := range ms {
		out[i] = m.(*images.TtyDataEntry)
		if len(out[i].GetData()) > maxTTYData {
			return nil, fmt.Errorf("%w: tty-data.img: %d bytes for tty file %d", errdefs.ErrBadImage, len(out[i].GetData()), out[i].GetTtyId())
		}
	}
	return out, nil
}

// refillPtys puts the bytes that waited in a pty's buffers back, with
// TIOCSTI on the restorer's fd of that end, which hands each byte to its
// line discipline (dump put them back the same way). A master's is
// always raw: what its slave's writer wrote comes back as it was. A
// slave's unread input comes back as it was only in a mode that stores
// input as it comes (ReplayableInput), or in canonical mode as lines,
// under termios.CanonReplay's mode, which dump checked; CRIU's
// images may hold any (it writes them into the master, where the slave's
// line discipline processes them again): those are refused.
func (t *Terminals) refillPtys(data []*images.TtyDataEntry) error {
	done := map[uint32]bool{}
	for _, e := range data {
		// tty_id is the tty-info id of the end the bytes wait on.
		info := t.info[e.GetTtyId()]
		if info == nil || info.GetPty() == nil {
			return fmt.Errorf("%w: tty-data.img: tty %d is no pty in the images", errdefs.ErrBadImage, e.GetTtyId())
		}
		index := info.GetPty().GetIndex()
		want := len(e.GetData())
		var tio, canon *unix.Termios // a slave's mode, and its lines' (canonical)
		if info.GetId()%2 == 0 {
			// The slave's own unread input: put back as it was only in
			// a mode that stores it as it comes, or as lines without
			// echo (dump checks the same).
			var err error
			if te := info.GetTermios(); te == nil {
				err = fmt.Errorf("no termios")
			} else if t := termios.FromEntry(te); t.Lflag&unix.ICANON != 0 {
				lck := termios.FromEntry(info.GetTermiosLocked())
				tio = &t
				canon, err = termios.CanonReplay(tio, &lck, e.GetData())
				lines, _ := termios.CanonPending(tio, e.GetData())
				want = len(lines) // TIOCINQ counts no line being typed
			} else {
				err = termios.ReplayableInput(&t, e.GetData())
			}
			if err != nil {
				return fmt.Errorf("%w: tty-data.img holds %d bytes of unread input of /dev/pts/%d, which cannot be put back as they were: %v", errdefs.ErrUnsupported, len(e.GetData()), index, err)
			}
		}
		if done[info.GetId()] {
			return fmt.Errorf("%w: tty-data.img: tty %d twice", errdefs.ErrBadImage, info.GetId())
		}
		done[info.GetId()] = true
		fd := -1
		for id, f := range t.files {
			if m, ok := t.fds[id]; ok && f.GetTty().GetTtyInfoId() == info.GetId() {
				fd = m
				break
			}
		}
		if fd < 0 {
			return fmt.Errorf("%w: tty-data.img: tty %d of pty %d is not open", errdefs.ErrBadImage, info.GetId(), index)
		}
		if canon != nil {
			if err := unix.IoctlSetTermios(fd, unix.TCSETS, canon); err != nil {
				return fmt.Errorf("pty %d: %w", index, os.NewSyscallError("ioctl(TCSETS)", err))
			}
		}
		if err := ptybuf.PutBack(fd, e.GetData(), nil); err != nil {
			return fmt.Errorf("pty %d: refill its buffer: %w", index, err)
		}
		if canon != nil {
			if err := unix.IoctlSetTermios(fd, unix.TCSETS, tio); err != nil {
				return fmt.Errorf("pty %d: %w", index, os.NewSyscallError("ioctl(TCSETS)", err))
			}
		}
		if n, err := unix.IoctlGetInt(fd, unix.TIOCINQ); err != nil || n != want {
			return fmt.Errorf("pty %d: tty %d's buffer holds %d bytes after the refill, want %d (%v)", index, info.GetId(), n, want, err)
		}
	}
	return nil
}

// ptyFile is one open file of a pty end.
type ptyFile struct {
	id     uint32
	f      *images.TtyFileEntry
	info   *images.TtyInfoEntry
	master bool
}

// openPtys opens, in the restorer, the ptys of the files ids: each
// master from ptmx (Restorer.Devpts) with its dumped index (devpts
// hands out the lowest free index, so lower ones are held open
// meanwhile), then its slaves from the devpts directory's N, with termios (and its locked bits), window
// size, then exclusive, packet mode and the slave lock set back. Buffered
// bytes are put back after (refillPtys). A pty that was a session's
// controlling terminal gets one more slave open here, for the session
// leader (t.cttys).
func (t *Terminals) openPtys(ids []uint32) error {
	var files []ptyFile
	for _, id := range ids {
		f := t.files[id].GetTty()
		info := t.info[f.GetTtyInfoId()]
		if info == nil {
			return fmt.Errorf("%w: tty file %d: no tty info %d", errdefs.ErrBadImage, id, f.GetTtyInfoId())
		}
		if info.GetType() != images.TtyType_PTY || info.GetPty() == nil {
			return fmt.Errorf("%w: tty file %d of type %v", errdefs.ErrUnsupported, id, info.GetType())
		}
		files = append(files, ptyFile{id: id, f: f, info: info, master: info.GetId()%2 == 1})
	}
	// The slaves of closed masters apart (openHung); masters first, by
	// index; then slaves.
	var hung []ptyFile
	live := files[:0]
	for _, p := range files {
		if !p.master && p.info.GetTermios() == nil {
			hung = append(hung, p)
		} else {
			live = append(live, p)
		}
	}
	files = live
	sort.Slice(files, func(i, j int) bool {
		a, b := files[i], files[j]
		if a.master != b.master {
			return a.master
		}
		return a.info.GetPty().GetIndex() < b.info.GetPty().GetIndex()
	})
	masters := map[uint32]int{} // master fd by index
	pts, ptmx := t.tree.Devpts()
	for _, p := range files {
		index := p.info.GetPty().GetIndex()
		var fd int
		var err error
		if p.master {
			if _, ok := masters[index]; ok {
				return fmt.Errorf("%w: pty %d has two master files", errdefs.ErrBadImage, index)
			}
			if fd, err = t.master(ptmx, index, int(p.f.GetFlags()&unix.O_ACCMODE)); err != nil {
				return fmt.Errorf("pty %d: %w", index, err)
			}
			masters[index] = fd
			if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
				return fmt.Errorf("pty %d: %w", index, os.NewSyscallError("ioctl(TIOCSPTLCK)", err))
			}
		} else {
			if _, ok := masters[index]; !ok {
				m, err := t.orphanMaster(ptmx, index)
				if err != nil {
					return err
				}
				masters[index] = m
			}
			path := fmt.Sprintf("%s/%d", pts, index)
			flags := int(p.f.GetFlags()&unix.O_ACCMODE) | unix.O_NOCTTY | unix.O_CLOEXEC
			if fd, err = unix.Open(path, flags, 0); err != nil {
				return fmt.Errorf("pty %d: %w", index, os.NewSyscallError("open "+path, err))
			}
			t.hold(fd)
			if err := slaveOwner(fd, p.info); err != nil {
				return fmt.Errorf("pty %d: %w", index, err)
			}
		}
		if err := termios.Set(fd, p.info); err != nil {
			return fmt.Errorf("pty %d: %w", index, err)
		}
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFL, int(p.f.GetFlags()&^unix.O_ACCMODE)); err != nil {
			return os.NewSyscallError("fcntl(F_SETFL)", err)
		}
		t.share(p.id, fd)
	}
	if err := t.openCttys(pts, masters); err != nil {
		return err
	}
	// Exclusive mode and the slave lock last: they refuse new opens.
	// Packet mode too: turned on, it clears the status changes that
	// setting the slave's termios made (flow control changed), which a
	// read of the master would give first.
	for _, p := range files {
		fd := t.fds[p.id]
		if p.master && p.info.GetPacketMode() {
			if err := unix.IoctlSetPointerInt(fd, unix.TIOCPKT, 1); err != nil {
				return fmt.Errorf("pty %d: %w", p.info.GetPty().GetIndex(), os.NewSyscallError("ioctl(TIOCPKT)", err))
			}
		}
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
	return t.openHung(pts, ptmx, hung)
}

// openHung opens the slaves of the ptys whose master was closed (a
// tty-info entry without termios, as CRIU's and dump's hungPty): the
// files of each from a new master of any free index (their devpts node
// was gone, and the live ptys have theirs by now), which is then
// closed: the kernel hangs them up, as they were.
func (t *Terminals) openHung(pts, ptmx string, files []ptyFile) error {
	byInfo := map[uint32][]ptyFile{}
	var order []uint32
	for _, p := range files {
		id := p.info.GetId()
		if _, ok := byInfo[id]; !ok {
			order = append(order, id)
		}
		byInfo[id] = append(byInfo[id], p)
	}
	for _, id := range order {
		index := t.info[id].GetPty().GetIndex()
		m, err := unix.Open(ptmx, unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("pty %d (hung up): %w", index, os.NewSyscallError("open "+ptmx, err))
		}
		err = t.openHungSlaves(m, pts, byInfo[id])
		unix.Close(m)
		if err != nil {
			return fmt.Errorf("pty %d (hung up): %w", index, err)
		}
		if _, err := unix.IoctlGetTermios(t.fds[byInfo[id][0].id], unix.TCGETS); err != unix.EIO {
			return fmt.Errorf("pty %d: not hung up once its new master is closed (TCGETS: %v)", index, err)
		}
	}
	return nil
}

// openHungSlaves opens the slave files of the new master m, from the
// devpts directory pts (TIOCGPTPEER would leave O_CLOEXEC in their
// flags and O_LARGEFILE out).
func (t *Terminals) openHungSlaves(m int, pts string, files []ptyFile) error {
	if err := unix.IoctlSetPointerInt(m, unix.TIOCSPTLCK, 0); err != nil {
		return os.NewSyscallError("ioctl(TIOCSPTLCK)", err)
	}
	n, err := unix.IoctlGetUint32(m, unix.TIOCGPTN)
	if err != nil {
		return os.NewSyscallError("ioctl(TIOCGPTN)", err)
	}
	path := fmt.Sprintf("%s/%d", pts, n)
	for _, p := range files {
		fd, err := unix.Open(path, int(p.f.GetFlags()&unix.O_ACCMODE)|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
		if err != nil {
			return os.NewSyscallError("open "+path, err)
		}
		t.hold(fd)
		if err := slaveOwner(fd, p.info); err != nil {
			return err
		}
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFL, int(p.f.GetFlags()&^unix.O_ACCMODE)); err != nil {
			return os.NewSyscallError("fcntl(F_SETFL)", err)
		}
		t.share(p.id, fd)
	}
	return nil
}

// master opens the master of pty index from ptmx, held until the
// restore ends, or takes the one the mounts opened for a bind of its
// slave (Restorer.PtyMaster), whose access mode is then O_RDWR.
func (t *Terminals) master(ptmx string, index uint32, acc int) (int, error) {
	if fd, ok := t.tree.PtyMaster(index); ok {
		return fd, nil
	}
	fd, err := openPtmx(ptmx, index, acc)
	if err != nil {
		return -1, err
	}
	t.hold(fd)
	return fd, nil
}

// orphanMaster opens a new master with index for a slave the images
// hold without its master, and gives it to the restore's client
// (Restorer.OrphanMaster), which holds it as the runtime held the
// dumped one (runc: for the container's console socket).
func (t *Terminals) orphanMaster(ptmx string, index uint32) (int, error) {
	fd, err := t.master(ptmx, index, unix.O_RDWR)
	if err != nil {
		return -1, fmt.Errorf("pty %d (its master outside the tree): %w", index, err)
	}
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		return -1, fmt.Errorf("pty %d: %w", index, os.NewSyscallError("ioctl(TIOCSPTLCK)", err))
	}
	give := t.tree.OrphanMaster()
	if give == nil {
		return -1, fmt.Errorf("%w: /dev/pts/%d without its master (dumped with orphan_pts_master, restore without)", errdefs.ErrUnsupported, index)
	}
	if err := give(fd); err != nil {
		return -1, fmt.Errorf("pty %d: give its new master: %w", index, err)
	}
	t.log.Debug().Uint32("index", index).Msg("orphan pty: a new master given to the client")
	return fd, nil
}

// openCttys opens a slave of each pty of the images that was a session's
// controlling terminal (its tty-info entries carry the session and the
// foreground group, on the master's, the slaves' or both, as in CRIU),
// once its master is open (masters: the restorer's fd by index). An
// external terminal that was one is the restorer's open one
// (t.extTTYs).
func (t *Terminals) openCttys(pts string, masters map[uint32]int) error {
	t.cttys = map[int]*ctty{}
	byName := map[string]*ctty{}
	for _, info := range t.info {
		sid, pgrp := int(info.GetSid()), int(info.GetPgrp())
		if sid == 0 || info.GetType() == images.TtyType_CTTY {
			continue // /dev/tty's session: its terminal's own entry has it
		}
		ext := info.GetType() == images.TtyType_EXT_TTY
		simple, isSimple := t.simple[info.GetId()]
		if !ext && !isSimple && (info.GetType() != images.TtyType_PTY || info.GetPty() == nil) {
			return fmt.Errorf("%w: tty %d of type %v is the controlling terminal of session %d", errdefs.ErrUnsupported, info.GetId(), info.GetType(), sid)
		}
		var name string
		var index uint32
		if ext {
			name = "the external terminal " + extTTYKey(info)
		} else if isSimple {
			name = simpleName(uint64(info.GetRdev()))
		} else {
			index = info.GetPty().GetIndex()
			name = fmt.Sprintf("/dev/pts/%d", index)
		}
		if c := byName[name]; c != nil {
			if c2 := t.cttys[sid]; c2 != c || c.pgrp != pgrp {
				return fmt.Errorf("%w: the ends of %s disagree on its session or group", errdefs.ErrBadImage, name)
			}
			continue
		}
		if c := t.cttys[sid]; c != nil {
			return fmt.Errorf("%w: session %d has two controlling terminals, %s and %s", errdefs.ErrBadImage, sid, c.name, name)
		}
		if _, ok := masters[index]; !ext && !isSimple && !ok {
			return fmt.Errorf("%w: %s is the controlling terminal of session %d without its master", errdefs.ErrUnsupported, name, sid)
		}
		if !t.tree.Leads(sid) {
			return fmt.Errorf("%w: %s is the controlling terminal of session %d, whose leader is not in the images", errdefs.ErrBadImage, name, sid)
		}
		if pgrp != 0 && !t.tree.InGroup(sid, pgrp) {
			return fmt.Errorf("%w: the foreground group %d of %s has no task in session %d", errdefs.ErrBadImage, pgrp, name, sid)
		}
		fd := simple // the console or a VT: the restorer's open one
		switch {
		case isSimple:
		case ext:
			var ok bool
			if fd, ok = t.extTTYs[info.GetId()]; !ok {
				return fmt.Errorf("%w: %s is the controlling terminal of session %d, but no task has it open", errdefs.ErrBadImage, name, sid)
			}
		default:
			path := fmt.Sprintf("%s/%d", pts, index)
			var err error
			fd, err = unix.Open(path, unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
			if err != nil {
				return fmt.Errorf("pty %d: %w", index, os.NewSyscallError("open "+path, err))
			}
			t.hold(fd)
		}
		c := &ctty{name: name, fd: fd, pgrp: pgrp, steal: ext}
		t.cttys[sid], byName[name] = c, c
	}
	return nil
}

// OpenPtmx opens, from ptmx, a pty master with the given index, and
// acc its access mode (the lower free indexes are taken meanwhile).
func OpenPtmx(ptmx string, index uint32, acc int) (int, error) { return openPtmx(ptmx, index, acc) }

// openPtmx opens a pty master with the given index from ptmx.
func openPtmx(ptmx string, index uint32, acc int) (int, error) {
	var held []int
	defer func() {
		for _, fd := range held {
			unix.Close(fd)
		}
	}()
	for {
		fd, err := unix.Open(ptmx, acc|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
		if err != nil {
			return -1, os.NewSyscallError("open "+ptmx, err)
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
			return -1, fmt.Errorf("%w: /dev/pts/%d is taken", errdefs.ErrUnsupported, index)
		}
		held = append(held, fd)
	}
}

// slaveOwner gives the slave fd's /dev/pts node the owner it had at
// dump (a program's fchown of its pty: devpts makes it root's, or the
// opener's, anew).
func slaveOwner(fd int, info *images.TtyInfoEntry) error {
	if info.Uid == nil || info.Gid == nil {
		return nil // not in the images
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return os.NewSyscallError("fstat", err)
	}
	if st.Uid == info.GetUid() && st.Gid == info.GetGid() {
		return nil
	}
	return os.NewSyscallError("fchown", unix.Fchown(fd, int(info.GetUid()), int(info.GetGid())))
}
