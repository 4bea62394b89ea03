package kerndat

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/netlock"
	"github.com/criugo/criu/criu/ptrace"
	"github.com/criugo/criu/internal/linux"
)

// Result is the outcome of one probe.
type Result struct {
	Name     string // short feature name, e.g. "ptrace-seize"
	Required bool   // dump or restore cannot work without it
	OK       bool
	Detail   string // what was found, or why it failed
}

// Probe is one named kernel feature check.
type Probe struct {
	Name     string
	Required bool
	Doc      string
	Run      func() (detail string, err error)
}

// Probes lists every check `criu check` runs, in order.
var Probes = []Probe{
	{"ptrace-seize", true, "PTRACE_SEIZE and PTRACE_INTERRUPT stop a task without a signal", probePtrace},
	{"clone3-set_tid", true, "clone3 with set_tid recreates tasks with their old PIDs", probeClone3},
	{"prctl-mm-map", true, "PR_SET_MM_MAP restores mm fields (brk, args, env, auxv)", probeMMMap},
	{"process_vm_readv", true, "process_vm_readv/writev copy memory between processes", probeVMReadv},
	{"vdso", true, "the vDSO has a syscall instruction and a known layout", probeVDSO},
	{"rseq", false, "the rseq syscall (restartable sequences) exists", probeRseq},
	{"pidfd", false, "pidfd_open exists", probePidfd},
	{"userfaultfd", false, "userfaultfd exists (lazy pages)", probeUserfaultfd},
	{"mem-soft-dirty", false, "soft-dirty page tracking (incremental pre-dump)", probeSoftDirty},
	{"namespaces", false, "trees with pid, net, ipc, uts and mnt namespaces of their own: the ns files, a pidfd reopened through /proc (how tasks in a pid namespace reach the restorer), the ip tool", probeNamespaces},
	{"network-lock", false, "the network lock of a dump (--network-lock): nft with concatenated sets, else iptables-restore", netlock.Probe},
	{"mem-track", false, "memory write tracking without soft-dirty: userfaultfd WP_ASYNC and PAGEMAP_SCAN (pre-dump --track-mem)", probeMemTrack},
}

// RunAll runs every probe.
func RunAll() []Result {
	out := make([]Result, 0, len(Probes))
	for _, p := range Probes {
		d, err := p.Run()
		r := Result{Name: p.Name, Required: p.Required, OK: err == nil, Detail: d}
		if err != nil {
			r.Detail = err.Error()
		}
		out = append(out, r)
	}
	return out
}

// probePtrace seizes a sleeping child through the ptrace package (the
// only caller of ptrace), checks that PTRACE_INTERRUPT stops it with a
// group-stop event, reads its registers, and lets it go.
func probePtrace() (string, error) {
	return seizeProbeChild(0, func(t *ptrace.Tracer, pid int) (string, error) {
		if _, err := t.GetRegs(pid); err != nil {
			return "", err
		}
		return "seize, interrupt, registers and detach work", nil
	})
}

func probeClone3() (string, error) {
	// A clone_args smaller than the first version is refused with
	// EINVAL by a kernel that has clone3 and ENOSYS by one without.
	var a linux.CloneArgs
	if _, err := linux.Clone3(&a, 8); errors.Is(err, unix.ENOSYS) {
		return "", fmt.Errorf("clone3 is not implemented by this kernel")
	}
	caps, err := effectiveCaps()
	if err != nil {
		return "", err
	}
	const capSysAdmin, capCheckpointRestore = 21, 40
	switch {
	case caps&(1<<capCheckpointRestore) != 0:
		return "clone3 present; CAP_CHECKPOINT_RESTORE allows set_tid", nil
	case caps&(1<<capSysAdmin) != 0:
		return "clone3 present; CAP_SYS_ADMIN allows set_tid", nil
	}
	return "", fmt.Errorf("clone3 present but set_tid needs CAP_CHECKPOINT_RESTORE or CAP_SYS_ADMIN, which this process lacks")
}

func effectiveCaps() (uint64, error) {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return 0, os.NewSyscallError("capget", err)
	}
	return uint64(data[0].Effective) | uint64(data[1].Effective)<<32, nil
}

func probeMMMap() (string, error) {
	size, err := linux.PrctlGetMMMapSize()
	if err != nil {
		return "", err
	}
	if size != linux.PrctlMMMapSize {
		return "", fmt.Errorf("struct prctl_mm_map is %d bytes, this build knows 104", size)
	}
	return "struct prctl_mm_map is 104 bytes", nil
}

func probeVMReadv() (string, error) {
	src := []byte("criu-probe")
	dst := make([]byte, len(src))
	local := []unix.Iovec{{Base: &dst[0], Len: uint64(len(dst))}}
	remote := []unix.RemoteIovec{{Base: linux.SliceAddr(src), Len: len(src)}}
	n, err := unix.ProcessVMReadv(os.Getpid(), local, remote, 0)
	if err != nil {
		return "", os.NewSyscallError("process_vm_readv", err)
	}
	if n != len(src) || !bytes.Equal(src, dst) {
		return "", fmt.Errorf("process_vm_readv copied %d bytes wrongly", n)
	}
	return "works", nil
}

// Mapping is one line of /proc/PID/maps reduced to what the probes need.
type Mapping struct {
	Start, End uint64
	Name       string
}

func specialMappings() ([]Mapping, error) {
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []Mapping
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 6 || !strings.HasPrefix(fields[5], "[v") {
			continue
		}
		lo, hi, _ := strings.Cut(fields[0], "-")
		s, err1 := strconv.ParseUint(lo, 16, 64)
		e, err2 := strconv.ParseUint(hi, 16, 64)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("parse /proc/self/maps line %q", sc.Text())
		}
		out = append(out, Mapping{s, e, fields[5]})
	}
	return out, sc.Err()
}

func probeVDSO() (string, error) {
	maps, err := specialMappings()
	if err != nil {
		return "", err
	}
	var parts []string
	var vdso *Mapping
	for i, m := range maps {
		parts = append(parts, fmt.Sprintf("%s %d pages", m.Name, (m.End-m.Start)/4096))
		if m.Name == "[vdso]" {
			vdso = &maps[i]
		}
	}
	if vdso == nil {
		return "", fmt.Errorf("no [vdso] mapping in /proc/self/maps")
	}
	mem, err := os.Open("/proc/self/mem")
	if err != nil {
		return "", err
	}
	defer mem.Close()
	buf := make([]byte, vdso.End-vdso.Start)
	if _, err := mem.ReadAt(buf, int64(vdso.Start)); err != nil {
		return "", fmt.Errorf("read [vdso]: %w", err)
	}
	off := bytes.Index(buf, []byte{0x0f, 0x05})
	if off < 0 {
		return "", fmt.Errorf("no syscall instruction (0f 05) in [vdso]")
	}
	return fmt.Sprintf("%s; syscall at vdso+%#x", strings.Join(parts, ", "), off), nil
}

func probeRseq() (string, error) {
	// Unregistering with a NULL area is EINVAL where rseq exists.
	if err := linux.RseqUnregister(0, 0, 0); errors.Is(err, unix.ENOSYS) {
		return "", fmt.Errorf("rseq is not implemented by this kernel")
	}
	return "present", nil
}

func probePidfd() (string, error) {
	fd, err := unix.PidfdOpen(os.Getpid(), 0)
	if err != nil {
		return "", os.NewSyscallError("pidfd_open", err)
	}
	unix.Close(fd)
	return "present", nil
}

func probeNamespaces() (string, error) {
	for _, k := range []string{"pid", "net", "ipc", "uts", "mnt"} {
		if _, err := os.Stat("/proc/self/ns/" + k); err != nil {
			return "", fmt.Errorf("%s namespaces: %w", k, err)
		}
	}
	pfd, err := unix.PidfdOpen(os.Getpid(), 0)
	if err != nil {
		return "", os.NewSyscallError("pidfd_open", err)
	}
	defer unix.Close(pfd)
	re, err := unix.Open(fmt.Sprintf("/proc/self/fd/%d", pfd), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", fmt.Errorf("reopen a pidfd through /proc: %w", err)
	}
	defer unix.Close(re)
	fd, err := unix.PidfdGetfd(re, pfd, 0)
	if err != nil {
		return "", fmt.Errorf("pidfd_getfd through a reopened pidfd: %w", err)
	}
	unix.Close(fd)
	tool := "ip"
	if v := os.Getenv("CR_IP_TOOL"); v != "" {
		tool = v
	}
	path, err := exec.LookPath(tool)
	if err != nil {
		return "", fmt.Errorf("network namespaces need the ip tool: %w", err)
	}
	return "ns files, pidfd reopen, " + path, nil
}

func probeUserfaultfd() (string, error) {
	fd, err := linux.Userfaultfd(unix.O_CLOEXEC | unix.O_NONBLOCK | linux.UFFD_USER_MODE_ONLY)
	if err != nil {
		return "", err
	}
	unix.Close(fd)
	return "present", nil
}

// probeSoftDirty checks bit 55 of a freshly written page's pagemap entry.
func probeSoftDirty() (string, error) {
	page, err := unix.Mmap(-1, 0, 4096, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		return "", os.NewSyscallError("mmap", err)
	}
	defer unix.Munmap(page)
	page[0] = 1
	if err := os.WriteFile("/proc/self/clear_refs", []byte("4"), 0); err != nil {
		return "", fmt.Errorf("clear soft-dirty bits: %w", err)
	}
	page[0] = 2
	f, err := os.Open("/proc/self/pagemap")
	if err != nil {
		return "", err
	}
	defer f.Close()
	var e [8]byte
	addr := linux.SliceAddr(page)
	if _, err := f.ReadAt(e[:], int64(addr/4096*8)); err != nil {
		return "", fmt.Errorf("read pagemap: %w", err)
	}
	if binary.LittleEndian.Uint64(e[:])&(1<<55) == 0 {
		return "", fmt.Errorf("a written page has no soft-dirty bit (CONFIG_MEM_SOFT_DIRTY is off)")
	}
	return "present", nil
}

// KernelRelease returns uname -r.
func KernelRelease() string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return "unknown"
	}
	return unix.ByteSliceToString(u.Release[:])
}
