package files

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/criugo/criu/criu/crtest"
	"github.com/criugo/criu/criu/errdefs"
)

// A fifo and a file opened in a directory that a tmpfs was then mounted
// over (upstream zdtm's overmount_fifo and overmount_file), or that was
// bound over itself (the same files on another mount: overmounted_file),
// are refused
// at dump by name, judged from the task's own root in its own mount
// namespace: in a namespace of its own (files opened there, and one
// opened before the namespace was copied), and in a pivot_root'ed
// container. A container's file of the host (opened before its
// pivot_root, on a mount its namespace does not have) is not taken for
// covered: nothing of the container is over it (mntns.CheckFiles judges
// it). Without the overmount every file is taken.
func TestCoveredRefused(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (mount, pivot_root)")
	}
	bin := crtest.BuildC(t, filepath.Join(crtest.SourceDir(), "covered.c"), false)
	for _, pivot := range []bool{false, true} {
		for cover := range 3 {
			name := fmt.Sprintf("pivot=%v,cover=%d", pivot, cover)
			dir := t.TempDir()
			for _, d := range []string{"pre", "d", "root"} {
				if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.WriteFile(filepath.Join(dir, "pre", "file"), []byte("x"), 0o644); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(bin, dir, map[bool]string{false: "0", true: "1"}[pivot], strconv.Itoa(cover))
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			if _, err := io.ReadFull(out, make([]byte, 6)); err != nil {
				cmd.Wait()
				t.Fatalf("%s: the helper did not get ready: %v (%v)", name, err, cmd.ProcessState)
			}
			for fd, what := range map[int]string{3: "fifo", 4: "file", 5: "file opened before unshare"} {
				link := fmt.Sprintf("/proc/%d/fd/%d", cmd.Process.Pid, fd)
				path, err := os.Readlink(link)
				if err != nil {
					t.Fatal(err)
				}
				_, _, err = NewSet().AddReg(func() uint32 { return 1 }, path, link, 0, 0)
				refused := err != nil && errors.Is(err, errdefs.ErrUnsupported) && strings.Contains(err.Error(), "covered by a mount")
				want := cover != 0 && !(pivot && fd == 5)
				if refused != want || (err != nil && !refused) {
					t.Errorf("%s: %s %s: AddReg: %v, want refused as covered: %v", name, what, path, err, want)
				}
			}
			cmd.Process.Kill()
			cmd.Wait()
		}
	}
}

// A file deleted while open whose directory a tmpfs was then mounted
// over (in a namespace of its own) is refused at dump by name: restore
// makes the ghost at its path, on the tmpfs. Not covered, it is taken.
func TestCoveredGhostRefused(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (mount)")
	}
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skip("needs unshare(1)")
	}
	for _, cover := range []bool{false, true} {
		dir := t.TempDir()
		sub := filepath.Join(dir, "d")
		if err := os.Mkdir(sub, 0o755); err != nil {
			t.Fatal(err)
		}
		over := ""
		if cover {
			over = "mount -t tmpfs covering " + sub + "; "
		}
		cmd := exec.Command("unshare", "-m", "--propagation", "private", "sh", "-c",
			"echo x > "+sub+"/g; exec 3<"+sub+"/g; rm "+sub+"/g; "+over+"echo ready; exec sleep 100")
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(out, make([]byte, 6)); err != nil {
			t.Fatal(err)
		}
		link := fmt.Sprintf("/proc/%d/fd/3", cmd.Process.Pid)
		_, _, err = NewSet().AddReg(func() uint32 { return 1 }, sub+"/g", link, 0, 0)
		if refused := err != nil && errors.Is(err, errdefs.ErrUnsupported) && strings.Contains(err.Error(), "which a mount made over its directory"); refused != cover || err != nil && !refused {
			t.Errorf("cover=%v: AddReg of the ghost: %v", cover, err)
		}
		cmd.Process.Kill()
		cmd.Wait()
	}
}
