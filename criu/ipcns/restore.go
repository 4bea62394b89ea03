package ipcns

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"

	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/cleanup"
	"github.com/criugo/criu/criu/image"
	"github.com/criugo/criu/criu/nsenter"
	"github.com/criugo/criu/internal/linux"
	"github.com/criugo/criu/proto/images"
)

// Mode bits of shared memory segments (include/uapi/linux/shm.h) and
// the shmctl command that locks one in memory.
const (
	shmDest   = 0o1000
	shmLocked = 0o2000
	shmLock   = 11
)

// Restore recreates, in the IPC namespace of task pid, the sysctls and
// every System V object saved under namespace id, each with its id,
// key, owner, mode and contents. The namespace should be fresh: an id
// or key already in use fails the restore (ErrIDTaken). On failure the
// objects created are removed and the sysctls set back.
//
// Segments that had been removed while still attached (SHM_DEST) come
// back as live ones, so that the tasks can attach them by id; the
// caller calls Finish on the result once they have.
func Restore(ctx context.Context, store image.Store, pid int, id uint32, log zerolog.Logger) (*Restored, error) {
	if err := nsenter.NotOwn(pid, nsenter.IPC); err != nil {
		return nil, fmt.Errorf("restore IPC namespace: %w", err)
	}
	r := &restorer{ctx: ctx, store: store, id: id, log: log.With().Int("pid", pid).Uint32("ipcns", id).Logger()}
	if err := nsenter.Do(pid, nsenter.IPC, r.restore); err != nil {
		return nil, fmt.Errorf("restore IPC namespace of %d: %w", pid, err)
	}
	return &Restored{pid: pid, destroyed: r.destroyed}, nil
}

// Restored is the part of an IPC namespace's restore that must wait
// until the tasks have attached their segments.
type Restored struct {
	pid       int
	destroyed []int
}

// Finish removes (IPC_RMID) again the segments that had been removed
// while attached: they now live on only while the tasks keep them
// attached, as before the dump. Call it after every task has attached
// its segments.
func (rs *Restored) Finish() error {
	if rs == nil || len(rs.destroyed) == 0 {
		return nil
	}
	err := nsenter.Do(rs.pid, nsenter.IPC, func() error {
		for _, id := range rs.destroyed {
			if _, err := unix.SysvShmCtl(id, unix.IPC_RMID, nil); err != nil {
				return fmt.Errorf("remove shared memory segment %d again: %w", id, os.NewSyscallError("shmctl(IPC_RMID)", err))
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("restore IPC namespace of %d: %w", rs.pid, err)
	}
	return nil
}

type restorer struct {
	ctx   context.Context
	store image.Store
	id    uint32
	log   zerolog.Logger
	undo  cleanup.Cleanup
	// destroyed are the segments to remove again (Restored.Finish).
	destroyed []int
}

// queue is a message queue read from the images.
type queue struct {
	e    *images.IpcMsgEntry
	msgs [][]byte // each: 8 bytes of mtype, then the text (msgsnd's layout)
}

// restore runs on a thread inside the namespace.
func (r *restorer) restore() (err error) {
	defer func() {
		if err != nil {
			r.undo.Run()
		}
	}()
	if err := r.saveNextIDs(); err != nil {
		return err
	}
	v := &images.IpcVarEntry{}
	if err := image.ReadOne(r.ctx, r.store, varImage(r.id), v); err != nil {
		return err
	}
	lims, err := limits(v)
	if err != nil {
		return fmt.Errorf("%s: %w", varImage(r.id), err)
	}
	queues, err := r.readQueues()
	if err != nil {
		return err
	}
	// While the objects are made, msgmax and msgmnb admit every saved
	// message and every queue's qbytes.
	final := []sysctlValue{{ctlMsgmax, strconv.FormatUint(uint64(v.GetMsgCtlmax()), 10)}, {ctlMsgmnb, strconv.FormatUint(uint64(v.GetMsgCtlmnb()), 10)}}
	msgmax, msgmnb := v.GetMsgCtlmax(), v.GetMsgCtlmnb()
	for _, q := range queues {
		msgmnb = max(msgmnb, q.e.GetQbytes())
		for _, m := range q.msgs {
			msgmax = max(msgmax, uint32(len(m)-8))
		}
	}
	for i := range lims {
		switch lims[i].name {
		case ctlMsgmax:
			lims[i].v = strconv.FormatUint(uint64(msgmax), 10)
		case ctlMsgmnb:
			lims[i].v = strconv.FormatUint(uint64(msgmnb), 10)
		}
	}
	rmid := sysctlValue{ctlShmRmidForced, strconv.FormatUint(uint64(v.GetShmRmidForced()), 10)}
	// Objects are made with shm_rmid_forced off (see below).
	if err := r.writeSysctls(append(lims, sysctlValue{ctlShmRmidForced, "0"})); err != nil {
		return err
	}
	nseg, err := r.shm()
	if err != nil {
		return err
	}
	if err := r.msg(queues); err != nil {
		return err
	}
	if err := r.sem(); err != nil {
		return err
	}
	if err := writeAll(final); err != nil {
		return err
	}
	if v.GetShmRmidForced() != 0 {
		if nseg > 0 {
			// The kernel would destroy the segments as soon as the
			// restoring thread, their creator, ends: before any
			// restored task could attach them.
			r.log.Warn().Msg("kernel.shm_rmid_forced left at 0: set, it would destroy the restored shared memory segments before the tasks attach them")
		} else if err := writeAll([]sysctlValue{rmid}); err != nil {
			return err
		}
	}
	for _, n := range []struct {
		name string
		v    *uint32
	}{{ctlShmNextID, v.ShmNextId}, {ctlMsgNextID, v.MsgNextId}, {ctlSemNextID, v.SemNextId}} {
		if n.v == nil {
			continue
		}
		if err := writeSysctl(n.name, strconv.FormatUint(uint64(*n.v), 10)); err != nil {
			return err
		}
	}
	r.undo.Release()
	return nil
}

// saveNextIDs registers the undo that puts the next-id sysctls back as
// they are now. The kernel takes no -1 (unset): an id left set by a
// failed get is used up by creating and removing a private object.
func (r *restorer) saveNextIDs() error {
	for _, c := range []struct {
		ctl    string
		get    func(key int32, flags int) (int, error)
		remove func(int) error
	}{
		{ctlShmNextID, func(key int32, flags int) (int, error) { return shmGet(key, 1, flags) }, shmRemove},
		{ctlMsgNextID, linux.Msgget, linux.MsgctlRemove},
		{ctlSemNextID, func(key int32, flags int) (int, error) { return linux.Semget(key, 1, flags) }, linux.SemctlRemove},
	} {
		old, err := readSysctl(c.ctl)
		if err != nil {
			return err
		}
		r.undo.Add(func() {
			if now, err := readSysctl(c.ctl); err != nil || now == old {
				return
			}
			if old != "-1" {
				writeSysctl(c.ctl, old)
			} else if err := consume(c.get, c.remove); err != nil {
				r.log.Warn().Err(err).Str("sysctl", c.ctl).Msg("cannot reset next id")
			}
		})
	}
	return nil
}

// consume creates a private object and removes it again, which uses up
// a next id.
func consume(get func(key int32, flags int) (int, error), remove func(int) error) error {
	id, err := get(unix.IPC_PRIVATE, 0o600)
	if err != nil {
		return err
	}
	return remove(id)
}

// writeSysctls writes vals, after registering the undo that writes back
// their current values.
func (r *restorer) writeSysctls(vals []sysctlValue) error {
	old, err := readAll(vals)
	if err != nil {
		return err
	}
	r.undo.Add(func() { writeAll(old) })
	if err := writeAll(vals); err != nil {
		return fmt.Errorf("%s: %w", varImage(r.id), err)
	}
	return nil
}

// open returns a decoder of image name and a function that closes it;
// a nil decoder when the image does not exist (no object of its kind).
func (r *restorer) open(name string) (*image.Decoder, func(), error) {
	rd, err := r.store.Open(r.ctx, name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, func() {}, nil // none: CRIU 4.2 writes no image of an empty kind
	}
	if err != nil {
		return nil, nil, err
	}
	dec, err := image.NewDecoder(bufio.NewReaderSize(rd, 64<<10), name)
	if err != nil {
		rd.Close()
		return nil, nil, err
	}
	return dec, func() { rd.Close() }, nil
}

// create makes the object d describes with its id: it writes the
// next-id sysctl ctl, calls get with the key and the flags (mode,
// IPC_CREAT, IPC_EXCL), registers the undo that removes the object and
// checks its id. what names the object in errors.
func (r *restorer) create(what, ctl string, d *images.IpcDescEntry, get func(key int32, flags int) (int, error), remove func(int) error) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	if d.GetId() > 1<<31-1 {
		return 0, fmt.Errorf("%w: %s: id out of range", ErrBadImage, what)
	}
	if err := writeSysctl(ctl, strconv.FormatUint(uint64(d.GetId()), 10)); err != nil {
		return 0, fmt.Errorf("%s: %w", what, err)
	}
	id, err := get(int32(d.GetKey()), int(d.GetMode()&0o777)|unix.IPC_CREAT|unix.IPC_EXCL)
	switch {
	case errors.Is(err, unix.EEXIST):
		return 0, fmt.Errorf("%s: %w: %w", what, ErrIDTaken, err)
	case err != nil:
		return 0, fmt.Errorf("%s: %w", what, err)
	}
	r.undo.Add(func() { remove(id) })
	if uint32(id) != d.GetId() {
		return 0, fmt.Errorf("%s: %w: got id %d instead", what, ErrIDTaken, id)
	}
	return id, nil
}

// shm recreates every segment and returns how many there were.
func (r *restorer) shm() (int, error) {
	name := shmImage(r.id)
	dec, done, err := r.open(name)
	if err != nil || dec == nil {
		return 0, err
	}
	defer done()
	n := 0
	for ; ; n++ {
		e := &images.IpcShmEntry{}
		if err := dec.Decode(e); err == io.EOF {
			return n, nil
		} else if err != nil {
			return n, err
		}
		if err := r.segment(dec, e); err != nil {
			return n, fmt.Errorf("%s: %w", name, err)
		}
	}
}

func (r *restorer) segment(dec *image.Decoder, e *images.IpcShmEntry) error {
	d := e.GetDesc()
	what := object("shared memory segment", d)
	huge := e.GetHugetlbFlag()
	if huge != 0 && !validHuge(huge) {
		return fmt.Errorf("%w: %s: hugetlb_flag %#x", ErrBadImage, what, huge)
	}
	if e.GetSize() == 0 || e.GetSize() > 1<<47 {
		return fmt.Errorf("%w: %s: size %d", ErrBadImage, what, e.GetSize())
	}
	id, err := r.create(what, ctlShmNextID, d, func(key int32, flags int) (int, error) {
		return shmGet(key, int(e.GetSize()), flags|int(huge))
	}, shmRemove)
	if err != nil {
		return err
	}
	var ds unix.SysvShmDesc
	ds.Perm.Uid, ds.Perm.Gid, ds.Perm.Mode = d.GetUid(), d.GetGid(), d.GetMode()&0o777
	if _, err := unix.SysvShmCtl(id, unix.IPC_SET, &ds); err != nil {
		return fmt.Errorf("%s: %w", what, os.NewSyscallError("shmctl(IPC_SET)", err))
	}
	b, err := unix.SysvShmAttach(id, 0, 0)
	if err != nil {
		return fmt.Errorf("%s: %w", what, os.NewSyscallError("shmat", err))
	}
	if e.GetInPagemaps() {
		err = r.readPagemapContents(b[:e.GetSize()], e.GetSize(), d.GetId())
	} else {
		err = dec.CopyPayload(&sliceWriter{b: b[:e.GetSize()]}, int64(e.GetSize()))
		if err == nil {
			err = dec.CopyPayload(io.Discard, int64((e.GetSize()+3)&^3-e.GetSize()))
		}
	}
	unix.SysvShmDetach(b)
	if err != nil {
		return fmt.Errorf("%s: contents: %w", what, err)
	}
	if d.GetMode()&shmLocked != 0 {
		if _, err := unix.SysvShmCtl(id, shmLock, nil); err != nil {
			return fmt.Errorf("%s: %w", what, os.NewSyscallError("shmctl(SHM_LOCK)", err))
		}
	}
	if d.GetMode()&shmDest != 0 {
		r.destroyed = append(r.destroyed, id)
	}
	return nil
}

// sliceWriter fills b from the start.
type sliceWriter struct {
	b []byte
	n int
}

func (w *sliceWriter) Write(p []byte) (int, error) {
	if len(p) > len(w.b)-w.n {
		return 0, io.ErrShortWrite
	}
	w.n += copy(w.b[w.n:], p)
	return len(p), nil
}

// readQueues reads every queue and its messages.
func (r *restorer) readQueues() ([]queue, error) {
	name := msgImage(r.id)
	dec, done, err := r.open(name)
	if err != nil || dec == nil {
		return nil, err
	}
	defer done()
	var out []queue
	for {
		e := &images.IpcMsgEntry{}
		if err := dec.Decode(e); err == io.EOF {
			return out, nil
		} else if err != nil {
			return nil, err
		}
		q := queue{e: e}
		for i := uint32(0); i < e.GetQnum(); i++ {
			h, text, err := image.ReadIPCMsg(dec)
			if err != nil {
				return nil, fmt.Errorf("%s: message %d: %w", object("message queue", e.GetDesc()), i, err)
			}
			if h.GetMtype() == 0 || h.GetMtype() > 1<<63-1 {
				return nil, fmt.Errorf("%w: %s: %s: message %d has type %d", ErrBadImage, name, object("message queue", e.GetDesc()), i, h.GetMtype())
			}
			m := make([]byte, 8+len(text))
			putMtype(m, h.GetMtype())
			copy(m[8:], text)
			q.msgs = append(q.msgs, m)
		}
		out = append(out, q)
	}
}

func (r *restorer) msg(queues []queue) error {
	for _, q := range queues {
		if err := r.queue(q); err != nil {
			return fmt.Errorf("%s: %w", msgImage(r.id), err)
		}
	}
	return nil
}

func (r *restorer) queue(q queue) error {
	d := q.e.GetDesc()
	what := object("message queue", d)
	id, err := r.create(what, ctlMsgNextID, d, linux.Msgget, linux.MsgctlRemove)
	if err != nil {
		return err
	}
	var ds linux.MsqidDS
	if err := linux.MsgctlDS("msgctl(IPC_STAT)", id, unix.IPC_STAT, &ds); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	ds.Perm.Uid, ds.Perm.Gid, ds.Perm.Mode = d.GetUid(), d.GetGid(), d.GetMode()&0o777
	ds.Qbytes = uint64(q.e.GetQbytes())
	if err := linux.MsgctlDS("msgctl(IPC_SET)", id, unix.IPC_SET, &ds); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	for i, m := range q.msgs {
		if err := linux.Msgsnd(id, m); err != nil {
			return fmt.Errorf("%s: message %d (%d bytes): %w", what, i, len(m)-8, err)
		}
	}
	return nil
}

func (r *restorer) sem() error {
	name := semImage(r.id)
	dec, done, err := r.open(name)
	if err != nil || dec == nil {
		return err
	}
	defer done()
	for {
		e := &images.IpcSemEntry{}
		if err := dec.Decode(e); err == io.EOF {
			return nil
		} else if err != nil {
			return err
		}
		vals, err := image.ReadSemValues(dec, e)
		if err != nil {
			return err
		}
		if err := r.set(e, vals); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
}

func (r *restorer) set(e *images.IpcSemEntry, vals []uint16) error {
	d := e.GetDesc()
	what := object("semaphore set", d)
	id, err := r.create(what, ctlSemNextID, d, func(key int32, flags int) (int, error) {
		return linux.Semget(key, len(vals), flags)
	}, linux.SemctlRemove)
	if err != nil {
		return err
	}
	var ds linux.SemidDS
	if err := linux.SemctlDS("semctl(IPC_STAT)", id, unix.IPC_STAT, &ds); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	ds.Perm.Uid, ds.Perm.Gid, ds.Perm.Mode = d.GetUid(), d.GetGid(), d.GetMode()&0o777
	if err := linux.SemctlDS("semctl(IPC_SET)", id, unix.IPC_SET, &ds); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if err := linux.SemctlValues("semctl(SETALL)", id, linux.SETALL, vals); err != nil {
		return fmt.Errorf("%s: values: %w", what, err)
	}
	return nil
}
