package ptrace

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/internal/linux"
)

// PinCPU pins the tracer thread to one CPU of its affinity mask (the
// one it runs on now), so that the tasks it then creates (a restore's
// stub and everything cloned from it) inherit that one CPU too, and
// the threads it seizes can be moved there (Pin). Each
// injected syscall is a stop and a resume of the tracee: on one CPU
// they are plain context switches, across two CPUs a wake-up of the
// other CPU each way. Measured on this 2-CPU VM, an injected syscall
// costs 8-14 us with tracer and tracee on one CPU and 50-100 us
// across (a restore of 50 tasks: about half the time).
//
// The tasks must get their mask back (Unpin) before they run on their
// own. A tracer killed before it let them go leaves them running, but
// on that one CPU. Safe to call twice: the mask saved is the first.
func (t *Tracer) PinCPU() error {
	return t.Do(func() error {
		if t.pinned {
			return nil
		}
		if err := unix.SchedGetaffinity(0, &t.mask); err != nil {
			return os.NewSyscallError("sched_getaffinity", err)
		}
		cpu, err := linux.Getcpu()
		if err != nil {
			return err
		}
		if !t.mask.IsSet(cpu) {
			return fmt.Errorf("pin tracer: it runs on CPU %d, outside its mask", cpu)
		}
		var one unix.CPUSet
		one.Set(cpu)
		if err := unix.SchedSetaffinity(0, &one); err != nil {
			return os.NewSyscallError("sched_setaffinity", err)
		}
		t.pinned, t.cpu = true, cpu
		return nil
	})
}

// Pin moves the seized thread tid to the tracer's CPU (PinCPU) while it
// is traced, keeping its mask for Unpin and Affinity. A thread that may
// not run there (its mask or cpuset leaves that CPU out) stays where it
// was. A no-op when the tracer is not pinned.
func (t *Tracer) Pin(tid int) error {
	return t.Do(func() error {
		if !t.pinned {
			return nil
		}
		var m unix.CPUSet
		if err := unix.SchedGetaffinity(tid, &m); err != nil {
			return fmt.Errorf("thread %d: %w", tid, os.NewSyscallError("sched_getaffinity", err))
		}
		t.affinity[tid] = nil
		if !m.IsSet(t.cpu) {
			return nil
		}
		var one unix.CPUSet
		one.Set(t.cpu)
		if err := unix.SchedSetaffinity(tid, &one); errors.Is(err, unix.EINVAL) {
			return nil // its cpuset has not that CPU
		} else if err != nil {
			return fmt.Errorf("thread %d: %w", tid, os.NewSyscallError("sched_setaffinity", err))
		}
		t.affinity[tid] = &m
		return nil
	})
}

// Affinity is thread tid's CPU affinity mask as it was before Pin moved
// it, or as it is now.
func (t *Tracer) Affinity(tid int) (unix.CPUSet, error) {
	var m unix.CPUSet
	var err error
	t.Do(func() error {
		if p := t.affinity[tid]; p != nil {
			m = *p
		} else {
			err = unix.SchedGetaffinity(tid, &m)
		}
		return nil
	})
	if err != nil {
		return m, fmt.Errorf("thread %d: %w", tid, os.NewSyscallError("sched_getaffinity", err))
	}
	return m, nil
}

// OwnAffinity is criu's CPU affinity mask: the tracer thread's before
// PinCPU, or the calling thread's.
func (t *Tracer) OwnAffinity() (unix.CPUSet, error) {
	var m unix.CPUSet
	var pinned bool
	t.Do(func() error {
		m, pinned = t.mask, t.pinned
		return nil
	})
	if pinned {
		return m, nil
	}
	if err := unix.SchedGetaffinity(0, &m); err != nil {
		return m, os.NewSyscallError("sched_getaffinity", err)
	}
	return m, nil
}

// Unpin gives thread tid back its CPU affinity mask: a thread Pin
// moved, the mask it had; one Pin left alone, nothing; any other (a
// task created under the pin, which inherited the one CPU), the mask
// the tracer thread had before PinCPU (the process's, which a task
// created by an unpinned tracer inherits). A no-op if the tracer was
// not pinned.
func (t *Tracer) Unpin(tid int) error {
	var err error
	t.Do(func() error {
		m, seen := t.affinity[tid]
		delete(t.affinity, tid)
		switch {
		case !t.pinned || seen && m == nil:
		case seen:
			err = unix.SchedSetaffinity(tid, m)
		default:
			err = unix.SchedSetaffinity(tid, &t.mask)
			if errors.Is(err, unix.EINVAL) {
				// Moved since into a cpuset with none of criu's
				// CPUs: the kernel gave it the cpuset's, as it would
				// have without the pin.
				err = nil
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("thread %d: %w", tid, os.NewSyscallError("sched_setaffinity", err))
	}
	return nil
}
