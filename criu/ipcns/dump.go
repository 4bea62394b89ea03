package ipcns

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"

	"github.com/criugo/criu/criu/image"
	"github.com/criugo/criu/criu/nsenter"
	"github.com/criugo/criu/internal/linux"
	"github.com/criugo/criu/proto/images"
)

// Dump writes the four images of the IPC namespace of task pid under
// namespace id: its sysctls and every shared memory segment, message
// queue (with its messages, left queued) and semaphore set. The tasks
// of the namespace should be frozen so that nothing changes meanwhile.
func Dump(ctx context.Context, store image.Store, pid int, id uint32, log zerolog.Logger) error {
	d := &dumper{ctx: ctx, store: store, id: id, log: log.With().Int("pid", pid).Uint32("ipcns", id).Logger()}
	if err := nsenter.Do(pid, nsenter.IPC, d.dump); err != nil {
		return fmt.Errorf("dump IPC namespace of %d: %w", pid, err)
	}
	return nil
}

type dumper struct {
	ctx   context.Context
	store image.Store
	id    uint32
	log   zerolog.Logger
}

// dump runs on a thread inside the namespace.
func (d *dumper) dump() error {
	v, err := readVar()
	if err != nil {
		return err
	}
	if err := image.WriteImage(d.ctx, d.store, varImage(d.id), v); err != nil {
		return err
	}
	for _, f := range []func() error{d.shm, d.msg, d.sem} {
		if err := d.ctx.Err(); err != nil {
			return err
		}
		if err := f(); err != nil {
			return err
		}
	}
	return nil
}

// collect lists the objects of one kind: info is its *_INFO call
// (highest index in use, number of objects), stat its *_STAT_ANY call.
// It returns the ids and what stat gave for each.
func collect[T any](kind string, info func() (int, int, error), stat func(idx int, ds *T) (int, error)) ([]int, []T, error) {
	maxIdx, want, err := info()
	if err != nil {
		return nil, nil, err
	}
	var ids []int
	var dss []T
	for idx := 0; idx <= maxIdx; idx++ {
		var ds T
		id, err := stat(idx, &ds)
		if errors.Is(err, errNoIndex) {
			continue
		}
		if err != nil {
			return nil, nil, fmt.Errorf("%s at index %d: %w", kind, idx, err)
		}
		ids = append(ids, id)
		dss = append(dss, ds)
	}
	if len(ids) != want {
		return nil, nil, fmt.Errorf("found %d %ss, the kernel counts %d", len(ids), kind, want)
	}
	return ids, dss, nil
}

func (d *dumper) shm() error {
	ids, segs, err := collect("shared memory segment", linux.ShmctlInfo, shmStat)
	if err != nil {
		return err
	}
	return image.WriteEntries(d.ctx, d.store, shmImage(d.id), func(enc *image.Encoder, w io.Writer) error {
		for i, ds := range segs {
			p := perm{ds.Perm.Key, ds.Perm.Uid, ds.Perm.Gid, ds.Perm.Cuid, ds.Perm.Cgid, uint32(ds.Perm.Mode)}
			e := &images.IpcShmEntry{Desc: p.desc(ids[i]), Size: proto.Uint64(ds.Segsz)}
			d.log.Debug().Int("id", ids[i]).Uint64("size", ds.Segsz).Msg("shared memory segment")
			if err := copySegment(enc, w, e, ids[i], ds.Segsz); err != nil {
				return fmt.Errorf("%s: %w", object("shared memory segment", e.Desc), err)
			}
		}
		return nil
	})
}

// copySegment writes entry e of segment id, with its hugetlb_flag, then
// the segment's size bytes, padded to 4, to w, through a read-only
// attach of its own.
func copySegment(enc *image.Encoder, w io.Writer, e *images.IpcShmEntry, id int, size uint64) error {
	b, err := unix.SysvShmAttach(id, 0, unix.SHM_RDONLY)
	if err != nil {
		return fmt.Errorf("attach: %w", err)
	}
	defer unix.SysvShmDetach(b)
	huge, err := hugeFlag(b)
	if err != nil {
		return err
	}
	if huge != 0 {
		e.HugetlbFlag = proto.Uint32(huge)
	}
	if err := enc.Encode(e); err != nil {
		return err
	}
	if uint64(len(b)) < size {
		return fmt.Errorf("attach gave %d bytes, segment has %d", len(b), size)
	}
	if _, err := w.Write(b[:size]); err != nil {
		return err
	}
	_, err = w.Write(make([]byte, (size+3)&^3-size))
	return err
}

func (d *dumper) msg() (retErr error) {
	ids, queues, err := collect("message queue", linux.MsgctlInfo, msgStat)
	if err != nil {
		return err
	}
	// MSG_COPY copies no message longer than msgmax, which may have
	// been lowered after the message was sent: raise it for the time of
	// the copy, then set it back.
	msgmax, err := readUint(ctlMsgmax, 32)
	if err != nil {
		return err
	}
	need := msgmax
	for _, q := range queues {
		need = max(need, min(q.Cbytes, 1<<31-1))
	}
	if need > msgmax {
		if err := writeSysctl(ctlMsgmax, strconv.FormatUint(need, 10)); err != nil {
			return err
		}
		defer func() {
			if err := writeSysctl(ctlMsgmax, strconv.FormatUint(msgmax, 10)); err != nil && retErr == nil {
				retErr = err
			}
		}()
	}
	return image.WriteEntries(d.ctx, d.store, msgImage(d.id), func(enc *image.Encoder, w io.Writer) error {
		for i, ds := range queues {
			e := &images.IpcMsgEntry{
				Desc:   fromIPCPerm(&ds.Perm).desc(ids[i]),
				Qbytes: proto.Uint32(uint32(ds.Qbytes)),
				Qnum:   proto.Uint32(uint32(ds.Qnum)),
			}
			d.log.Debug().Int("id", ids[i]).Uint64("messages", ds.Qnum).Uint64("bytes", ds.Cbytes).Msg("message queue")
			if err := enc.Encode(e); err != nil {
				return err
			}
			if err := copyMessages(enc, w, ids[i], &ds); err != nil {
				return fmt.Errorf("%s: %w", object("message queue", e.Desc), err)
			}
		}
		return nil
	})
}

// copyMessages writes every message of queue id, in order, as an IpcMsg
// entry and its text padded to 8, leaving the queue as it is.
func copyMessages(enc *image.Encoder, w io.Writer, id int, ds *linux.MsqidDS) error {
	// No message is longer than all the queue's bytes together.
	buf := make([]byte, 8+ds.Cbytes)
	var pad [8]byte
	for i := 0; i < int(ds.Qnum); i++ {
		mtype, n, err := linux.MsgrcvCopy(id, i, buf)
		if errors.Is(err, unix.ENOSYS) {
			return ErrNoMsgCopy
		}
		if err != nil {
			return fmt.Errorf("message %d: %w", i, err)
		}
		if err := enc.Encode(&images.IpcMsg{Mtype: proto.Uint64(uint64(mtype)), Msize: proto.Uint32(uint32(n))}); err != nil {
			return err
		}
		if _, err := w.Write(buf[8 : 8+n]); err != nil {
			return err
		}
		if _, err := w.Write(pad[:image.IPCMsgPadding(n)]); err != nil {
			return err
		}
	}
	return nil
}

func (d *dumper) sem() error {
	ids, sets, err := collect("semaphore set", linux.SemctlInfo, semStat)
	if err != nil {
		return err
	}
	return image.WriteEntries(d.ctx, d.store, semImage(d.id), func(enc *image.Encoder, w io.Writer) error {
		for i, ds := range sets {
			e := &images.IpcSemEntry{Desc: fromIPCPerm(&ds.Perm).desc(ids[i]), Nsems: proto.Uint32(uint32(ds.Nsems))}
			vals := make([]uint16, ds.Nsems)
			if err := linux.SemctlValues("semctl(GETALL)", ids[i], linux.GETALL, vals); err != nil {
				return fmt.Errorf("%s: %w", object("semaphore set", e.Desc), err)
			}
			d.log.Debug().Int("id", ids[i]).Uint64("nsems", ds.Nsems).Msg("semaphore set")
			if err := enc.Encode(e); err != nil {
				return err
			}
			if _, err := w.Write(image.AppendSemValues(nil, vals)); err != nil {
				return err
			}
		}
		return nil
	})
}
