package runner

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/procfs"
	"github.com/criugo/criu/internal/linux"
)

// reaper owns every wait4 of this process. It reaps any child (including
// clone children with no exit signal, hence __WALL) and hands the status
// to whoever registered a watch on that pid; other statuses (orphans of a
// test, a dumped task's zombie) are dropped.
type reaper struct {
	mu      sync.Mutex                   // protects watches; held across fork so a child cannot be reaped unwatched
	watches map[int]chan unix.WaitStatus // pid -> buffered(1) channel
}

var (
	theReaper   *reaper
	reaperOnce  sync.Once
	reaperError error
)

// getReaper makes this process a child subreaper and starts the reaping
// goroutine, once.
func getReaper() (*reaper, error) {
	reaperOnce.Do(func() {
		if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
			reaperError = os.NewSyscallError("prctl(PR_SET_CHILD_SUBREAPER)", err)
			return
		}
		// Descriptors this process inherited without O_CLOEXEC (a
		// shell's, a CI's) would leak into every test and be dumped.
		if err := unix.CloseRange(3, ^uint(0), unix.CLOSE_RANGE_CLOEXEC); err != nil {
			reaperError = os.NewSyscallError("close_range", err)
			return
		}
		r := &reaper{watches: map[int]chan unix.WaitStatus{}}
		sigc := make(chan os.Signal, 1)
		signal.Notify(sigc, syscall.SIGCHLD)
		go r.loop(sigc)
		theReaper = r
	})
	return theReaper, reaperError
}

func (r *reaper) loop(sigc <-chan os.Signal) {
	// SIGCHLD is not sent for a child whose exit signal is 0 (a restored
	// task cloned with CLONE_PARENT), so poll as well.
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-sigc:
		case <-tick.C:
		}
		r.reapAll()
	}
}

func (r *reaper) reapAll() {
	for {
		var ws unix.WaitStatus
		pid, err := linux.Wait4(-1, &ws, unix.WNOHANG|unix.WALL)
		if err != nil || pid <= 0 {
			return
		}
		r.mu.Lock()
		if ch, ok := r.watches[pid]; ok {
			ch <- ws
			delete(r.watches, pid)
		}
		r.mu.Unlock()
	}
}

// watch registers interest in the exit of pid, a process that is our
// child or will be re-parented to us. It fails with ESRCH if pid is
// already gone (and its status lost).
func (r *reaper) watch(pid int) (<-chan unix.WaitStatus, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	// Under mu the reaper cannot deliver, so if pid exists now (even as
	// a zombie) its status will reach the channel.
	if err := unix.Kill(pid, 0); err != nil {
		return nil, os.NewSyscallError("kill", err)
	}
	ch := make(chan unix.WaitStatus, 1)
	r.watches[pid] = ch
	return ch, nil
}

// spec says how to start a process.
type spec struct {
	argv   []string
	env    []string // nil: this process's environment
	dir    string
	stdout string // file to append stdout and stderr to; "" for /dev/null
	extra  []*os.File
	netns  string // path of a network namespace to start in, or ""
}

// proc is a started process whose exit the reaper reports.
type proc struct {
	pid    int
	name   string
	done   <-chan unix.WaitStatus
	status unix.WaitStatus
	exited bool
}

// start starts s.argv[0] (looked up in PATH if it has no slash).
func (r *reaper) start(s spec) (*proc, error) {
	path, err := lookPath(s.argv[0])
	if err != nil {
		return nil, err
	}
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		return nil, err
	}
	defer devnull.Close()
	out := devnull
	if s.stdout != "" {
		out, err = os.OpenFile(s.stdout, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			return nil, err
		}
		defer out.Close()
	}
	files := []uintptr{devnull.Fd(), out.Fd(), out.Fd()}
	for _, f := range s.extra {
		files = append(files, f.Fd())
	}
	env := s.env
	if env == nil {
		env = os.Environ()
	}
	attr := &syscall.ProcAttr{Dir: s.dir, Env: env, Files: files}

	fork := func() (*proc, error) {
		r.mu.Lock()
		defer r.mu.Unlock()
		pid, err := syscall.ForkExec(path, s.argv, attr)
		if err != nil {
			return nil, fmt.Errorf("start %s: %w", path, err)
		}
		ch := make(chan unix.WaitStatus, 1)
		r.watches[pid] = ch
		return &proc{pid: pid, name: s.argv[0], done: ch}, nil
	}
	if s.netns == "" {
		return fork()
	}
	// Fork from a thread that entered the namespace; the thread is
	// never unlocked, so it exits with the goroutine.
	type res struct {
		p   *proc
		err error
	}
	resc := make(chan res, 1)
	go func() {
		runtime.LockOSThread()
		fd, err := unix.Open(s.netns, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			resc <- res{nil, fmt.Errorf("open netns %s: %w", s.netns, err)}
			return
		}
		defer unix.Close(fd)
		if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
			resc <- res{nil, os.NewSyscallError("setns", err)}
			return
		}
		p, err := fork()
		resc <- res{p, err}
	}()
	rs := <-resc
	return rs.p, rs.err
}

func lookPath(name string) (string, error) {
	for _, c := range name {
		if c == '/' {
			return name, nil
		}
	}
	for _, dir := range []string{"/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"} {
		p := dir + "/" + name
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s: not found", name)
}

// wait waits for p to exit, at most until ctx is done.
func (p *proc) wait(ctx context.Context) (unix.WaitStatus, error) {
	if p.exited {
		return p.status, nil
	}
	select {
	case ws := <-p.done:
		p.status, p.exited = ws, true
		return ws, nil
	case <-ctx.Done():
		return 0, fmt.Errorf("%s (pid %d) did not exit: %w", p.name, p.pid, ctx.Err())
	}
}

// kill sends SIGKILL and waits a little for the exit.
func (p *proc) kill() {
	if p == nil || p.exited {
		return
	}
	unix.Kill(p.pid, unix.SIGKILL)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	p.wait(ctx)
}

// describe says how a process ended, e.g. "exited with status 1".
func describe(ws unix.WaitStatus) string {
	switch {
	case ws.Exited():
		return fmt.Sprintf("exited with status %d", ws.ExitStatus())
	case ws.Signaled():
		s := "killed by " + unix.SignalName(ws.Signal())
		if ws.CoreDump() {
			s += " (core dumped)"
		}
		return s
	}
	return fmt.Sprintf("ended with wait status %#x", uint32(ws))
}

// run starts s and waits for it; a non-zero exit is an error.
func (r *reaper) run(ctx context.Context, s spec) error {
	p, err := r.start(s)
	if err != nil {
		return err
	}
	ws, err := p.wait(ctx)
	if err != nil {
		p.kill()
		return err
	}
	if !ws.Exited() || ws.ExitStatus() != 0 {
		return fmt.Errorf("%s %s", s.argv[0], describe(ws))
	}
	return nil
}

// alive says whether pid exists (a zombie counts).
func alive(pid int) bool {
	return unix.Kill(pid, 0) == nil || errors.Is(unix.Kill(pid, 0), unix.EPERM)
}

// killSession sends SIGKILL to every process of session sid, as /proc
// shows them, a few passes over in case one forked meanwhile.
func killSession(sid int) {
	for pass := 0; pass < 3; pass++ {
		pids := sessionPids(sid)
		if len(pids) == 0 {
			return
		}
		for _, pid := range pids {
			unix.Kill(pid, unix.SIGKILL)
		}
	}
}

// sessionPids lists the processes whose session id is sid.
func sessionPids(sid int) []int {
	var pids []int
	for _, st := range procStats() {
		if st.Session == sid {
			pids = append(pids, st.Pid)
		}
	}
	return pids
}

// procStats reads /proc/PID/stat of every process (those that exit
// meanwhile, or whose stat does not parse, are left out).
func procStats() []procfs.Stat {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []procfs.Stat
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		if st, err := procfs.ParseStat(b); err == nil {
			out = append(out, st)
		}
	}
	return out
}

// killStrays kills what is left of a test once it is over: processes
// running the test binary at path (by inode) that descend from this
// runner (a child subreaper, so its tests' orphans come back to it).
// A test's tasks in sessions of their own, or left by a restore that
// hung (CRIU 4.2's of session_orphans00), outlive killSession and would
// hold pids later restores need. Processes of other runners on the host
// running the same binary are not ours and are left alone.
func killStrays(path string) {
	var bin unix.Stat_t
	if unix.Stat(path, &bin) != nil {
		return
	}
	self := os.Getpid()
	parent := map[int]int{}
	var ours []int
	for _, st := range procStats() {
		parent[st.Pid] = st.Ppid
		var exe unix.Stat_t
		if unix.Stat(fmt.Sprintf("/proc/%d/exe", st.Pid), &exe) == nil && exe.Ino == bin.Ino && exe.Dev == bin.Dev {
			ours = append(ours, st.Pid)
		}
	}
	for _, pid := range ours {
		for p, n := parent[pid], 0; p > 1 && n < 64; p, n = parent[p], n+1 {
			if p == self {
				unix.Kill(pid, unix.SIGKILL)
				break
			}
		}
	}
}
