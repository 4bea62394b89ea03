package restore_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/crtest"
)

// ttyKey is CRIU's name of the terminal f: tty[RDEV:DEV] in hex.
func ttyKey(t *testing.T, f *os.File) (string, uint64) {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("tty[%x:%x]", st.Rdev, st.Dev), st.Rdev
}

// expect reads the master m until what came back contains want, or
// fails t after 5 s. It returns all that came back.
func expect(t *testing.T, m *os.File, want string) string {
	t.Helper()
	var got bytes.Buffer
	deadline := time.Now().Add(5 * time.Second)
	buf := make([]byte, 1024)
	for !strings.Contains(got.String(), want) {
		m.SetReadDeadline(deadline)
		n, err := m.Read(buf)
		got.Write(buf[:n])
		if err != nil {
			t.Fatalf("read the pty master: %v; got %q, want %q", err, got.String(), want)
		}
	}
	return got.String()
}

// statField is field n (1-based, proc(5)) of /proc/PID/stat.
func statField(t *testing.T, pid, n int) string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	return strings.Fields(s[strings.LastIndexByte(s, ')')+1:])[n-3]
}

// fdFlags is the flags line of /proc/PID/fdinfo/FD, without O_CLOEXEC.
func fdFlags(t *testing.T, pid, fd int) uint64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/fdinfo/%d", pid, fd))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "flags:"); ok {
			f, err := strconv.ParseUint(strings.TrimSpace(v), 8, 64)
			if err != nil {
				t.Fatal(err)
			}
			return f &^ unix.O_CLOEXEC
		}
	}
	t.Fatalf("no flags in fdinfo %d of %d", fd, pid)
	return 0
}

// A task whose stdio is a pty slave whose master a process outside the
// tree holds (a container's console: runc with terminal: true, conmon),
// its controlling terminal, as runc makes it (setsid, TIOCSCTTY). It is
// refused without --external tty[RDEV:DEV], naming that key, and runs
// on; refused with it while typed input waits unread (it would stay in
// the old terminal); dumped with it; a restore without --inherit-fd for that key fails
// naming it and leaves nothing behind; restored with --inherit-fd
// fd[N]:tty[RDEV:DEV], it has criu's fd N, a new pty's slave, at fds 0-2
// and 10 (another description, other flags) with the flags they had, as its controlling terminal again with its
// group in the foreground, with its termios (echo off) and window size:
// what the test types into the new master comes back as the task's
// answer only, naming its session and foreground group. On the host,
// criu runs in the terminal it hands over, its own session's controlling
// terminal, which the task takes over (as CRIU); in a pid namespace of
// its own (the task its init, as a container's) it does not.
func TestExternalTTYInheritFd(t *testing.T) {
	for _, pidns := range []bool{false, true} {
		t.Run(map[bool]string{false: "host", true: "pidns"}[pidns], func(t *testing.T) { testExternalTTY(t, pidns) })
	}
}

func testExternalTTY(t *testing.T, pidns bool) {
	setup(t)
	dir := t.TempDir()
	bin := crtest.BuildC(t, filepath.Join(crtest.SourceDir(), "ttyecho.c"), false)
	p := openPty(t)
	master, slave := p.master, p.slave
	key, _ := ttyKey(t, slave)
	if err := unix.IoctlSetWinsize(int(slave.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 33, Col: 77}); err != nil {
		t.Fatal(err)
	}
	// Only the slave must reach the workload (crtest.Start does so).
	if ents, err := os.ReadDir("/proc/self/fd"); err == nil {
		for _, e := range ents {
			if fd, err := strconv.Atoi(e.Name()); err == nil && fd > 2 {
				unix.CloseOnExec(fd)
			}
		}
	}
	log := filepath.Join(dir, "log.txt")
	cmd := exec.Command(bin, log)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if pidns {
		cmd.SysProcAttr.Cloneflags = syscall.CLONE_NEWPID
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	vpid := pid // as the task sees its pid
	if pidns {
		vpid = 1
	}
	defer crtest.Kill(pid)
	slave.Close()
	crtest.WaitFor(t, log, "ready\n", 5*time.Second)
	answer := func(m *os.File, word string) {
		t.Helper()
		if _, err := m.Write([]byte(word + "\n")); err != nil {
			t.Fatal(err)
		}
		want := fmt.Sprintf("echo: %s sid=%d pgrp=%d\r\n", word, vpid, vpid)
		if got := expect(t, m, want); got != want {
			t.Fatalf("the pty gave %q, want only %q (echo off)", got, want)
		}
	}
	answer(master, "one")
	fds := []int{0, 1, 2, 10}
	var flags []uint64
	for _, fd := range fds {
		flags = append(flags, fdFlags(t, pid, fd))
	}

	// Without --external: refused, naming the key; the task runs on.
	res, err := crtest.Run(context.Background(), crtest.Criu(t), "dump", "-t", strconv.Itoa(pid), "-D", t.TempDir())
	if err == nil || !strings.Contains(res, "fd 0 (terminal /dev/pts/") || !strings.Contains(res, "--external "+key) {
		t.Fatalf("dump without --external: err %v, want a refusal of fd 0 naming --external %s:\n%s", err, key, res)
	}
	answer(master, "still")

	// Input typed and not read yet would stay in the old terminal:
	// refused, by name; the task reads it afterwards.
	unix.Kill(pid, unix.SIGSTOP)
	for i := 0; statField(t, pid, 3) != "T"; i++ {
		if i == 500 {
			t.Fatal("the task did not stop")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := master.Write([]byte("wait\n")); err != nil {
		t.Fatal(err)
	}
	res, err = crtest.Run(context.Background(), crtest.Criu(t), "dump", "-t", strconv.Itoa(pid), "-D", t.TempDir(), "--external", key)
	if err == nil || !strings.Contains(res, "5 bytes of input to the external terminal /dev/pts/") || !strings.Contains(res, key) {
		t.Fatalf("dump with unread input: err %v, want a refusal naming 5 bytes and %s:\n%s", err, key, res)
	}
	unix.Kill(pid, unix.SIGCONT)
	want := fmt.Sprintf("echo: wait sid=%d pgrp=%d\r\n", vpid, vpid)
	if got := expect(t, master, want); got != want {
		t.Fatalf("after the refused dump the pty gave %q, want %q", got, want)
	}

	img := filepath.Join(dir, "img")
	os.Mkdir(img, 0o755)
	dumpCmd(t, pid, img, "--external", key)
	cmd.Wait()

	// Without --inherit-fd: fails naming the key, leaves nothing.
	res, err = crtest.Run(context.Background(), crtest.Criu(t), "restore", "-D", img, "-d", "-v4", "-o", filepath.Join(img, "restore-noinherit.log"))
	if err == nil || !strings.Contains(res, "--inherit-fd fd[N]:"+key) || !strings.Contains(res, fmt.Sprintf("task %d fd 0 ", vpid)) {
		t.Fatalf("restore without --inherit-fd: err %v, want an error naming the task and --inherit-fd fd[N]:%s:\n%s", err, key, res)
	}
	if crtest.Alive(pid) {
		t.Fatalf("task %d is alive after a failed restore", pid)
	}

	p2 := openPty(t)
	master2, slave2 := p2.master, p2.slave
	_, rdev2 := ttyKey(t, slave2)
	var got int
	if pidns {
		got = restoreWith(t, img, []*os.File{slave2}, "--inherit-fd", "fd[3]:"+key)
	} else {
		// criu runs in the terminal it hands over, which is its own
		// session's controlling terminal (tmux new-window 'criu
		// restore --inherit-fd fd[0]:tty[...]'): the task takes it
		// over, as with CRIU.
		pidfile := filepath.Join(img, "restored.pid")
		rc := exec.Command(crtest.Criu(t), "restore", "-D", img, "-d", "-v4", "-o", filepath.Join(img, "restore.log"), "--pidfile", pidfile, "--inherit-fd", "fd[0]:"+key)
		rc.Stdin = slave2
		rc.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
		if b, err := rc.CombinedOutput(); err != nil {
			log, _ := os.ReadFile(filepath.Join(img, "restore.log"))
			t.Fatalf("criu restore in the terminal it hands over: %v\n%s\n%s", err, b, log)
		}
		b, err := os.ReadFile(pidfile)
		if err != nil {
			t.Fatal(err)
		}
		got, _ = strconv.Atoi(string(b))
	}
	if pidns {
		// A new host pid: its pid inside (1) is what is restored.
		defer crtest.Kill(got)
		pid = got
	} else if got != pid {
		t.Fatalf("restored pid %d, want %d", got, pid)
	}
	slave2.Close()
	answer(master2, "two")
	if tty := statField(t, pid, 7); tty != strconv.FormatUint(rdev2, 10) {
		t.Errorf("restored controlling terminal (tty_nr) %s, want the new slave's %d", tty, rdev2)
	}
	if fg := statField(t, pid, 8); fg != strconv.Itoa(pid) {
		t.Errorf("restored foreground group (tpgid) %s, want %d", fg, pid)
	}
	for i, fd := range fds {
		if f := fdFlags(t, pid, fd); f != flags[i] {
			t.Errorf("fd %d flags %o after restore, want %o", fd, f, flags[i])
		}
		if l, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%d", pid, fd)); err != nil || l != p2.name {
			t.Errorf("fd %d after restore: %q (%v), want the new slave %s", fd, l, err, p2.name)
		}
	}
	rc, err := master2.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var ws *unix.Winsize
	rc.Control(func(fd uintptr) { ws, err = unix.IoctlGetWinsize(int(fd), unix.TIOCGWINSZ) })
	if err != nil || ws.Row != 33 || ws.Col != 77 {
		t.Errorf("window size of the new pty %+v (%v), want 33x77", ws, err)
	}
}
