package ipcns

import (
	"testing"
	"unsafe"

	"github.com/criugo/criu/criu/nsenter/nstest"
)

func TestMain(m *testing.M) { nstest.Main(m) }

// The structures match the kernel's 64-bit layouts (checked against
// glibc's sizeof and offsetof on x86_64).
func TestLayouts(t *testing.T) {
	var s semidDS
	var m msqidDS
	for _, c := range []struct {
		what      string
		got, want uintptr
	}{
		{"sizeof(ipc64_perm)", unsafe.Sizeof(ipcPerm{}), 48},
		{"offsetof(ipc64_perm, mode)", unsafe.Offsetof(ipcPerm{}.Mode), 20},
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
