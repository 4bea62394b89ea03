package restore_test

import (
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ebpfFilteredSocket returns a UDP socket with an eBPF socket filter
// attached (SO_ATTACH_BPF), a program that drops every packet: r0 = 0;
// exit. It skips where the kernel has no bpf().
func ebpfFilteredSocket(t *testing.T) int {
	t.Helper()
	// struct bpf_insn (uapi/linux/bpf.h): code, dst/src registers,
	// offset, immediate.
	type insn struct {
		code uint8
		regs uint8
		off  int16
		imm  int32
	}
	prog := []insn{{code: 0xb7}, {code: 0x95}} // BPF_ALU64|BPF_MOV|BPF_K r0 = 0; BPF_JMP|BPF_EXIT
	license := []byte("GPL\x00")
	// union bpf_attr for BPF_PROG_LOAD: prog_type, insn_cnt, insns,
	// license; the rest zero.
	var attr [72]byte
	*(*uint32)(unsafe.Pointer(&attr[0])) = 1 // BPF_PROG_TYPE_SOCKET_FILTER
	*(*uint32)(unsafe.Pointer(&attr[4])) = uint32(len(prog))
	*(*uint64)(unsafe.Pointer(&attr[8])) = uint64(uintptr(unsafe.Pointer(&prog[0])))
	*(*uint64)(unsafe.Pointer(&attr[16])) = uint64(uintptr(unsafe.Pointer(&license[0])))
	pfd, _, e := unix.Syscall(unix.SYS_BPF, 5 /* BPF_PROG_LOAD */, uintptr(unsafe.Pointer(&attr[0])), unsafe.Sizeof(attr))
	if e == unix.ENOSYS {
		t.Skip("no bpf() in this kernel")
	}
	if e != 0 {
		t.Fatalf("bpf(BPF_PROG_LOAD): %v", e)
	}
	defer unix.Close(int(pfd))
	s, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.SetsockoptInt(s, unix.SOL_SOCKET, unix.SO_ATTACH_BPF, int(pfd)); err != nil {
		t.Fatalf("SO_ATTACH_BPF: %v", err)
	}
	return s
}
