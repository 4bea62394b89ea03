package treens

import (
	"errors"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"github.com/criugo/criu/criu/crtest"
	"github.com/criugo/criu/criu/errdefs"
	"github.com/criugo/criu/criu/procfs"
)

func TestMain(m *testing.M) { os.Exit(crtest.RunWithFdCheck(m)) }

func counter() func() uint32 {
	n := uint32(0)
	return func() uint32 { n++; return n }
}

// A tree in criu's namespaces has none of its own: each kind's id is
// criu's; a task in a uts namespace of its own, beside the root, is
// refused by name.
func TestCheck(t *testing.T) {
	crtest.RequireRoot(t)
	crtest.Subreaper(t)
	self := os.Getpid()
	ns, err := Check([]int{self}, counter())
	if err != nil {
		t.Fatal(err)
	}
	if ns.Mask != 0 || ns.PidNS() {
		t.Errorf("mask %#x for criu's own namespaces", ns.Mask)
	}
	for k, id := range ns.ID {
		if ns.CriuID[k] != id {
			t.Errorf("%s: id %d, criu's %d", k, id, ns.CriuID[k])
		}
		if want, _ := procfs.NsIno(self, k); ns.Ino[k] != want {
			t.Errorf("%s: inode %d, want %d", k, ns.Ino[k], want)
		}
	}
	if _, ok := ns.ID["uts"]; !ok {
		t.Errorf("no uts id: %v", ns.ID)
	}

	cmd := exec.Command("sleep", "100")
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWUTS}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	_, err = Check([]int{self, cmd.Process.Pid}, counter())
	if !errors.Is(err, errdefs.ErrUnsupported) || !strings.Contains(err.Error(), "another uts namespace") {
		t.Fatalf("a task in a uts namespace of its own: %v", err)
	}
	// As the root, its namespace is the tree's own.
	ns, err = Check([]int{cmd.Process.Pid}, counter())
	if err != nil {
		t.Fatal(err)
	}
	if ns.Mask != syscall.CLONE_NEWUTS || ns.ID["uts"] == ns.CriuID["uts"] {
		t.Errorf("a root in a uts namespace of its own: mask %#x, ids %v criu's %v", ns.Mask, ns.ID, ns.CriuID)
	}
}
