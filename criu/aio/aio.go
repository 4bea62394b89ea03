// Package aio checkpoints a task's kernel AIO contexts (io_setup(2), the
// interface libaio and databases use), in CRIU's format: each context is
// its ring, a shared mapping of the aio pseudo-filesystem whose address
// is the context id, recorded as a VMA with status VmaAreaAioring whose
// pages are all dumped, plus an aio_ring_entry in the task's mm entry
// (id, nr_req, ring_len).
//
// Restore maps a private anonymous area at the ring's address and fills
// it with the dumped pages, as any private mapping (package mm). Then
// (Restore, once the task's children are forked: a forked child does
// not inherit a context) the task sets up a new context of the same
// size; its kernel tail and the ring's head are brought to the dumped
// ones by completing writes to /dev/null (they complete within
// io_submit) and reaping the surplus; the dumped events are copied into
// the new ring, which is moved over the old address with mremap (the
// kernel then takes the address as the context id, so the task's
// aio_context_t is valid again).
//
// What cannot be seen from outside is a request still in flight at the
// freeze: its completion would land after the ring was read. CRIU has
// the same limit; the dump reads the ring once the tree is frozen.
package aio

import (
	"encoding/binary"
	"fmt"
	"strings"

	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"

	"github.com/criugo/criu/criu/errdefs"
	"github.com/criugo/criu/criu/mem"
	"github.com/criugo/criu/proto/images"
)

// The ring's layout (struct aio_ring, fs/aio.c; struct io_event and
// struct iocb, include/uapi/linux/aio_abi.h).
const (
	headerSize   = 32
	eventSize    = 32
	iocbSize     = 64
	ringMagic    = 0xa10a10a1
	compatFeat   = 1
	incompatFeat = 0
	cmdPwrite    = 1 // IOCB_CMD_PWRITE
)

// IsRing reports whether path, a mapping's as /proc/PID/maps shows it, is
// an AIO ring.
func IsRing(path string) bool {
	return strings.TrimSuffix(path, " (deleted)") == "/[aio]"
}

// Header is the ring's header as user space sees it.
type Header struct {
	ID, Nr, Head, Tail, Magic, Compat, Incompat, HeaderLength uint32
}

// ParseHeader decodes the first headerSize bytes of a ring.
func ParseHeader(b []byte) (Header, error) {
	if len(b) < headerSize {
		return Header{}, fmt.Errorf("%w: AIO ring header of %d bytes", errdefs.ErrBadImage, len(b))
	}
	le := binary.LittleEndian
	return Header{
		ID: le.Uint32(b[0:]), Nr: le.Uint32(b[4:]), Head: le.Uint32(b[8:]), Tail: le.Uint32(b[12:]),
		Magic: le.Uint32(b[16:]), Compat: le.Uint32(b[20:]), Incompat: le.Uint32(b[24:]), HeaderLength: le.Uint32(b[28:]),
	}, nil
}

// check verifies a ring of ringLen bytes has this header.
func (h Header) check(ringLen uint64) error {
	switch {
	case h.Magic != ringMagic:
		return fmt.Errorf("magic %#x, not an AIO ring's", h.Magic)
	case h.Compat != compatFeat || h.Incompat != incompatFeat || h.HeaderLength != headerSize:
		return fmt.Errorf("ring features %d/%d, header of %d bytes: a layout this criu does not know", h.Compat, h.Incompat, h.HeaderLength)
	case uint64(h.Nr) != (ringLen-headerSize)/eventSize:
		return fmt.Errorf("%d events in a ring of %d bytes", h.Nr, ringLen)
	case h.Head >= h.Nr || h.Tail >= h.Nr:
		return fmt.Errorf("head %d, tail %d past the ring's %d events", h.Head, h.Tail, h.Nr)
	}
	return nil
}

// NrReq is what io_setup is asked for to make a ring of ringLen bytes
// again: the kernel makes room for twice the events asked (at least 8
// per possible CPU) and two more, rounded up to whole pages (fs/aio.c).
func NrReq(ringLen uint64) uint32 {
	return uint32(((ringLen-headerSize)/eventSize - 2) / 2)
}

// Dump reads the ring mapped at [start, end) in task pid, frozen, and
// returns its aio_ring_entry.
func Dump(pid int, start, end uint64) (*images.AioRingEntry, error) {
	b := make([]byte, headerSize)
	if err := mem.ReadRemote(pid, []mem.Range{{Start: start, End: start + headerSize}}, b); err != nil {
		return nil, fmt.Errorf("AIO ring at %#x: %w", start, err)
	}
	h, _ := ParseHeader(b)
	if err := h.check(end - start); err != nil {
		return nil, fmt.Errorf("AIO ring at %#x: %w: %w", start, errdefs.ErrUnsupported, err)
	}
	return &images.AioRingEntry{Id: proto.Uint64(start), NrReq: proto.Uint32(NrReq(end - start)), RingLen: proto.Uint32(uint32(end - start))}, nil
}

// Task is the task being restored as Restore needs it.
type Task interface {
	// Pid is its host pid.
	Pid() int
	// Sys runs system call nr inside it.
	Sys(name string, nr uintptr, args ...uint64) (uint64, error)
}

// batch bounds the writes submitted (and events reaped) at once; with
// their iocbs, pointers and events it fits in ScratchNeed.
const batch = 32

// ScratchNeed is the scratch area Restore uses, in bytes.
const ScratchNeed = 64 + batch*(iocbSize+8+eventSize)

// Restore makes the context of ring anew in t, at its dumped address,
// whose pages hold the dumped ring (see the package comment). scratch
// is the address of ScratchNeed bytes of t's the restorer may use.
func Restore(t Task, scratch uint64, ring *images.AioRingEntry) error {
	pid, addr, n := t.Pid(), ring.GetId(), uint64(ring.GetRingLen())
	if n < headerSize+eventSize || n%mem.PageSize != 0 || addr%mem.PageSize != 0 {
		return fmt.Errorf("%w: AIO ring of %d bytes at %#x", errdefs.ErrBadImage, n, addr)
	}
	old := make([]byte, n)
	if err := mem.ReadRemote(pid, []mem.Range{{Start: addr, End: addr + n}}, old); err != nil {
		return fmt.Errorf("AIO ring at %#x: %w", addr, err)
	}
	oh, _ := ParseHeader(old)
	if err := oh.check(n); err != nil {
		return fmt.Errorf("AIO ring at %#x: %w: %w", addr, errdefs.ErrBadImage, err)
	}
	le := binary.LittleEndian
	if err := mem.WriteRemote(pid, []mem.Range{{Start: scratch, End: scratch + 8}}, make([]byte, 8)); err != nil {
		return err
	}
	if _, err := t.Sys("io_setup", unix.SYS_IO_SETUP, uint64(ring.GetNrReq()), scratch); err != nil {
		return fmt.Errorf("AIO ring at %#x: %w", addr, err)
	}
	cb := make([]byte, 8)
	if err := mem.ReadRemote(pid, []mem.Range{{Start: scratch, End: scratch + 8}}, cb); err != nil {
		return err
	}
	ctx := le.Uint64(cb)
	nb := make([]byte, headerSize)
	if err := mem.ReadRemote(pid, []mem.Range{{Start: ctx, End: ctx + headerSize}}, nb); err != nil {
		return err
	}
	if nh, _ := ParseHeader(nb); nh.Nr != oh.Nr {
		t.Sys("io_destroy", unix.SYS_IO_DESTROY, ctx)
		return fmt.Errorf("AIO ring at %#x: %w: a new context holds %d events, the dumped one %d (more CPUs here?)", addr, errdefs.ErrUnsupported, nh.Nr, oh.Nr)
	}
	if err := advance(t, scratch, ctx, oh); err != nil {
		t.Sys("io_destroy", unix.SYS_IO_DESTROY, ctx)
		return fmt.Errorf("AIO ring at %#x: %w", addr, err)
	}
	// The events, as dumped; the header stays the new context's (its id,
	// and the head and tail advance brought to the dumped ones).
	if err := mem.WriteRemote(pid, []mem.Range{{Start: ctx + headerSize, End: ctx + n}}, old[headerSize:]); err != nil {
		return err
	}
	got, err := t.Sys("mremap", unix.SYS_MREMAP, ctx, n, n, unix.MREMAP_MAYMOVE|unix.MREMAP_FIXED, addr)
	if err == nil && got != addr {
		err = fmt.Errorf("moved to %#x", got)
	}
	if err != nil {
		t.Sys("io_destroy", unix.SYS_IO_DESTROY, ctx)
		return fmt.Errorf("AIO ring: move the new context %#x to %#x: %w", ctx, addr, err)
	}
	return nil
}

// advance brings the new context ctx's tail and head to h's: writes to
// /dev/null complete at once, each moving the tail by one; the surplus
// is reaped, which moves the head. A tail behind the head (wrapped)
// takes a whole turn more.
func advance(t Task, scratch, ctx uint64, h Header) error {
	if h.Head == 0 && h.Tail == 0 {
		return nil
	}
	submit := uint64(h.Tail)
	if h.Tail < h.Head {
		submit += uint64(h.Nr)
	}
	pending := (uint64(h.Tail) + uint64(h.Nr) - uint64(h.Head)) % uint64(h.Nr)
	reap := submit - pending
	pid := t.Pid()
	path := scratch + 16
	if err := mem.WriteRemote(pid, []mem.Range{{Start: path, End: path + 10}}, []byte("/dev/null\x00")); err != nil {
		return err
	}
	atFdcwd := uint64(1<<64 - 100) // AT_FDCWD
	fd, err := t.Sys("openat /dev/null", unix.SYS_OPENAT, atFdcwd, path, unix.O_WRONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer t.Sys("close", unix.SYS_CLOSE, fd)
	iocbs := scratch + 64
	ptrs := iocbs + batch*iocbSize
	events := ptrs + batch*8
	le := binary.LittleEndian
	buf := make([]byte, batch*(iocbSize+8))
	for i := range uint64(batch) {
		cb := buf[i*iocbSize:]
		le.PutUint16(cb[16:], cmdPwrite)
		le.PutUint32(cb[20:], uint32(fd))
		le.PutUint64(cb[24:], scratch+8) // one byte of scratch
		le.PutUint64(cb[32:], 1)
		le.PutUint64(buf[batch*iocbSize+i*8:], iocbs+i*iocbSize)
	}
	if err := mem.WriteRemote(pid, []mem.Range{{Start: iocbs, End: iocbs + uint64(len(buf))}}, buf); err != nil {
		return err
	}
	var submitted, reaped uint64
	for submitted < submit || reaped < reap {
		if k := min(submit-submitted, batch); k > 0 {
			got, err := t.Sys("io_submit", unix.SYS_IO_SUBMIT, ctx, k, ptrs)
			if err != nil {
				return err
			}
			if got != k {
				return fmt.Errorf("io_submit took %d of %d writes to /dev/null", got, k)
			}
			submitted += k
		}
		k := min(reap-reaped, submitted-reaped, batch)
		if k == 0 {
			continue
		}
		got, err := t.Sys("io_getevents", unix.SYS_IO_GETEVENTS, ctx, k, k, events, 0)
		if err != nil {
			return err
		}
		if got != k {
			return fmt.Errorf("io_getevents reaped %d of %d", got, k)
		}
		reaped += k
	}
	return nil
}
