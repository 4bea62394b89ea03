package ipcns

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"

	"github.com/criugo/criu/proto/images"
)

// The sysctls of an IPC namespace, relative to /proc/sys. They follow
// the IPC namespace of the thread that opens them.
const (
	ctlSem            = "kernel/sem"
	ctlMsgmax         = "kernel/msgmax"
	ctlMsgmnb         = "kernel/msgmnb"
	ctlMsgmni         = "kernel/msgmni"
	ctlAutoMsgmni     = "kernel/auto_msgmni"
	ctlShmmax         = "kernel/shmmax"
	ctlShmall         = "kernel/shmall"
	ctlShmmni         = "kernel/shmmni"
	ctlShmRmidForced  = "kernel/shm_rmid_forced"
	ctlMqQueuesMax    = "fs/mqueue/queues_max"
	ctlMqMsgMax       = "fs/mqueue/msg_max"
	ctlMqMsgsizeMax   = "fs/mqueue/msgsize_max"
	ctlMqMsgDefault   = "fs/mqueue/msg_default"
	ctlMqMsgsizeDflt  = "fs/mqueue/msgsize_default"
	ctlShmNextID      = "kernel/shm_next_id"
	ctlMsgNextID      = "kernel/msg_next_id"
	ctlSemNextID      = "kernel/sem_next_id"
	procSys           = "/proc/sys/"
	maxSysctlFileSize = 256
)

// readSysctl returns the contents of /proc/sys/name, opened by the
// calling thread (so in its IPC namespace), without the final newline.
func readSysctl(name string) (string, error) {
	fd, err := unix.Open(procSys+name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", &os.PathError{Op: "open", Path: procSys + name, Err: err}
	}
	defer unix.Close(fd)
	var buf [maxSysctlFileSize]byte
	n, err := unix.Read(fd, buf[:])
	if err != nil {
		return "", &os.PathError{Op: "read", Path: procSys + name, Err: err}
	}
	return strings.TrimSpace(string(buf[:n])), nil
}

// writeSysctl writes v to /proc/sys/name from the calling thread.
func writeSysctl(name, v string) error {
	fd, err := unix.Open(procSys+name, unix.O_WRONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: procSys + name, Err: err}
	}
	defer unix.Close(fd)
	if _, err := unix.Write(fd, []byte(v)); err != nil {
		return fmt.Errorf("write %q to %s: %w", v, procSys+name, err)
	}
	return nil
}

func readUint(name string, bits int) (uint64, error) {
	s, err := readSysctl(name)
	if err != nil {
		return 0, err
	}
	v, err := strconv.ParseUint(s, 10, bits)
	if err != nil {
		return 0, fmt.Errorf("%s%s: %w", procSys, name, err)
	}
	return v, nil
}

// readVar reads the namespace's sysctls as CRIU saves them. A next id
// is saved only when set (not -1). The mqueue ones are zero and unset
// where the kernel has no POSIX message queues.
func readVar() (*images.IpcVarEntry, error) {
	e := &images.IpcVarEntry{}
	s, err := readSysctl(ctlSem)
	if err != nil {
		return nil, err
	}
	for _, f := range strings.Fields(s) {
		v, err := strconv.ParseUint(f, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("%s%s: %w", procSys, ctlSem, err)
		}
		e.SemCtls = append(e.SemCtls, uint32(v))
	}
	if len(e.SemCtls) != 4 {
		return nil, fmt.Errorf("%s%s: %q: want 4 numbers", procSys, ctlSem, s)
	}
	u32 := []struct {
		name     string
		dst      **uint32
		optional bool
	}{
		{ctlMsgmax, &e.MsgCtlmax, false},
		{ctlMsgmnb, &e.MsgCtlmnb, false},
		{ctlMsgmni, &e.MsgCtlmni, false},
		{ctlAutoMsgmni, &e.AutoMsgmni, false},
		{ctlShmmni, &e.ShmCtlmni, false},
		{ctlShmRmidForced, &e.ShmRmidForced, false},
		{ctlMqQueuesMax, &e.MqQueuesMax, true},
		{ctlMqMsgMax, &e.MqMsgMax, true},
		{ctlMqMsgsizeMax, &e.MqMsgsizeMax, true},
		{ctlMqMsgDefault, &e.MqMsgDefault, true},
		{ctlMqMsgsizeDflt, &e.MqMsgsizeDefault, true},
	}
	for _, c := range u32 {
		v, err := readUint(c.name, 32)
		if c.optional && errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		*c.dst = proto.Uint32(uint32(v))
	}
	// Required in the image even without POSIX message queues.
	for _, p := range []**uint32{&e.MqQueuesMax, &e.MqMsgMax, &e.MqMsgsizeMax} {
		if *p == nil {
			*p = proto.Uint32(0)
		}
	}
	for _, c := range []struct {
		name string
		dst  **uint64
	}{{ctlShmmax, &e.ShmCtlmax}, {ctlShmall, &e.ShmCtlall}} {
		v, err := readUint(c.name, 64)
		if err != nil {
			return nil, err
		}
		*c.dst = proto.Uint64(v)
	}
	for _, c := range []struct {
		name string
		dst  **uint32
	}{{ctlMsgNextID, &e.MsgNextId}, {ctlSemNextID, &e.SemNextId}, {ctlShmNextID, &e.ShmNextId}} {
		s, err := readSysctl(c.name)
		if err != nil {
			return nil, err
		}
		v, err := strconv.ParseInt(s, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("%s%s: %w", procSys, c.name, err)
		}
		if v >= 0 {
			*c.dst = proto.Uint32(uint32(v))
		}
	}
	return e, nil
}

// sysctlValue is one sysctl of an IpcVarEntry to write.
type sysctlValue struct{ name, v string }

// limits lists the sysctls of e that Restore writes before it creates
// the objects: all but the next ids (writeNextIDs) and
// shm_rmid_forced (written last). The mqueue ones are left out where
// this kernel has none, or where e has none (zero maximums).
func limits(e *images.IpcVarEntry) ([]sysctlValue, error) {
	if len(e.SemCtls) != 4 {
		return nil, fmt.Errorf("%w: %d semaphore limits (kernel/sem), want 4", ErrBadImage, len(e.SemCtls))
	}
	u := func(v uint32) string { return strconv.FormatUint(uint64(v), 10) }
	sem := make([]string, 4)
	for i, v := range e.SemCtls {
		sem[i] = u(v)
	}
	out := []sysctlValue{
		{ctlSem, strings.Join(sem, " ")},
		{ctlMsgmax, u(e.GetMsgCtlmax())},
		{ctlMsgmnb, u(e.GetMsgCtlmnb())},
		{ctlMsgmni, u(e.GetMsgCtlmni())},
		{ctlAutoMsgmni, u(e.GetAutoMsgmni())},
		{ctlShmmax, strconv.FormatUint(e.GetShmCtlmax(), 10)},
		{ctlShmall, strconv.FormatUint(e.GetShmCtlall(), 10)},
		{ctlShmmni, u(e.GetShmCtlmni())},
	}
	if _, err := os.Stat(procSys + "fs/mqueue"); err == nil && e.GetMqMsgMax() != 0 {
		out = append(out,
			sysctlValue{ctlMqQueuesMax, u(e.GetMqQueuesMax())},
			sysctlValue{ctlMqMsgMax, u(e.GetMqMsgMax())},
			sysctlValue{ctlMqMsgsizeMax, u(e.GetMqMsgsizeMax())})
		if e.MqMsgDefault != nil {
			out = append(out, sysctlValue{ctlMqMsgDefault, u(e.GetMqMsgDefault())})
		}
		if e.MqMsgsizeDefault != nil {
			out = append(out, sysctlValue{ctlMqMsgsizeDflt, u(e.GetMqMsgsizeDefault())})
		}
	}
	return out, nil
}

// writeAll writes each sysctl in order.
func writeAll(vals []sysctlValue) error {
	for _, s := range vals {
		if err := writeSysctl(s.name, s.v); err != nil {
			return err
		}
	}
	return nil
}

// readAll reads the current value of each sysctl named in vals.
func readAll(vals []sysctlValue) ([]sysctlValue, error) {
	out := make([]sysctlValue, len(vals))
	for i, s := range vals {
		v, err := readSysctl(s.name)
		if err != nil {
			return nil, err
		}
		out[i] = sysctlValue{s.name, strings.Join(strings.Fields(v), " ")}
	}
	return out, nil
}
