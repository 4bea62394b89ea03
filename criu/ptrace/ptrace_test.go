package ptrace_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/crtest"
	"github.com/criugo/criu/criu/mem"
	"github.com/criugo/criu/criu/procfs"
	"github.com/criugo/criu/criu/ptrace"
)

// helperEnv makes the test binary act as a tracer that injects into the
// pid it names and then waits to be killed (TestKilledTracer).
const helperEnv = "CRIU_PTRACE_TEST_HELPER"

func TestMain(m *testing.M) {
	if v := os.Getenv(helperEnv); v != "" {
		pid, _ := strconv.Atoi(v)
		if err := helper(pid); err != nil {
			fmt.Println("helper:", err)
			os.Exit(1)
		}
		select {}
	}
	os.Exit(crtest.RunWithFdCheck(m))
}

func helper(pid int) error {
	tr := ptrace.NewTracer()
	if err := tr.Seize(pid, 0); err != nil {
		return err
	}
	in, err := injector(tr, pid)
	if err != nil {
		return err
	}
	for i := 0; i < 10; i++ {
		if _, err := in.Syscall("getpid", unix.SYS_GETPID); err != nil {
			return err
		}
	}
	fmt.Println("injected")
	return nil
}

// injector returns an injector for stopped tid at its [vdso]'s syscall
// instruction, based on its current registers.
func injector(tr *ptrace.Tracer, tid int) (*ptrace.Injector, error) {
	maps, err := procfs.ReadSmaps(tid)
	if err != nil {
		return nil, err
	}
	for _, m := range maps {
		if m.Path != "[vdso]" {
			continue
		}
		b := make([]byte, m.Len())
		if err := mem.ReadRemote(tid, []mem.Range{{Start: m.Start, End: m.End}}, b); err != nil {
			return nil, err
		}
		ip, err := ptrace.SyscallInsn(m.Start, b)
		if err != nil {
			return nil, err
		}
		regs, err := tr.GetRegs(tid)
		if err != nil {
			return nil, err
		}
		return &ptrace.Injector{T: tr, Tid: tid, Base: regs, IP: ip}, nil
	}
	return nil, ptrace.ErrNoSyscallInsn
}

func TestSyscallInsn(t *testing.T) {
	ip, err := ptrace.SyscallInsn(0x1000, []byte{0x90, 0x0f, 0x90, 0x0f, 0x05})
	if err != nil || ip != 0x1003 {
		t.Errorf("SyscallInsn = %#x, %v", ip, err)
	}
	if _, err := ptrace.SyscallInsn(0x1000, []byte{0x0f, 0x90}); !errors.Is(err, ptrace.ErrNoSyscallInsn) {
		t.Errorf("no insn: %v", err)
	}
}

// TestStartTracedInject starts a traced child, stopped at its exec, and
// runs syscalls inside it.
func TestStartTracedInject(t *testing.T) {
	crtest.RequireRoot(t)
	tr := ptrace.NewTracer()
	defer tr.Close()
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("no sleep")
	}
	pid, err := tr.StartTraced(sleep, []string{"sleep", "100"}, &syscall.ProcAttr{Files: []uintptr{0, 1, 2}})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Kill(pid, []int{pid})
	in, err := injector(tr, pid)
	if err != nil {
		t.Fatal(err)
	}
	before := in.Base
	got, err := in.Syscall("getpid", unix.SYS_GETPID)
	if err != nil || int(got) != pid {
		t.Fatalf("getpid = %d, %v; want %d", got, err, pid)
	}
	// mmap a page and see it in the task's maps.
	addr, err := in.Syscall("mmap", unix.SYS_MMAP, 0, 4096, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS, ^uint64(0), 0)
	if err != nil {
		t.Fatal(err)
	}
	maps, err := procfs.ReadSmaps(pid)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, m := range maps {
		found = found || (m.Start == addr && m.End == addr+4096)
	}
	if !found {
		t.Fatalf("injected mmap at %#x not in maps", addr)
	}
	if err := mem.WriteRemote(pid, []mem.Range{{Start: addr, End: addr + 4}}, []byte("abcd")); err != nil {
		t.Fatal(err)
	}
	// A failing syscall is a *SyscallError wrapping the errno.
	_, err = in.Syscall("close", unix.SYS_CLOSE, 12345)
	var se *ptrace.SyscallError
	if !errors.As(err, &se) || !errors.Is(err, unix.EBADF) || se.Tid != pid {
		t.Fatalf("close(12345): %v", err)
	}
	// Every call put the registers back.
	after, err := tr.GetRegs(pid)
	if err != nil {
		t.Fatal(err)
	}
	if after != before {
		t.Fatalf("registers changed by injection:\n%+v\n%+v", before, after)
	}
}

// TestSeizeRoundTrip seizes a running process, reads and writes its
// registers, mask and xstate, injects, and lets it go unharmed.
func TestSeizeRoundTrip(t *testing.T) {
	pid, out := startSpin(t)

	tr := ptrace.NewTracer()
	defer tr.Close()
	if err := tr.Seize(pid, 0); err != nil {
		t.Fatal(err)
	}
	regs, err := tr.GetRegs(pid)
	if err != nil {
		t.Fatal(err)
	}
	mask, err := tr.GetSigmask(pid)
	if err != nil {
		t.Fatal(err)
	}
	// Registers round trip: a changed callee-saved register reads back,
	// and the original set is put back.
	mod := regs
	mod.R15 ^= 0x5555
	if err := tr.SetRegs(pid, mod); err != nil {
		t.Fatal(err)
	}
	if got, _ := tr.GetRegs(pid); got.R15 != mod.R15 {
		t.Fatalf("R15 %#x, want %#x", got.R15, mod.R15)
	}
	if err := tr.SetRegs(pid, regs); err != nil {
		t.Fatal(err)
	}
	// Signal mask round trip.
	if err := tr.SetSigmask(pid, mask|1<<(unix.SIGUSR2-1)); err != nil {
		t.Fatal(err)
	}
	if got, _ := tr.GetSigmask(pid); got != mask|1<<(unix.SIGUSR2-1) {
		t.Fatalf("mask %#x", got)
	}
	if err := tr.SetSigmask(pid, mask); err != nil {
		t.Fatal(err)
	}
	// xstate round trip.
	xs, err := tr.GetXstate(pid)
	if err != nil {
		t.Fatal(err)
	}
	if len(xs) < 512+64 {
		t.Fatalf("xstate of %d bytes", len(xs))
	}
	if err := tr.SetXstate(pid, xs); err != nil {
		t.Fatal(err)
	}
	if xs2, _ := tr.GetXstate(pid); !bytes.Equal(xs[:512], xs2[:512]) {
		t.Fatal("legacy fxsave area changed by a round trip")
	}
	// A signal sent while the task is stopped waits for it; the injector
	// blocks it only for each call, so it is still pending afterwards.
	unix.Kill(pid, unix.SIGUSR1)
	in, err := injector(tr, pid)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		if got, err := in.Syscall("getpid", unix.SYS_GETPID); err != nil || int(got) != pid {
			t.Fatalf("getpid = %d, %v", got, err)
		}
	}
	if got, _ := tr.GetRegs(pid); got != regs {
		t.Fatal("registers not put back after injection")
	}
	if got, _ := tr.GetSigmask(pid); got != mask {
		t.Fatalf("mask %#x after injection, want %#x", got, mask)
	}
	if err := tr.Detach(pid, 0); err != nil {
		t.Fatal(err)
	}
	crtest.WaitFor(t, out, "usr1\n", 5*time.Second)
	n := crtest.Count(out, "tick")
	time.Sleep(100 * time.Millisecond)
	if crtest.Count(out, "tick") <= n {
		t.Fatal("task does not run after detach")
	}
}

func TestSeizeGone(t *testing.T) {
	crtest.RequireRoot(t)
	tr := ptrace.NewTracer()
	defer tr.Close()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	if err := tr.Seize(cmd.Process.Pid, 0); !errors.Is(err, ptrace.ErrExited) {
		t.Fatalf("seize of a reaped pid: %v", err)
	}
	tr.Close()
	if err := tr.Do(func() error { return nil }); !errors.Is(err, ptrace.ErrClosed) {
		t.Fatalf("Do after Close: %v", err)
	}
}

// TestKilledTracer kills a tracer (another process) right after it
// injected syscalls into a running task: the kernel detaches the task,
// which must run on with its own registers and signal mask.
func TestKilledTracer(t *testing.T) {
	crtest.RequireRoot(t)
	bin := crtest.BuildC(t, filepath.Join(crtest.SourceDir(), "spin.c"), false)
	out := filepath.Join(t.TempDir(), "out")
	f, _ := os.Create(out)
	cmd := exec.Command(bin)
	cmd.Stdout = f
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	pid := cmd.Process.Pid
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	crtest.WaitFor(t, out, "tick 3\n", 5*time.Second)

	hout := filepath.Join(t.TempDir(), "helper")
	hf, _ := os.Create(hout)
	h := exec.Command(os.Args[0], "-test.run=^$")
	h.Env = append(os.Environ(), helperEnv+"="+strconv.Itoa(pid))
	h.Stdout, h.Stderr = hf, hf
	if err := h.Start(); err != nil {
		t.Fatal(err)
	}
	hf.Close()
	defer func() { h.Process.Kill(); h.Wait() }()
	crtest.WaitFor(t, hout, "injected\n", 10*time.Second)
	unix.Kill(pid, unix.SIGUSR1) // queued while the task is stopped
	h.Process.Kill()
	h.Wait()
	crtest.WaitFor(t, out, "usr1\n", 5*time.Second)
	n := crtest.Count(out, "tick")
	time.Sleep(100 * time.Millisecond)
	if crtest.Count(out, "tick") <= n {
		t.Fatal("task does not run after its tracer died")
	}
	if !crtest.Alive(pid) {
		t.Fatal("task died")
	}
}

// BenchmarkInject measures one injected getpid into a seized task,
// window setup and parking included.
func BenchmarkInject(b *testing.B) {
	crtest.RequireRoot(b)
	cmd := exec.Command("sleep", "100")
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	pid := cmd.Process.Pid
	tr := ptrace.NewTracer()
	defer tr.Close()
	if err := tr.Seize(pid, 0); err != nil {
		b.Fatal(err)
	}
	in, err := injector(tr, pid)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := in.Syscall("getpid", unix.SYS_GETPID); err != nil {
			b.Fatal(err)
		}
	}
}

// A batch runs its calls in order in a seized thread, stops at the first
// that fails with that call's errno, and leaves the thread as it was: its
// registers and signal mask, parked, running on once detached.
func TestBatch(t *testing.T) {
	crtest.RequireRoot(t)
	cmd := exec.Command("sleep", "100")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	pid := cmd.Process.Pid
	tr := ptrace.NewTracer()
	defer tr.Close()
	if err := tr.Seize(pid, 0); err != nil {
		t.Fatal(err)
	}
	in, err := injector(tr, pid)
	if err != nil {
		t.Fatal(err)
	}
	mask, err := tr.GetSigmask(pid)
	if err != nil {
		t.Fatal(err)
	}
	rets, err := in.Batch(
		ptrace.Call{Name: "getpid", Nr: unix.SYS_GETPID},
		ptrace.Call{Name: "getppid", Nr: unix.SYS_GETPPID},
	)
	if err != nil || len(rets) != 2 || int(rets[0]) != pid || int(rets[1]) != os.Getpid() {
		t.Fatalf("batch = %v, %v; want [%d %d]", rets, err, pid, os.Getpid())
	}
	rets, err = in.Batch(
		ptrace.Call{Name: "getpid", Nr: unix.SYS_GETPID},
		ptrace.Call{Name: "close(-1)", Nr: unix.SYS_CLOSE, Args: []uint64{^uint64(0)}},
		ptrace.Call{Name: "exit", Nr: unix.SYS_EXIT_GROUP, Args: []uint64{7}},
	)
	var se *ptrace.SyscallError
	if !errors.As(err, &se) || se.Name != "close(-1)" || !errors.Is(err, unix.EBADF) || len(rets) != 2 {
		t.Fatalf("batch with a failing call = %v, %v; want EBADF from close(-1), the exit not run", rets, err)
	}
	regs, err := tr.GetRegs(pid)
	if err != nil {
		t.Fatal(err)
	}
	if regs != in.Base {
		t.Errorf("registers after the batch differ from the thread's")
	}
	if m, err := tr.GetSigmask(pid); err != nil || m != mask {
		t.Errorf("signal mask after the batch = %#x, %v; want %#x", m, err, mask)
	}
	if err := tr.Detach(pid, 0); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	if err := cmd.Process.Signal(syscall.Signal(0)); err != nil {
		t.Errorf("the task does not run on after the batch: %v", err)
	}
}

// BenchmarkInjectOnTracer is BenchmarkInject's call made from the
// tracer thread itself (inside a Tracer.Do), as the restore's and the
// dump's per-task steps make theirs: no thread hand-off per request.
func BenchmarkInjectOnTracer(b *testing.B) {
	crtest.RequireRoot(b)
	cmd := exec.Command("sleep", "100")
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	pid := cmd.Process.Pid
	tr := ptrace.NewTracer()
	defer tr.Close()
	if err := tr.Seize(pid, 0); err != nil {
		b.Fatal(err)
	}
	in, err := injector(tr, pid)
	if err != nil {
		b.Fatal(err)
	}
	err = tr.Do(func() error {
		for b.Loop() {
			if _, err := in.Syscall("getpid", unix.SYS_GETPID); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
}

// BenchmarkInjectBatch is BenchmarkInject's call in batches of 8, per call.
func BenchmarkInjectBatch(b *testing.B) {
	crtest.RequireRoot(b)
	cmd := exec.Command("sleep", "100")
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	pid := cmd.Process.Pid
	tr := ptrace.NewTracer()
	defer tr.Close()
	if err := tr.Seize(pid, 0); err != nil {
		b.Fatal(err)
	}
	in, err := injector(tr, pid)
	if err != nil {
		b.Fatal(err)
	}
	calls := make([]ptrace.Call, 8)
	for i := range calls {
		calls[i] = ptrace.Call{Name: "getpid", Nr: unix.SYS_GETPID}
	}
	n := 0
	for b.Loop() {
		if n%len(calls) == 0 {
			if _, err := in.Batch(calls...); err != nil {
				b.Fatal(err)
			}
		}
		n++
	}
}

// A Do made from inside another Do's function runs in place, on the
// tracer thread, instead of waiting for the tracer thread it holds.
func TestDoInPlace(t *testing.T) {
	tr := ptrace.NewTracer()
	defer tr.Close()
	done := make(chan [2]int, 1)
	go func() {
		var outer, inner int
		tr.Do(func() error {
			outer = unix.Gettid()
			return tr.Do(func() error { inner = unix.Gettid(); return nil })
		})
		done <- [2]int{outer, inner}
	}()
	select {
	case tids := <-done:
		if tids[0] != tids[1] || tids[0] == 0 {
			t.Fatalf("nested Do ran on thread %d, the outer on %d: want the tracer thread for both", tids[1], tids[0])
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a Do inside a Do waits for the tracer thread it holds")
	}
}
