package linux

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// TestMain fails the package if a test leaves an fd open.
func TestMain(m *testing.M) {
	// The runtime's poller opens its own fds at first use: not a leak.
	if r, w, err := os.Pipe(); err == nil {
		r.Close()
		w.Close()
	}
	before := openFds()
	code := m.Run()
	if after := openFds(); code == 0 && after > before {
		fmt.Fprintf(os.Stderr, "fd leak: %d fds open before the tests, %d after\n", before, after)
		code = 1
	}
	os.Exit(code)
}

func openFds() int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		panic(err)
	}
	return len(ents)
}

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
}

func TestRetryEINTR(t *testing.T) {
	for _, c := range []struct {
		retries, fails, wantCalls int
		wantErr                   error
	}{
		{0, 0, 1, nil},
		{0, 1, 1, unix.EINTR},
		{Once, 1, 2, nil},
		{Once, 2, 2, unix.EINTR},
		{Always, 5, 6, nil},
	} {
		calls := 0
		v, err := RetryEINTR(c.retries, func() (int, error) {
			calls++
			if calls <= c.fails {
				return -1, unix.EINTR
			}
			return 7, nil
		})
		if calls != c.wantCalls || !errors.Is(err, c.wantErr) || (err == nil && v != 7) {
			t.Errorf("retries %d, %d EINTRs: %d calls, %v, %v; want %d calls, %v", c.retries, c.fails, calls, v, err, c.wantCalls, c.wantErr)
		}
	}
	// Another error is not retried.
	calls := 0
	err := retryErr(Always, func() error { calls++; return unix.EAGAIN })
	if calls != 1 || err != unix.EAGAIN {
		t.Errorf("EAGAIN: %d calls, %v", calls, err)
	}
}

// The structs match the kernel's x86_64 layouts (sizes and offsets from
// the headers named in their comments, checked against gcc's sizeof and
// offsetof).
func TestLayouts(t *testing.T) {
	var ca CloneArgs
	var st StackT
	var mm PrctlMMMap
	var fp SockFprog
	var s SemidDS
	var m MsqidDS
	for _, c := range []struct {
		what      string
		got, want uintptr
	}{
		{"sizeof(struct clone_args)", unsafe.Sizeof(ca), CloneArgsSize},
		{"offsetof(clone_args, set_tid)", unsafe.Offsetof(ca.SetTid), 64},
		{"offsetof(clone_args, cgroup)", unsafe.Offsetof(ca.Cgroup), 80},
		{"sizeof(struct sigaction) for rt_sigaction", unsafe.Sizeof(KSigaction{}), KSigactionSize},
		{"sizeof(stack_t)", unsafe.Sizeof(st), StackTSize},
		{"offsetof(stack_t, ss_size)", unsafe.Offsetof(st.Size), 16},
		{"sizeof(struct prctl_mm_map)", unsafe.Sizeof(mm), PrctlMMMapSize},
		{"offsetof(prctl_mm_map, auxv)", unsafe.Offsetof(mm.Auxv), 88},
		{"offsetof(prctl_mm_map, exe_fd)", unsafe.Offsetof(mm.ExeFd), 100},
		{"sizeof(struct sock_fprog)", unsafe.Sizeof(fp), SockFprogSize},
		{"offsetof(sock_fprog, filter)", unsafe.Offsetof(fp.Filter), 8},
		{"sizeof(struct kcmp_epoll_slot)", unsafe.Sizeof(KcmpEpollSlot{}), 12},
		{"sizeof(struct f_owner_ex)", unsafe.Sizeof(FOwnerEx{}), 8},
		{"sizeof(struct tcp_repair_window)", unsafe.Sizeof(TCPRepairWindow{}), 20},
		{"offsetof(tcp_info, tcpi_rto)", unsafe.Sizeof(TCPInfoHead{}), 8},
		{"sizeof(struct pm_scan_arg)", unsafe.Sizeof(PmScanArg{}), PmScanArgSize},
		{"sizeof(struct page_region)", unsafe.Sizeof(PageRegion{}), 24},
		{"sizeof(struct uffdio_api)", unsafe.Sizeof(UffdioAPI{}), 24},
		{"sizeof(struct uffdio_register)", unsafe.Sizeof(UffdioRegister{}), 32},
		{"sizeof(struct uffdio_writeprotect)", unsafe.Sizeof(UffdioWriteprotect{}), 24},
		{"sizeof(struct ptrace_rseq_configuration)", unsafe.Sizeof(RseqConfig{}), 24},
		{"sizeof(struct ptrace_peeksiginfo_args)", unsafe.Sizeof(peekSiginfoArgs{}), 16},
		{"sizeof(struct seccomp_metadata)", unsafe.Sizeof(seccompMetadata{}), 16},
		{"sizeof(ipc64_perm)", unsafe.Sizeof(IpcPerm{}), 48},
		{"offsetof(ipc64_perm, mode)", unsafe.Offsetof(IpcPerm{}.Mode), 20},
		{"sizeof(semid64_ds)", unsafe.Sizeof(s), 104},
		{"offsetof(semid64_ds, sem_nsems)", unsafe.Offsetof(s.Nsems), 80},
		{"sizeof(msqid64_ds)", unsafe.Sizeof(m), 120},
		{"offsetof(msqid64_ds, msg_cbytes)", unsafe.Offsetof(m.Cbytes), 72},
		{"offsetof(msqid64_ds, msg_qnum)", unsafe.Offsetof(m.Qnum), 80},
		{"offsetof(msqid64_ds, msg_qbytes)", unsafe.Offsetof(m.Qbytes), 88},
		{"offsetof(msqid64_ds, msg_lspid)", unsafe.Offsetof(m.Lspid), 96},
	} {
		if c.got != c.want {
			t.Errorf("%s = %d, want %d", c.what, c.got, c.want)
		}
	}
}

// Bytes gives what the hand encodings criu injected before gave: the
// struct as it sits in memory.
func TestBytes(t *testing.T) {
	le := binary.LittleEndian
	mem := func(p unsafe.Pointer, n uintptr) []byte { return bytes.Clone(unsafe.Slice((*byte)(p), n)) }

	ca := CloneArgs{Flags: unix.CLONE_FILES | unix.CLONE_FS, ExitSignal: uint64(unix.SIGCHLD), SetTid: 0x7ffd0058, SetTidSize: 1}
	want := make([]byte, 88)
	le.PutUint64(want[0:], ca.Flags)
	le.PutUint64(want[32:], uint64(unix.SIGCHLD))
	le.PutUint64(want[64:], 0x7ffd0058)
	le.PutUint64(want[72:], 1)
	if got := ca.Bytes(); !bytes.Equal(got, want) || !bytes.Equal(got, mem(unsafe.Pointer(&ca), unsafe.Sizeof(ca))) {
		t.Errorf("CloneArgs.Bytes = %x, want %x", got, want)
	}

	sa := KSigaction{Handler: 0x401000, Flags: 0x14000004, Restorer: 0x401100, Mask: 1 << 9}
	want = make([]byte, 32)
	le.PutUint64(want[0:], sa.Handler)
	le.PutUint64(want[8:], sa.Flags)
	le.PutUint64(want[16:], sa.Restorer)
	le.PutUint64(want[24:], sa.Mask)
	if got := sa.Bytes(); !bytes.Equal(got, want) {
		t.Errorf("KSigaction.Bytes = %x, want %x", got, want)
	}
	if got := DecodeKSigaction(want); got != sa {
		t.Errorf("DecodeKSigaction = %+v, want %+v", got, sa)
	}

	ss := StackT{Sp: 0x7f0000001000, Flags: SS_AUTODISARM, Size: 65536}
	want = make([]byte, 24)
	le.PutUint64(want[0:], ss.Sp)
	le.PutUint32(want[8:], SS_AUTODISARM)
	le.PutUint64(want[16:], ss.Size)
	if got := ss.Bytes(); !bytes.Equal(got, want) {
		t.Errorf("StackT.Bytes = %x, want %x", got, want)
	}
	if got := DecodeStackT(want); got != ss {
		t.Errorf("DecodeStackT = %+v, want %+v", got, ss)
	}

	mm := PrctlMMMap{StartCode: 1, EndCode: 2, StartData: 3, EndData: 4, StartBrk: 5, Brk: 6, StartStack: 7,
		ArgStart: 8, ArgEnd: 9, EnvStart: 10, EnvEnd: 11, Auxv: 0x7000, AuxvSize: 368, ExeFd: NoExeFd}
	want = make([]byte, 104)
	for i := range 11 {
		le.PutUint64(want[i*8:], uint64(i+1))
	}
	le.PutUint64(want[88:], 0x7000)
	le.PutUint32(want[96:], 368)
	le.PutUint32(want[100:], 0xffffffff)
	if got := mm.Bytes(); !bytes.Equal(got, want) || !bytes.Equal(got, mem(unsafe.Pointer(&mm), unsafe.Sizeof(mm))) {
		t.Errorf("PrctlMMMap.Bytes = %x, want %x", got, want)
	}

	fp := SockFprog{Len: 3, Filter: 0x1010}
	want = make([]byte, 16)
	le.PutUint16(want[0:], 3)
	le.PutUint64(want[8:], 0x1010)
	if got := fp.Bytes(); !bytes.Equal(got, want) {
		t.Errorf("SockFprog.Bytes = %x, want %x", got, want)
	}
}

// The Go runtime gives each thread an alternate signal stack and its own
// handler for SIGURG: the wrappers read them back.
func TestSigaltstackAndRtSigaction(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var ss StackT
	if err := Sigaltstack(nil, &ss); err != nil {
		t.Fatal(err)
	}
	if ss.Flags&SS_DISABLE != 0 || ss.Size == 0 || ss.Sp == 0 {
		t.Errorf("sigaltstack of a Go thread = %+v, want the runtime's stack", ss)
	}
	var sa KSigaction
	if err := RtSigaction(int(unix.SIGURG), nil, &sa); err != nil {
		t.Fatal(err)
	}
	const saSiginfo, saOnstack, saRestorer = 4, 0x08000000, 0x04000000
	if sa.Handler == 0 || sa.Flags&(saSiginfo|saOnstack|saRestorer) != saSiginfo|saOnstack|saRestorer {
		t.Errorf("SIGURG action = %+v, want the runtime's handler", sa)
	}
	if err := RtSigaction(int(unix.SIGKILL), &sa, nil); !errors.Is(err, unix.EINVAL) {
		t.Errorf("rt_sigaction(SIGKILL) = %v, want EINVAL", err)
	}
}

func TestProbes(t *testing.T) {
	if n, err := PrctlGetMMMapSize(); err != nil || n != PrctlMMMapSize {
		t.Errorf("PR_SET_MM_MAP_SIZE = %d, %v; want %d", n, err, PrctlMMMapSize)
	}
	var ca CloneArgs
	if _, err := Clone3(&ca, 8); !errors.Is(err, unix.EINVAL) {
		t.Errorf("clone3 with 8 bytes = %v, want EINVAL", err)
	}
	if err := RseqUnregister(0, 0, 0); !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOSYS) {
		t.Errorf("rseq unregister of NULL = %v, want EINVAL", err)
	}
	if sub, err := PrctlGetChildSubreaper(); err != nil || sub {
		t.Errorf("PR_GET_CHILD_SUBREAPER = %v, %v", sub, err)
	}
	if _, err := IoprioGet(IOPRIO_WHO_PROCESS, 0); err != nil {
		t.Error(err)
	}
	var se *os.SyscallError
	if err := Setns(-1, 0); !errors.As(err, &se) || se.Syscall != "setns" || !errors.Is(err, unix.EBADF) {
		t.Errorf("setns(-1) = %v, want setns: EBADF", err)
	}
}

func TestKcmp(t *testing.T) {
	needRoot(t)
	ep, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(ep)
	ev, err := unix.Eventfd(0, unix.EFD_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(ev)
	if err := unix.EpollCtl(ep, unix.EPOLL_CTL_ADD, ev, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(ev)}); err != nil {
		t.Fatal(err)
	}
	pid := os.Getpid()
	if same, err := KcmpEpollTfd(pid, pid, ev, KcmpEpollSlot{Efd: uint32(ep), Tfd: uint32(ev)}); err != nil || !same {
		t.Errorf("KCMP_EPOLL_TFD of the target itself = %v, %v", same, err)
	}
	if same, err := KcmpEpollTfd(pid, pid, ep, KcmpEpollSlot{Efd: uint32(ep), Tfd: uint32(ev)}); err != nil || same {
		t.Errorf("KCMP_EPOLL_TFD of another file = %v, %v", same, err)
	}
	if _, err := KcmpEpollTfd(pid, pid, ev, KcmpEpollSlot{Efd: uint32(ep), Tfd: uint32(ep)}); !errors.Is(err, unix.ENOENT) {
		t.Errorf("KCMP_EPOLL_TFD of no target = %v, want ENOENT", err)
	}
	d, err := unix.Dup(ev)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(d)
	if same, err := Kcmp(pid, pid, KCMP_FILE, ev, d); err != nil || !same {
		t.Errorf("KCMP_FILE of a dup = %v, %v", same, err)
	}
	if same, err := Kcmp(pid, pid, KCMP_FILE, ev, ep); err != nil || same {
		t.Errorf("KCMP_FILE of two files = %v, %v", same, err)
	}
}

func TestFileOwnerAndSockFilter(t *testing.T) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fds[0])
	defer unix.Close(fds[1])
	if own, err := FcntlGetOwnerEx(fds[0]); err != nil || own.Pid != 0 {
		t.Errorf("owner of a fresh socket = %+v, %v", own, err)
	}
	if _, err := unix.FcntlInt(uintptr(fds[0]), unix.F_SETOWN, os.Getpid()); err != nil {
		t.Fatal(err)
	}
	if own, err := FcntlGetOwnerEx(fds[0]); err != nil || own.Pid != int32(os.Getpid()) || own.Type != F_OWNER_PID {
		t.Errorf("owner = %+v, %v; want pid %d", own, err, os.Getpid())
	}
	if uid, euid, err := FcntlGetOwnerUids(fds[0]); err != nil && !errors.Is(err, unix.EINVAL) {
		t.Error(err)
	} else if err == nil && (uid != uint32(os.Getuid()) || euid != uint32(os.Geteuid())) {
		t.Errorf("owner uids = %d, %d", uid, euid)
	}

	if n, err := GetsockoptSockFilter(fds[0], nil); err != nil || n != 0 {
		t.Errorf("filter of a fresh socket: %d instructions, %v", n, err)
	}
	prog := []unix.SockFilter{{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: 0}, {Code: unix.BPF_RET | unix.BPF_K, K: 0xffff}}
	if err := unix.SetsockoptSockFprog(fds[0], unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &unix.SockFprog{Len: 2, Filter: &prog[0]}); err != nil {
		t.Fatal(err)
	}
	n, err := GetsockoptSockFilter(fds[0], nil)
	if err != nil || n != 2 {
		t.Fatalf("filter length = %d, %v; want 2", n, err)
	}
	got := make([]unix.SockFilter, n)
	if n, err := GetsockoptSockFilter(fds[0], got); err != nil || n != 2 || got[0] != prog[0] || got[1] != prog[1] {
		t.Errorf("filter = %d %v, %v; want %v", n, got, err, prog)
	}
}

func TestTimerfdSetTicks(t *testing.T) {
	fd, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_CLOEXEC|unix.TFD_NONBLOCK)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if err := TimerfdSetTicks(fd, 3); errors.Is(err, unix.ENOTTY) {
		t.Skip("kernel without CONFIG_CHECKPOINT_RESTORE")
	} else if err != nil {
		t.Fatal(err)
	}
	var b [8]byte
	if _, err := unix.Read(fd, b[:]); err != nil || binary.NativeEndian.Uint64(b[:]) != 3 {
		t.Errorf("read after 3 ticks set = %x, %v", b, err)
	}
}

func TestPreadPwriteProcessVM(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "f"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if n, err := Pwrite(int(f.Fd()), []byte("criu"), 4); err != nil || n != 4 {
		t.Fatalf("pwrite = %d, %v", n, err)
	}
	b := make([]byte, 8)
	if n, err := Pread(int(f.Fd()), b, 0); err != nil || n != 8 || string(b[4:]) != "criu" {
		t.Errorf("pread = %d %q, %v", n, b, err)
	}
	if _, err := Pread(-1, b, 0); err == nil || err.Error() != "pread: bad file descriptor" {
		t.Errorf("pread(-1) = %v", err)
	}

	src, dst := []byte("process_vm"), make([]byte, 10)
	local := []unix.Iovec{{Base: &dst[0], Len: uint64(len(dst))}}
	remote := []unix.RemoteIovec{{Base: SliceAddr(src), Len: len(src)}}
	if n, err := ProcessVMReadv(os.Getpid(), local, remote); err != nil || n != 10 || !bytes.Equal(src, dst) {
		t.Errorf("process_vm_readv = %d %q, %v", n, dst, err)
	}
	other := []byte("written!!!")
	local = []unix.Iovec{{Base: &other[0], Len: uint64(len(other))}}
	if n, err := ProcessVMWritev(os.Getpid(), local, remote); err != nil || n != 10 || string(src) != "written!!!" {
		t.Errorf("process_vm_writev = %d %q, %v", n, src, err)
	}
}

func TestWait4(t *testing.T) {
	var ws unix.WaitStatus
	if _, err := Wait4(-1, &ws, unix.WNOHANG); !errors.Is(err, unix.ECHILD) || err.Error() != "wait4: no child processes" {
		t.Errorf("wait4 without children = %v", err)
	}
}

func TestPoll(t *testing.T) {
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(p[0])
	defer unix.Close(p[1])
	fds := []unix.PollFd{{Fd: int32(p[0]), Events: unix.POLLIN}}
	if n, err := Poll(fds, 0); err != nil || n != 0 {
		t.Errorf("poll of an empty pipe = %d, %v", n, err)
	}
	if _, err := unix.Write(p[1], []byte{1}); err != nil {
		t.Fatal(err)
	}
	if n, err := Poll(fds, 0); err != nil || n != 1 || fds[0].Revents&unix.POLLIN == 0 {
		t.Errorf("poll of a pipe with a byte = %d %#x, %v", n, fds[0].Revents, err)
	}
}

func TestSliceAddr(t *testing.T) {
	b := make([]byte, 16)
	if SliceAddr(b) != uintptr(unsafe.Pointer(&b[0])) || SliceAddr(b[3:]) != SliceAddr(b)+3 {
		t.Error("SliceAddr is not the address of the first byte")
	}
}
