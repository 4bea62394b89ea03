package restore_test

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/crtest"
	"github.com/criugo/criu/criu/dump"
	"github.com/criugo/criu/criu/image"
)

// A task whose dump fails must run on exactly as before.
func checkStillRuns(t *testing.T, pid int, out string) {
	t.Helper()
	if !crtest.Alive(pid) {
		t.Fatal("task died")
	}
	n, _ := counterLines(t, out)
	crtest.WaitFor(t, out, "\n"+strconv.Itoa(n+5)+" 0\n", 5*time.Second)
	syscall.Kill(pid, syscall.SIGUSR2)
	crtest.WaitFor(t, out, "PASS", 5*time.Second)
	counterLines(t, out)
}

// startCounterWith starts the counter workload bin in a session of its
// own, with files as its fds 3, 4..., writing to dir/out.txt, and waits
// until it counts. The task is killed when the test ends.
func startCounterWith(t *testing.T, bin, dir string, files ...*os.File) (pid int, out string) {
	t.Helper()
	out = filepath.Join(dir, "out.txt")
	cmd := exec.Command(bin, out)
	cmd.ExtraFiles = files
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid = cmd.Process.Pid
	t.Cleanup(func() { crtest.Kill(pid) })
	crtest.WaitFor(t, out, "\n3 0\n", 5*time.Second)
	return pid, out
}

func TestDumpUnsupportedFd(t *testing.T) {
	setup(t)
	bin := crtest.BuildC(t, filepath.Join(crtest.SourceDir(), "counter.c"), false)
	dir := t.TempDir()
	// A pidfd: not checkpointed yet (a pipe to outside the tree was
	// the example until external pipes were dumped as CRIU does).
	pfd, err := unix.PidfdOpen(os.Getpid(), 0)
	if err != nil {
		t.Fatalf("pidfd_open: %v", err)
	}
	r := os.NewFile(uintptr(pfd), "pidfd")
	defer r.Close()
	pid, out := startCounterWith(t, bin, dir, r)
	res, err := crtest.Run(context.Background(), crtest.Criu(t), "dump", "-t", strconv.Itoa(pid), "-D", dir)
	if err == nil || !strings.Contains(res, "fd 3 (anon_inode:[pidfd])") {
		t.Fatalf("dump with a pidfd: err %v, output %q", err, res)
	}
	if _, err := os.Stat(filepath.Join(dir, "inventory.img")); err == nil {
		t.Error("a failed dump left inventory.img")
	}
	checkStillRuns(t, pid, out)
}

func TestDumpBadImagesDir(t *testing.T) {
	setup(t)
	bin := crtest.BuildC(t, filepath.Join(crtest.SourceDir(), "counter.c"), false)
	dir := t.TempDir()
	out := filepath.Join(dir, "out.txt")
	cmd := crtest.Start(t, bin, out)
	pid := cmd.Process.Pid
	defer crtest.Kill(pid)
	crtest.WaitFor(t, out, "\n3 0\n", 5*time.Second)
	res, err := crtest.Run(context.Background(), crtest.Criu(t), "dump", "-t", strconv.Itoa(pid), "-D", filepath.Join(dir, "no/such/dir"))
	if err == nil {
		t.Fatalf("dump into a missing dir succeeded: %s", res)
	}
	t.Logf("error: %s", strings.TrimSpace(res))
	checkStillRuns(t, pid, out)
}

func TestDumpNoTask(t *testing.T) {
	setup(t)
	res, err := crtest.Run(context.Background(), crtest.Criu(t), "dump", "-t", "4000000", "-D", t.TempDir())
	if err == nil || !strings.Contains(res, "no such task") {
		t.Fatalf("dump of a missing pid: err %v, output %q", err, res)
	}
}

// A restore from a damaged image fails and leaves no process behind.
func TestRestoreCorruptImage(t *testing.T) {
	setup(t)
	bin := crtest.BuildC(t, filepath.Join(crtest.SourceDir(), "counter.c"), false)
	for _, tc := range []struct {
		name   string
		damage func(dir string, pid int) error
	}{
		{"truncated pages", func(dir string, pid int) error {
			return os.Truncate(filepath.Join(dir, "pages-1.img"), 4096)
		}},
		{"garbage core", func(dir string, pid int) error {
			return os.WriteFile(filepath.Join(dir, "core-"+strconv.Itoa(pid)+".img"), []byte("\x19\x43\x56\x54\x47\x38\x05\x55\xff\xff\x00\x00garbage"), 0o644)
		}},
		{"missing mm", func(dir string, pid int) error {
			return os.Remove(filepath.Join(dir, "mm-"+strconv.Itoa(pid)+".img"))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			out := filepath.Join(dir, "out.txt")
			cmd := crtest.Start(t, bin, out)
			pid := cmd.Process.Pid
			defer crtest.Kill(pid)
			crtest.WaitFor(t, out, "\n3 0\n", 5*time.Second)
			img := filepath.Join(dir, "img")
			os.Mkdir(img, 0o755)
			dumpCmd(t, pid, img)
			cmd.Wait()
			if err := tc.damage(img, pid); err != nil {
				t.Fatal(err)
			}
			res, err := crtest.Run(context.Background(), crtest.Criu(t), "restore", "-D", img, "-d")
			if err == nil {
				t.Fatalf("restore from a damaged image succeeded: %s", res)
			}
			t.Logf("error: %s", strings.TrimSpace(res))
			crtest.Reap(pid)
			if _, err := os.Stat("/proc/" + strconv.Itoa(pid)); err == nil {
				t.Fatalf("pid %d exists after a failed restore", pid)
			}
			// No stub is left either.
			ents, _ := os.ReadDir("/proc")
			for _, e := range ents {
				if exe, err := os.Readlink("/proc/" + e.Name() + "/exe"); err == nil && exe == bin {
					t.Errorf("process %s still runs %s", e.Name(), bin)
				}
			}
		})
	}
}

// failStore fails Create of one image, or Finish.
type failStore struct {
	image.Store
	name string // image whose Create fails; "" fails Finish
}

func (s *failStore) Create(ctx context.Context, name string) (image.Writer, error) {
	if name == s.name {
		return nil, errors.New("injected: no space left on device")
	}
	return s.Store.Create(ctx, name)
}

func (s *failStore) Finish(ctx context.Context) error {
	if s.name == "" {
		return errors.New("injected: finish failed")
	}
	return s.Store.Finish(ctx)
}

// A store failing in the middle of a dump, while the task is frozen and
// syscalls have been injected, leaves it running as before.
func TestDumpStoreFails(t *testing.T) {
	setup(t)
	bin := crtest.BuildC(t, filepath.Join(crtest.SourceDir(), "counter.c"), false)
	for _, name := range []string{"pages-1.img", "core-PID.img", ""} {
		t.Run("fail "+name, func(t *testing.T) {
			dir := t.TempDir()
			out := filepath.Join(dir, "out.txt")
			cmd := crtest.Start(t, bin, out)
			pid := cmd.Process.Pid
			defer crtest.Kill(pid)
			crtest.WaitFor(t, out, "\n3 0\n", 5*time.Second)
			d, err := image.NewDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			s := &failStore{Store: d, name: strings.ReplaceAll(name, "PID", strconv.Itoa(pid))}
			_, err = dump.Dump(context.Background(), s, dump.Options{Pid: pid, Log: zerolog.New(zerolog.NewTestWriter(t))})
			if err == nil || !strings.Contains(err.Error(), "injected") {
				t.Fatalf("dump: %v", err)
			}
			checkStillRuns(t, pid, out)
		})
	}
}

// A socket whose peer is outside the tree, and an established TCP
// connection, fail the dump naming the socket; the task runs on.
func TestDumpSocketOutside(t *testing.T) {
	setup(t)
	bin := crtest.BuildC(t, filepath.Join(crtest.SourceDir(), "counter.c"), false)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cases := []struct {
		name string
		file func(t *testing.T) *os.File
		want string
	}{
		{"unix", func(t *testing.T) *os.File {
			fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { unix.Close(fds[1]) })
			return os.NewFile(uintptr(fds[0]), "sk")
		}, "reaches outside the dumped tree"},
		{"tcp", func(t *testing.T) *os.File {
			c, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			f, err := c.(*net.TCPConn).File()
			if err != nil {
				t.Fatal(err)
			}
			return f
		}, "need --tcp-established"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			f := tc.file(t)
			pid, out := startCounterWith(t, bin, dir, f)
			f.Close()
			res, err := crtest.Run(context.Background(), crtest.Criu(t), "dump", "-t", strconv.Itoa(pid), "-D", dir)
			if err == nil || !strings.Contains(res, "fd 3 (socket:[") || !strings.Contains(res, tc.want) {
				t.Fatalf("dump: err %v, output %q", err, res)
			}
			checkStillRuns(t, pid, out)
		})
	}
}
