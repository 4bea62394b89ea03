package dump

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"

	"github.com/criugo/criu/criu/image"
	"github.com/criugo/criu/criu/mem"
	"github.com/criugo/criu/criu/procfs"
	"github.com/criugo/criu/criu/ptrace"
	"github.com/criugo/criu/proto/images"
)

// Object ids of the one task's kernel objects (task_kobj_ids_entry).
const (
	vmID      = 1
	filesID   = 2
	fsID      = 3
	sighandID = 4
	firstFile = 5
)

type dumper struct {
	opts  Options
	pid   int
	store image.Store
	tr    *ptrace.Tracer
	sysIP uint64
	scr   scratch
	stat  procfs.Stat
	files *fileSet
	stats Stats
}

// Dump checkpoints opts.Pid into s. On success the images are complete
// (s.Finish returned nil) and the task has been killed, or let go with
// LeaveRunning. On failure the task runs on as before.
func Dump(ctx context.Context, s image.Store, opts Options) (*Stats, error) {
	d := &dumper{opts: opts, pid: opts.Pid, store: s, files: newFileSet(firstFile)}
	log := opts.Log
	if d.pid <= 0 {
		return nil, fmt.Errorf("dump: bad pid %d", d.pid)
	}
	var err error
	if d.stat, err = procfs.ReadStat(d.pid); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("dump %d: %w", d.pid, ErrNoTask)
		}
		return nil, fmt.Errorf("dump %d: %w", d.pid, err)
	}
	if d.stat.Pid != d.pid {
		return nil, fmt.Errorf("dump %d: %w (it is a thread of %d)", d.pid, ErrNoTask, d.stat.Pid)
	}
	if st, err := procfs.ReadStatus(d.pid); err == nil && st["Tgid"] != fmt.Sprint(d.pid) {
		return nil, fmt.Errorf("dump %d: not a process (thread of %s)", d.pid, st["Tgid"])
	}
	if kids, err := procfs.Children(d.pid); err == nil && len(kids) > 0 {
		return nil, fmt.Errorf("dump %d: %w: %v", d.pid, ErrHasChildren, kids)
	}

	d.tr = ptrace.NewTracer()
	defer d.tr.Close()
	var undo cleanup
	defer undo.Run()

	t0 := time.Now()
	threads, err := freeze(d.tr, d.pid)
	// Whatever was seized gets let go on failure.
	undo.Add(func() {
		if err := thaw(d.tr, threads); err != nil {
			log.Error().Err(err).Msg("thaw")
		}
	})
	if err != nil {
		return nil, fmt.Errorf("freeze %d: %w", d.pid, err)
	}
	frozenAt := time.Now()
	d.stats.Freezing = frozenAt.Sub(t0)
	log.Info().Int("pid", d.pid).Int("threads", len(threads)).Dur("freezing", d.stats.Freezing).Msg("task frozen")
	if kids, err := procfs.Children(d.pid); err == nil && len(kids) > 0 {
		return nil, fmt.Errorf("dump %d: %w: %v", d.pid, ErrHasChildren, kids)
	}
	// Re-read stat now that the task cannot change it.
	if d.stat, err = procfs.ReadStat(d.pid); err != nil {
		return nil, err
	}
	// Block every signal while syscalls are injected, so that none is
	// delivered (and lost) during a single-step; thaw puts masks back.
	for _, th := range threads {
		if err := d.tr.SetSigmask(th.tid, ^uint64(0)); err != nil {
			return nil, err
		}
		th.blocked = true
	}

	maps, err := procfs.ReadSmaps(d.pid)
	if err != nil {
		return nil, fmt.Errorf("read smaps of %d: %w", d.pid, err)
	}
	if d.sysIP, err = findSyscall(d.pid, maps); err != nil {
		return nil, err
	}
	log.Debug().Dur("t", time.Since(frozenAt)).Msg("smaps")
	leader := threads[0]
	in := d.injector(leader)
	// Files and memory layout are read before the scratch page exists.
	areas, err := d.collectVmas(maps)
	if err != nil {
		return nil, fmt.Errorf("dump %d: %w", d.pid, err)
	}
	fdinfos, err := d.collectFds()
	if err != nil {
		return nil, fmt.Errorf("dump %d: %w", d.pid, err)
	}
	log.Debug().Dur("t", time.Since(frozenAt)).Msg("vmas+fds")
	brk, err := in.Syscall("brk", unix.SYS_BRK, 0)
	if err != nil {
		return nil, err
	}
	addr, err := in.Syscall("mmap", unix.SYS_MMAP, 0, scratchSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_ANONYMOUS, ^uint64(0), 0)
	if err != nil {
		return nil, err
	}
	d.scr = scratch{addr: addr, size: scratchSize}
	scrUnmapped := false
	unmapScratch := func() error {
		if scrUnmapped {
			return nil
		}
		scrUnmapped = true
		_, err := in.Syscall("munmap", unix.SYS_MUNMAP, d.scr.addr, d.scr.size)
		return err
	}
	undo.Add(func() { unmapScratch() })

	var cores []*images.CoreEntry
	for _, th := range threads {
		c, err := d.dumpThread(th)
		if err != nil {
			return nil, fmt.Errorf("dump thread %d: %w", th.tid, err)
		}
		cores = append(cores, c)
	}
	log.Debug().Dur("t", time.Since(frozenAt)).Msg("threads")
	tc, err := d.dumpTaskCore(leader)
	if err != nil {
		return nil, fmt.Errorf("dump task %d: %w", d.pid, err)
	}
	log.Debug().Dur("t", time.Since(frozenAt)).Msg("taskcore")
	if err := unmapScratch(); err != nil {
		return nil, err
	}
	ids := &images.TaskKobjIdsEntry{VmId: proto.Uint32(vmID), FilesId: proto.Uint32(filesID), FsId: proto.Uint32(fsID), SighandId: proto.Uint32(sighandID)}
	cores[0].Tc = tc
	cores[0].Ids = ids

	mm, err := d.dumpMM(areas, brk)
	if err != nil {
		return nil, err
	}
	fs, err := d.dumpFs()
	if err != nil {
		return nil, err
	}

	log.Debug().Dur("t", time.Since(frozenAt)).Msg("mm+fs")
	if err := d.dumpPages(ctx, areas); err != nil {
		return nil, fmt.Errorf("dump memory of %d: %w", d.pid, err)
	}
	log.Debug().Dur("t", time.Since(frozenAt)).Msg("pages")
	if err := d.writeGhosts(ctx); err != nil {
		return nil, err
	}

	// Every other image.
	pst := &images.PstreeEntry{Pid: proto.Uint32(uint32(d.pid)), Ppid: proto.Uint32(uint32(d.stat.Ppid)),
		Pgid: proto.Uint32(uint32(d.stat.Pgrp)), Sid: proto.Uint32(uint32(d.stat.Session))}
	for _, th := range threads {
		pst.Threads = append(pst.Threads, uint32(th.tid))
	}
	type img struct {
		name string
		msgs []proto.Message
	}
	imgs := []img{
		{"pstree.img", []proto.Message{pst}},
		{fmt.Sprintf("ids-%d.img", d.pid), []proto.Message{ids}},
		{fmt.Sprintf("mm-%d.img", d.pid), []proto.Message{mm}},
		{fmt.Sprintf("fs-%d.img", d.pid), []proto.Message{fs}},
	}
	for i, th := range threads {
		imgs = append(imgs, img{fmt.Sprintf("core-%d.img", th.tid), []proto.Message{cores[i]}})
	}
	var fm []proto.Message
	for _, e := range d.files.entries {
		fm = append(fm, e)
	}
	imgs = append(imgs, img{"files.img", fm})
	var fdm []proto.Message
	for _, e := range fdinfos {
		fdm = append(fdm, e)
	}
	imgs = append(imgs, img{fmt.Sprintf("fdinfo-%d.img", filesID), fdm})
	if len(d.files.remaps) > 0 {
		var rm []proto.Message
		for _, e := range d.files.remaps {
			rm = append(rm, e)
		}
		imgs = append(imgs, img{"remap-fpath.img", rm})
	}
	inv := &images.InventoryEntry{
		ImgVersion: proto.Uint32(2), FdinfoPerId: proto.Bool(true), RootIds: ids,
		NsPerId: proto.Bool(true), Lsmtype: images.Lsmtype_NO_LSM.Enum(),
	}
	if up, err := uptime(); err == nil {
		inv.DumpUptime = proto.Uint64(up)
	}
	imgs = append(imgs, img{"inventory.img", []proto.Message{inv}})
	for _, im := range imgs {
		if err := image.WriteImage(ctx, s, im.name, im.msgs...); err != nil {
			return nil, err
		}
	}
	log.Debug().Dur("t", time.Since(frozenAt)).Msg("images")
	d.stats.Frozen = time.Since(frozenAt)
	if err := image.WriteImage(ctx, s, "stats-dump.img", &images.StatsEntry{Dump: d.dumpStats()}); err != nil {
		return nil, err
	}
	if err := s.Finish(ctx); err != nil {
		return nil, fmt.Errorf("finish images: %w", err)
	}

	log.Debug().Dur("t", time.Since(frozenAt)).Msg("finish")
	// The images are safe: now the task may go.
	undo.Release()
	if opts.LeaveRunning {
		if err := thaw(d.tr, threads); err != nil {
			return nil, fmt.Errorf("resume %d: %w", d.pid, err)
		}
	} else {
		var tids []int
		for _, th := range threads {
			tids = append(tids, th.tid)
		}
		if err := d.tr.Kill(d.pid, tids); err != nil {
			return nil, fmt.Errorf("kill %d: %w", d.pid, err)
		}
	}
	d.stats.Frozen = time.Since(frozenAt)
	log.Info().Int("pid", d.pid).Dur("frozen", d.stats.Frozen).Uint64("pages", d.stats.PagesWritten).Msg("dump done")
	return &d.stats, nil
}

func (d *dumper) dumpStats() *images.DumpStatsEntry {
	us := func(t time.Duration) *uint32 { return proto.Uint32(uint32(t.Microseconds())) }
	return &images.DumpStatsEntry{
		FreezingTime: us(d.stats.Freezing), FrozenTime: us(d.stats.Frozen),
		MemdumpTime: us(d.stats.MemDump), MemwriteTime: us(d.stats.MemWrite),
		PagesScanned: proto.Uint64(d.stats.PagesScanned), PagesSkippedParent: proto.Uint64(0),
		PagesWritten: proto.Uint64(d.stats.PagesWritten), PagesLazy: proto.Uint64(0),
	}
}

func uptime() (uint64, error) {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts); err != nil {
		return 0, err
	}
	return uint64(ts.Nano() / 1000), nil
}

// findSyscall locates a syscall instruction in the task's [vdso].
func findSyscall(pid int, maps []procfs.Mapping) (uint64, error) {
	for _, m := range maps {
		if m.Path != "[vdso]" {
			continue
		}
		b := make([]byte, m.Len())
		if err := mem.ReadRemote(pid, []mem.Range{{Start: m.Start, End: m.End}}, b); err != nil {
			return 0, fmt.Errorf("read [vdso]: %w", err)
		}
		return ptrace.SyscallInsn(m.Start, b)
	}
	return 0, ptrace.ErrNoSyscallInsn
}

func (d *dumper) dumpMM(areas []*area, brk uint64) (*images.MmEntry, error) {
	auxb, err := os.ReadFile(procfs.Path(d.pid, "auxv"))
	if err != nil {
		return nil, err
	}
	auxv, err := procfs.ParseAuxv(auxb)
	if err != nil {
		return nil, err
	}
	exe, err := os.Readlink(procfs.Path(d.pid, "exe"))
	if err != nil {
		return nil, fmt.Errorf("read exe link: %w", err)
	}
	exeID, err := d.files.addReg(strings.TrimSuffix(exe, " (deleted)"), procfs.Path(d.pid, "exe"), unix.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	st := d.stat
	mm := &images.MmEntry{
		MmStartCode: proto.Uint64(st.StartCode), MmEndCode: proto.Uint64(st.EndCode),
		MmStartData: proto.Uint64(st.StartData), MmEndData: proto.Uint64(st.EndData),
		MmStartStack: proto.Uint64(st.StartStack), MmStartBrk: proto.Uint64(st.StartBrk), MmBrk: proto.Uint64(brk),
		MmArgStart: proto.Uint64(st.ArgStart), MmArgEnd: proto.Uint64(st.ArgEnd),
		MmEnvStart: proto.Uint64(st.EnvStart), MmEnvEnd: proto.Uint64(st.EnvEnd),
		ExeFileId: proto.Uint32(exeID), MmSavedAuxv: auxv, Dumpable: proto.Int32(1),
	}
	for _, a := range areas {
		mm.Vmas = append(mm.Vmas, a.e)
	}
	return mm, nil
}

func (d *dumper) dumpFs() (*images.FsEntry, error) {
	cwd, err := os.Readlink(procfs.Path(d.pid, "cwd"))
	if err != nil {
		return nil, err
	}
	root, err := os.Readlink(procfs.Path(d.pid, "root"))
	if err != nil {
		return nil, err
	}
	cwdID, err := d.files.addReg(cwd, procfs.Path(d.pid, "cwd"), unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		return nil, err
	}
	rootID, err := d.files.addReg(root, procfs.Path(d.pid, "root"), unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		return nil, err
	}
	st, err := procfs.ReadStatus(d.pid)
	if err != nil {
		return nil, err
	}
	umask, err := st.Octal("Umask")
	if err != nil {
		return nil, err
	}
	return &images.FsEntry{CwdId: proto.Uint32(cwdID), RootId: proto.Uint32(rootID), Umask: proto.Uint32(umask)}, nil
}
