package ptrace

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

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
// A tracer whose mask is not every CPU (criu under taskset, or in a
// cpuset) is not pinned (note at possibleCPUs). The tasks must get
// their mask back (Unpin) before they run on their own. A tracer killed before it let them go leaves them running, but
// on that one CPU. Safe to call twice: the mask saved is the first.
func (t *Tracer) PinCPU() error {
	return t.Do(func() error {
		if t.pinned {
			return nil
		}
		if err := unix.SchedGetaffinity(0, &t.mask); err != nil {
			return os.NewSyscallError("sched_getaffinity", err)
		}
		all, err := possibleCPUs()
		if err != nil {
			return err
		}
		if t.mask != all {
			// Unpin could not give the tasks their masks back as
			// the kernel keeps them (note at possibleCPUs).
			return fmt.Errorf("pin tracer: its CPU mask is not every CPU")
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

// possibleCPUs is the set of every CPU the kernel may ever run
// (/sys/devices/system/cpu/possible).
//
// Only a thread whose mask is all of them is moved (Pin, and PinCPU
// for the tasks a restore creates). sched_setaffinity also records the
// mask as the thread's own request (task_struct.user_cpus_ptr, since
// Linux 6.2), which the kernel intersects with the thread's cpuset from
// then on, while a thread that never asked has none and follows its
// cpuset. Giving back every CPU is asking for none: a cpuset widened
// later widens the thread as before. Giving back a narrower mask would
// not be.
func possibleCPUs() (unix.CPUSet, error) {
	var s unix.CPUSet
	b, err := os.ReadFile("/sys/devices/system/cpu/possible")
	if err != nil {
		return s, err
	}
	for _, r := range strings.Split(strings.TrimSpace(string(b)), ",") {
		lo, hi, isRange := strings.Cut(r, "-")
		a, err := strconv.Atoi(lo)
		if err != nil {
			return s, fmt.Errorf("possible CPUs %q: %w", b, err)
		}
		z := a
		if isRange {
			if z, err = strconv.Atoi(hi); err != nil {
				return s, fmt.Errorf("possible CPUs %q: %w", b, err)
			}
		}
		for c := a; c <= z && c < len(s)*64; c++ {
			s.Set(c)
		}
	}
	return s, nil
}

// Pin moves the seized thread tid to the tracer's CPU (PinCPU) while it
// is traced, keeping its mask for Unpin and Affinity. A thread whose
// mask is not every CPU (possibleCPUs) stays where it was, as does one
// whose cpuset leaves that CPU out. A no-op when the tracer is not
// pinned.
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
		// A pinned tracer's own mask was every possible CPU (PinCPU).
		if m != t.mask {
			return nil // note at possibleCPUs
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
