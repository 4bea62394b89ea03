package restore_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/crtest"
	"github.com/criugo/criu/criu/procfs"
)

// pty is a pseudo-terminal pair; the test holds the master.
type pty struct {
	master *os.File
	slave  *os.File // closed once given to a child
	name   string   // /dev/pts/N
	rdev   uint64
}

// openPty opens /dev/ptmx, unlocks the slave and opens it (without
// making it our controlling terminal).
func openPty(t *testing.T) *pty {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, unix.ENODEV) {
		t.Skipf("no ptys: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	rc, err := m.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var n uint32
	var ierr error
	if err := rc.Control(func(fd uintptr) {
		if ierr = unix.IoctlSetPointerInt(int(fd), unix.TIOCSPTLCK, 0); ierr != nil {
			return
		}
		n, ierr = unix.IoctlGetUint32(int(fd), unix.TIOCGPTN)
	}); err != nil || ierr != nil {
		t.Fatalf("unlock pty: %v %v", err, ierr)
	}
	p := &pty{master: m, name: fmt.Sprintf("/dev/pts/%d", n)}
	if p.slave, err = os.OpenFile(p.name, os.O_RDWR|unix.O_NOCTTY, 0); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.slave.Close() })
	var st unix.Stat_t
	if err := unix.Stat(p.name, &st); err != nil {
		t.Fatal(err)
	}
	p.rdev = st.Rdev
	return p
}

// fgGroup is the terminal's foreground process group.
func (p *pty) fgGroup(t *testing.T) int {
	t.Helper()
	rc, _ := p.master.SyscallConn()
	var pg int
	var ierr error
	rc.Control(func(fd uintptr) { pg, ierr = unix.IoctlGetInt(int(fd), unix.TIOCGPGRP) })
	if ierr != nil {
		t.Fatalf("TIOCGPGRP %s: %v", p.name, ierr)
	}
	return pg
}

// output collects what a reader yields (a pty master, a pipe).
type output struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	done chan struct{}
}

func collect(r io.Reader) *output {
	o := &output{done: make(chan struct{})}
	go func() {
		defer close(o.done)
		b := make([]byte, 4096)
		for {
			n, err := r.Read(b)
			o.mu.Lock()
			o.buf.Write(b[:n])
			o.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	return o
}

func (o *output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

func (o *output) waitFor(t *testing.T, what, s string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if strings.Contains(o.String(), s) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%s: no %q after 10s; got:\n%s", what, s, tailOf(o.String()))
}

// waitClosed waits until every writer has gone (EOF, or EIO on a pty).
func (o *output) waitClosed(t *testing.T, what string) {
	t.Helper()
	select {
	case <-o.done:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: still open", what)
	}
}

// waitCount waits until the counter reached n.
func (o *output) waitCount(t *testing.T, what string, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if cs := o.counts(); len(cs) > 0 && cs[len(cs)-1] >= n {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%s: no count %d after 10s; got:\n%s", what, n, tailOf(o.String()))
}

var countRE = regexp.MustCompile(`count (\d+)\r?\n`)

// counts lists the counter values printed, in order.
func (o *output) counts() []int {
	var cs []int
	for _, m := range countRE.FindAllStringSubmatch(o.String(), -1) {
		n, _ := strconv.Atoi(m[1])
		cs = append(cs, n)
	}
	return cs
}

func tailOf(s string) string {
	if len(s) > 1500 {
		return s[len(s)-1500:]
	}
	return s
}

func waitPidfile(t *testing.T, file string) int {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(file); err == nil {
			if pid, err := strconv.Atoi(string(b)); err == nil {
				return pid
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no pid in %s", file)
	return 0
}

// stdio is where a started process gets its fds 0-2: a pty (then also
// its controlling terminal, in a session of its own) or two pipes.
type stdio struct {
	pty       *pty
	in, out   *os.File // the child's ends of the pipes
	inW, outR *os.File // ours
}

func ptyStdio(t *testing.T) *stdio { return &stdio{pty: openPty(t)} }

func pipeStdio(t *testing.T) *stdio {
	t.Helper()
	s := &stdio{}
	var err error
	if s.in, s.inW, err = os.Pipe(); err != nil {
		t.Fatal(err)
	}
	if s.outR, s.out, err = os.Pipe(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, f := range []*os.File{s.in, s.inW, s.outR, s.out} {
			f.Close()
		}
	})
	return s
}

// start starts cmd on s in a new session, and returns what it prints.
func (s *stdio) start(t *testing.T, cmd *exec.Cmd) *output {
	t.Helper()
	// Only 0-2 must reach the child.
	if ents, err := os.ReadDir("/proc/self/fd"); err == nil {
		for _, e := range ents {
			if fd, err := strconv.Atoi(e.Name()); err == nil && fd > 2 {
				unix.CloseOnExec(fd)
			}
		}
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	var o *output
	if s.pty != nil {
		cmd.Stdin, cmd.Stdout, cmd.Stderr = s.pty.slave, s.pty.slave, s.pty.slave
		cmd.SysProcAttr.Setctty = true
		cmd.SysProcAttr.Ctty = 0
		o = collect(s.pty.master)
	} else {
		cmd.Stdin, cmd.Stdout, cmd.Stderr = s.in, s.out, s.out
		o = collect(s.outR)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// The child holds them now; a reader sees the end once it is gone.
	if s.pty != nil {
		s.pty.slave.Close()
	} else {
		s.in.Close()
		s.out.Close()
	}
	return o
}

// input types a line into the process's stdin.
func (s *stdio) input(t *testing.T, line string) {
	t.Helper()
	w := s.inW
	if s.pty != nil {
		w = s.pty.master
	}
	if _, err := w.Write([]byte(line + "\n")); err != nil {
		t.Fatal(err)
	}
}

// stdinName is what /proc/PID/fd/0 of a process on s reads.
func (s *stdio) stdinName(t *testing.T) string {
	t.Helper()
	if s.pty != nil {
		return s.pty.name
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(s.inW.Fd()), &st); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("pipe:[%d]", st.Ino)
}

// checkReads makes the job read a line from its stdin and print it.
func checkReads(t *testing.T, pid int, s *stdio, o *output, what string) {
	t.Helper()
	line := fmt.Sprintf("hello %s %d", what, time.Now().UnixNano())
	if err := unix.Kill(pid, unix.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	s.input(t, line)
	o.waitFor(t, what, "got: "+line)
}

// shellJobRoundTrip runs ttyjob (mode shell: the job is the child of a
// tiny shell, in the shell's session and a group of its own; mode
// leader: the job leads its own session) on first, dumps it with
// --shell-job, and restores it with `criu restore --shell-job` run on
// second, as a shell would run it (its own session there, with the pty as
// controlling terminal).
func shellJobRoundTrip(t *testing.T, mode string, first, second *stdio) {
	setup(t)
	bin := crtest.BuildC(t, filepath.Join(crtest.SourceDir(), "ttyjob.c"), false)
	dir := t.TempDir()
	img := filepath.Join(dir, "img")
	if err := os.Mkdir(img, 0o755); err != nil {
		t.Fatal(err)
	}
	pidfile := filepath.Join(dir, "job.pid")
	sh := exec.Command(bin, mode, pidfile)
	out1 := first.start(t, sh)
	pid := waitPidfile(t, pidfile)
	t.Cleanup(func() { crtest.Kill(pid); crtest.Kill(sh.Process.Pid) })
	out1.waitCount(t, "first stdio", 3)

	st, err := procfs.ReadStat(pid)
	if err != nil {
		t.Fatal(err)
	}
	wantSid, wantPgid := sh.Process.Pid, pid // the tiny shell's session, or the job's own
	if mode == "nojc" {
		wantPgid = sh.Process.Pid
	}
	if st.Session != wantSid || st.Pgrp != wantPgid {
		t.Fatalf("before dump: sid %d pgid %d, want %d and %d", st.Session, st.Pgrp, wantSid, wantPgid)
	}
	if first.pty != nil {
		if st.TtyNr != first.pty.rdev {
			t.Fatalf("before dump: controlling tty %#x, want %s", st.TtyNr, first.pty.name)
		}
		if mode == "shell" {
			if fg := first.pty.fgGroup(t); fg != pid {
				t.Fatalf("before dump: foreground group %d, want %d", fg, pid)
			}
		}
	}

	dumpCmd(t, pid, img, "--shell-job")
	if mode == "shell" {
		sh.Wait() // the tiny shell ends with its job
	} else {
		crtest.Reap(pid)
	}
	out1.waitClosed(t, "first stdio")
	cs := out1.counts()
	last := cs[len(cs)-1]

	// Restore from the second stdio.
	rs := exec.Command(crtest.Criu(t), "restore", "--shell-job", "-D", img, "-v4", "-o", filepath.Join(img, "restore.log"))
	out2 := second.start(t, rs)
	restorer := rs.Process.Pid
	waited := make(chan error, 1)
	go func() { waited <- rs.Wait() }()
	t.Cleanup(func() {
		crtest.Kill(pid)
		select {
		case <-waited:
		case <-time.After(5 * time.Second):
			rs.Process.Kill()
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for !crtest.Alive(pid) && time.Now().Before(deadline) {
		select {
		case err := <-waited:
			log, _ := os.ReadFile(filepath.Join(img, "restore.log"))
			t.Fatalf("criu restore --shell-job ended: %v\n%s\n%s", err, out2.String(), tailOf(string(log)))
		default:
		}
		time.Sleep(10 * time.Millisecond)
	}
	out2.waitCount(t, "second stdio", last+3)
	if cs2 := out2.counts(); cs2[0] != last+1 {
		t.Errorf("first count on the second stdio is %d, want %d (the first stdio ended at %d)", cs2[0], last+1, last)
	}
	if strings.Contains(out2.String(), "criu") {
		t.Errorf("the restorer wrote to its stdio:\n%s", out2.String())
	}
	for _, fd := range []int{0, 1, 2, 10} { // 10: a dup of 1
		link, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%d", pid, fd))
		want := second.stdinName(t)
		if fd > 0 && second.pty == nil {
			var st unix.Stat_t
			unix.Fstat(int(second.outR.Fd()), &st)
			want = fmt.Sprintf("pipe:[%d]", st.Ino)
		}
		if err != nil || link != want {
			t.Errorf("restored fd %d is %q (%v), want %q", fd, link, err, want)
		}
	}

	// Sessions and groups, with CRIU's rules (the README's "Shell jobs").
	st, err = procfs.ReadStat(pid)
	if err != nil {
		t.Fatal(err)
	}
	switch mode {
	case "shell":
		// The job joins the restorer's session and leads its own group
		// there, as it did in the first shell's session.
		if st.Session != restorer || st.Pgrp != pid {
			t.Errorf("restored sid %d pgid %d, want the restorer's session %d and its own group %d", st.Session, st.Pgrp, restorer, pid)
		}
		if second.pty != nil {
			if st.TtyNr != second.pty.rdev {
				t.Errorf("restored controlling tty %#x, want %s (%#x)", st.TtyNr, second.pty.name, second.pty.rdev)
			}
			if fg := second.pty.fgGroup(t); fg != pid {
				t.Errorf("foreground group of %s is %d, want the job's %d", second.pty.name, fg, pid)
			}
		} else if st.TtyNr != 0 {
			t.Errorf("restored controlling tty %#x, want none", st.TtyNr)
		}
	case "nojc":
		// The job was in the shell's group: it joins the restorer's.
		rpg, _ := unix.Getpgid(restorer)
		if st.Session != restorer || st.Pgrp != rpg {
			t.Errorf("restored sid %d pgid %d, want the restorer's session %d and group %d", st.Session, st.Pgrp, restorer, rpg)
		}
		if second.pty != nil {
			if st.TtyNr != second.pty.rdev {
				t.Errorf("restored controlling tty %#x, want %s (%#x)", st.TtyNr, second.pty.name, second.pty.rdev)
			}
			if fg := second.pty.fgGroup(t); fg != rpg {
				t.Errorf("foreground group of %s is %d, want the restorer's %d", second.pty.name, fg, rpg)
			}
		}
	case "leader":
		// A session leader is restored as one, without a controlling
		// terminal: it still reads and writes the restorer's.
		if st.Session != pid || st.Pgrp != pid || st.TtyNr != 0 {
			t.Errorf("restored sid %d pgid %d tty %#x, want %d, %d and none", st.Session, st.Pgrp, st.TtyNr, pid, pid)
		}
	}
	checkReads(t, pid, second, out2, "second stdio")
	crtest.Kill(pid)
	select {
	case err := <-waited:
		waited <- err // for the cleanup
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 128+int(unix.SIGKILL) {
			t.Errorf("criu restore: %v, want exit status %d", err, 128+int(unix.SIGKILL))
		}
	case <-time.After(10 * time.Second):
		t.Error("criu restore did not end with its task")
	}
}

// A job run from a shell on one terminal, dumped with --shell-job and
// restored from a shell on another terminal, talks to the second one.
func TestShellJobTerminal(t *testing.T) {
	shellJobRoundTrip(t, "shell", ptyStdio(t), ptyStdio(t))
}

// The same for a session leader on a terminal (its controlling one).
func TestShellJobSessionLeader(t *testing.T) {
	shellJobRoundTrip(t, "leader", ptyStdio(t), ptyStdio(t))
}

// The same for a job run by a shell without job control: it was in the
// shell's process group and joins the restorer's.
func TestShellJobSameGroup(t *testing.T) {
	shellJobRoundTrip(t, "nojc", ptyStdio(t), ptyStdio(t))
}

// The same with pipes as stdio (a job in a pipeline).
func TestShellJobPipes(t *testing.T) {
	shellJobRoundTrip(t, "shell", pipeStdio(t), pipeStdio(t))
}

// Without --shell-job, a task on a terminal, or in its shell's session,
// is refused with a message that names the fd and terminal (or the
// session) and says to use --shell-job; it runs on unharmed.
func TestDumpShellJobRefused(t *testing.T) {
	for _, tc := range []struct {
		name, mode string
		pty        bool
		want       []string
	}{
		{"terminal", "shell", true, []string{"fd 0", "/dev/pts/", "--shell-job"}},
		{"terminal-leader", "leader", true, []string{"fd 0", "/dev/pts/", "--shell-job"}},
		{"session", "shell", false, []string{"not a session leader", "--shell-job"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			setup(t)
			bin := crtest.BuildC(t, filepath.Join(crtest.SourceDir(), "ttyjob.c"), false)
			dir := t.TempDir()
			s := pipeStdio(t)
			if tc.pty {
				s = ptyStdio(t)
			}
			pidfile := filepath.Join(dir, "job.pid")
			sh := exec.Command(bin, tc.mode, pidfile)
			o := s.start(t, sh)
			pid := waitPidfile(t, pidfile)
			t.Cleanup(func() { crtest.Kill(pid); crtest.Kill(sh.Process.Pid) })
			o.waitCount(t, "stdio", 2)
			out, err := crtest.Run(context.Background(), crtest.Criu(t), "dump", "-t", strconv.Itoa(pid), "-D", dir)
			if err == nil {
				t.Fatalf("dump without --shell-job succeeded:\n%s", out)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("error does not say %q:\n%s", w, out)
				}
			}
			if tc.pty && !strings.Contains(out, s.pty.name) {
				t.Errorf("error does not name %s:\n%s", s.pty.name, out)
			}
			t.Logf("%s", strings.TrimSpace(out))
			if !crtest.Alive(pid) {
				t.Fatal("the task died")
			}
			cs := o.counts()
			o.waitCount(t, "stdio", cs[len(cs)-1]+3)
			checkReads(t, pid, s, o, "after the failed dump")
		})
	}
}
