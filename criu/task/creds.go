package task

import (
	"encoding/binary"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/procfs"
	"github.com/criugo/criu/criu/ptrace"
	"github.com/criugo/criu/proto/images"
)

// Securebits (uapi/linux/securebits.h).
const secbitNoSetuidFixup = 1 << 2

// linuxCapabilityVersion3 is _LINUX_CAPABILITY_VERSION_3.
const linuxCapabilityVersion3 = 0x20080522

// capSet joins the two 32-bit words of a cap set in a creds entry.
func capSet(w []uint32) uint64 {
	var v uint64
	if len(w) > 0 {
		v = uint64(w[0])
	}
	if len(w) > 1 {
		v |= uint64(w[1]) << 32
	}
	return v
}

// SetCreds gives thread tid of task pid (t) its dumped credentials, in CRIU's order: the
// thread still holds the restorer's (root, every capability) ones.
//
//  1. groups; SECBIT_NO_SETUID_FIXUP so that changing ids keeps caps;
//  2. res uid/gid, then fs uid/gid (setfs* last: setres* reset them);
//  3. securebits as dumped (needs CAP_SETPCAP, still held);
//  4. drop what is not in the bounding set (needs CAP_SETPCAP);
//  5. capset effective/permitted/inheritable;
//  6. raise the ambient set (each cap is permitted and inheritable now).
//
// Steps that would change nothing are skipped, so a task with the
// restorer's own credentials costs no injected call.
func SetCreds(t Task, in *ptrace.Injector, pid, tid int, c *images.CredsEntry) error {
	if c == nil {
		return nil
	}
	st, err := procfs.ReadStatusFile(procfs.Path(pid, fmt.Sprintf("task/%d/status", tid)))
	if err != nil {
		return err
	}
	// The restored thread's own status, read strictly: a field that does
	// not parse fails the restore rather than compare as zero.
	var bad error
	ints := func(k string) []uint32 {
		v, err := st.Ints(k)
		if err != nil && bad == nil {
			bad = err
		}
		return v
	}
	hex := func(k string) uint64 {
		v, err := st.Hex(k)
		if err != nil && bad == nil {
			bad = err
		}
		return v
	}
	uids, gids := ints("Uid"), ints("Gid")
	want := func(a, b, c2, d uint32) []uint32 { return []uint32{a, b, c2, d} }
	wantU := want(c.GetUid(), c.GetEuid(), c.GetSuid(), c.GetFsuid())
	wantG := want(c.GetGid(), c.GetEgid(), c.GetSgid(), c.GetFsgid())
	groups := c.GetGroups()
	secbits, err := in.Syscall("prctl(PR_GET_SECUREBITS)", unix.SYS_PRCTL, unix.PR_GET_SECUREBITS)
	if err != nil {
		return err
	}
	inh, prm, eff, bnd, amb := capSet(c.GetCapInh()), capSet(c.GetCapPrm()), capSet(c.GetCapEff()), capSet(c.GetCapBnd()), capSet(c.GetCapAmb())
	same := slices.Equal(uids, wantU) && slices.Equal(gids, wantG) &&
		slices.Equal(sortedU32(ints("Groups")), sortedU32(groups)) &&
		hex("CapInh") == inh && hex("CapPrm") == prm && hex("CapEff") == eff &&
		hex("CapBnd") == bnd && hex("CapAmb") == amb && uint32(secbits) == c.GetSecbits()
	if bad != nil {
		return bad
	}
	if same {
		return nil
	}
	le := binary.LittleEndian
	// 1.
	if !slices.Equal(sortedU32(ints("Groups")), sortedU32(groups)) {
		b := make([]byte, 4*len(groups)+4)
		for i, g := range groups {
			le.PutUint32(b[i*4:], g)
		}
		if err := t.WriteScratch(2048, b); err != nil {
			return err
		}
		if _, err := in.Syscall("setgroups", unix.SYS_SETGROUPS, uint64(len(groups)), t.Scratch()+2048); err != nil {
			return err
		}
	}
	if _, err := in.Syscall("prctl(PR_SET_SECUREBITS)", unix.SYS_PRCTL, unix.PR_SET_SECUREBITS, secbits|secbitNoSetuidFixup); err != nil {
		return err
	}
	// 2.
	if !slices.Equal(gids, wantG) {
		if _, err := in.Syscall("setresgid", unix.SYS_SETRESGID, uint64(c.GetGid()), uint64(c.GetEgid()), uint64(c.GetSgid())); err != nil {
			return err
		}
		if _, err := in.Syscall("setfsgid", unix.SYS_SETFSGID, uint64(c.GetFsgid())); err != nil {
			return err
		}
	}
	if !slices.Equal(uids, wantU) {
		if _, err := in.Syscall("setresuid", unix.SYS_SETRESUID, uint64(c.GetUid()), uint64(c.GetEuid()), uint64(c.GetSuid())); err != nil {
			return err
		}
		if _, err := in.Syscall("setfsuid", unix.SYS_SETFSUID, uint64(c.GetFsuid())); err != nil {
			return err
		}
	}
	// 3.
	if _, err := in.Syscall("prctl(PR_SET_SECUREBITS)", unix.SYS_PRCTL, unix.PR_SET_SECUREBITS, uint64(c.GetSecbits())); err != nil {
		return err
	}
	// 4.
	last, err := lastCap()
	if err != nil {
		return err
	}
	curBnd := hex("CapBnd")
	for cp := 0; cp <= last; cp++ {
		if bnd&(1<<cp) == 0 && curBnd&(1<<cp) != 0 {
			if _, err := in.Syscall("prctl(PR_CAPBSET_DROP)", unix.SYS_PRCTL, unix.PR_CAPBSET_DROP, uint64(cp)); err != nil {
				return err
			}
		}
	}
	// 5. struct __user_cap_header_struct, then two __user_cap_data_struct.
	b := make([]byte, 8+24)
	le.PutUint32(b[0:], linuxCapabilityVersion3)
	for i := 0; i < 2; i++ {
		o := 8 + 12*i
		le.PutUint32(b[o:], uint32(eff>>(32*i)))
		le.PutUint32(b[o+4:], uint32(prm>>(32*i)))
		le.PutUint32(b[o+8:], uint32(inh>>(32*i)))
	}
	if err := t.WriteScratch(2048, b); err != nil {
		return err
	}
	if _, err := in.Syscall("capset", unix.SYS_CAPSET, t.Scratch()+2048, t.Scratch()+2048+8); err != nil {
		return err
	}
	// 6.
	for cp := 0; cp <= last; cp++ {
		if amb&(1<<cp) != 0 {
			if _, err := in.Syscall("prctl(PR_CAP_AMBIENT_RAISE)", unix.SYS_PRCTL, unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_RAISE, uint64(cp)); err != nil {
				return err
			}
		}
	}
	return nil
}

func sortedU32(v []uint32) []uint32 {
	v = slices.Clone(v)
	slices.Sort(v)
	return v
}

// lastCap is the highest capability this kernel knows.
func lastCap() (int, error) {
	const name = "/proc/sys/kernel/cap_last_cap"
	b, err := os.ReadFile(name)
	if err != nil {
		return 0, err
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || n < 0 {
		return 0, fmt.Errorf("parse %s: %q is not a capability number", name, b)
	}
	return min(n, 63), nil
}

// SetThreadMisc restores what is per thread besides creds, after them
// (changing ids clears the parent-death signal): the parent-death signal,
// no_new_privs, and the scheduling policy and nice value (set from
// outside).
func SetThreadMisc(in *ptrace.Injector, tid int, tc *images.ThreadCoreEntry) error {
	if sig := tc.GetPdeathSig(); sig != 0 {
		if _, err := in.Syscall("prctl(PR_SET_PDEATHSIG)", unix.SYS_PRCTL, unix.PR_SET_PDEATHSIG, uint64(sig)); err != nil {
			return err
		}
	}
	if tc.GetCreds().GetNoNewPrivs() != 0 {
		if _, err := in.Syscall("prctl(PR_SET_NO_NEW_PRIVS)", unix.SYS_PRCTL, unix.PR_SET_NO_NEW_PRIVS, 1); err != nil {
			return err
		}
	}
	if tc.SchedPolicy != nil || tc.SchedNice != nil {
		if err := setSched(tid, tc.GetSchedPolicy(), tc.GetSchedNice(), tc.GetSchedPrio()); err != nil {
			return err
		}
	}
	return nil
}

// setSched gives thread tid its policy (with SCHED_RESET_ON_FORK or'ed
// in, as CRIU saves it), nice value and real-time priority, from
// outside. The kernel sets the nice value only with a fair policy
// (SCHED_OTHER, SCHED_BATCH), so a thread under SCHED_FIFO, SCHED_RR or
// SCHED_IDLE gets its nice value under SCHED_OTHER first: it keeps it
// and shows it again if it goes back to SCHED_OTHER.
func setSched(tid int, policy uint32, nice int32, prio uint32) error {
	attr := &unix.SchedAttr{Size: unix.SizeofSchedAttr, Policy: policy &^ schedResetOnFork, Nice: nice, Priority: prio}
	if policy&schedResetOnFork != 0 {
		attr.Flags = schedFlagReset
	}
	if attr.Policy != schedNormal && attr.Policy != schedBatch && nice != 0 {
		fair := &unix.SchedAttr{Size: unix.SizeofSchedAttr, Policy: schedNormal, Nice: nice}
		if err := unix.SchedSetAttr(tid, fair, 0); err != nil {
			return fmt.Errorf("restore nice %d: %w", nice, os.NewSyscallError("sched_setattr", err))
		}
	}
	if err := unix.SchedSetAttr(tid, attr, 0); err != nil {
		return fmt.Errorf("restore scheduling policy %d priority %d nice %d: %w", attr.Policy, prio, nice, os.NewSyscallError("sched_setattr", err))
	}
	return nil
}

// SetProcessMisc restores the mm's dumpable flag and THP-disable, through
// the leader of t, once every thread has its creds (changing ids resets
// dumpable).
func SetProcessMisc(t Task, mm *images.MmEntry) error {
	if mm.Dumpable != nil && (mm.GetDumpable() == 0 || mm.GetDumpable() == 1) {
		if _, err := t.Sys("prctl(PR_SET_DUMPABLE)", unix.SYS_PRCTL, unix.PR_SET_DUMPABLE, uint64(mm.GetDumpable())); err != nil {
			return err
		}
	}
	if mm.GetThpDisabled() {
		if _, err := t.Sys("prctl(PR_SET_THP_DISABLE)", unix.SYS_PRCTL, unix.PR_SET_THP_DISABLE, 1); err != nil {
			return err
		}
	}
	return nil
}
