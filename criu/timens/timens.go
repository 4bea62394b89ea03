package timens

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"

	"github.com/criugo/criu/criu/image"
	"github.com/criugo/criu/proto/images"
)

// ErrBadImage is returned for a timens image whose clocks are out of
// range.
var ErrBadImage = errors.New("bad time namespace image")

// ImageName is the name of the image of time namespace id (0: criu's).
func ImageName(id uint32) string { return "timens-" + strconv.FormatUint(uint64(id), 10) + ".img" }

// Offsets are a time namespace's offsets from the host's clocks.
type Offsets struct {
	Monotonic, Boottime time.Duration
}

// ReadOffsets reads the offsets of the time namespace that pid's
// children are created in (pid 0: this process).
func ReadOffsets(pid int) (Offsets, error) {
	p := "/proc/self/timens_offsets"
	if pid != 0 {
		p = "/proc/" + strconv.Itoa(pid) + "/timens_offsets"
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return Offsets{}, err
	}
	o, err := parseOffsets(b)
	if err != nil {
		return Offsets{}, fmt.Errorf("%s: %w", p, err)
	}
	return o, nil
}

// parseOffsets parses the text of timens_offsets: one line per clock,
// "monotonic SEC NSEC" and "boottime SEC NSEC" (older kernels name the
// clocks by number, 1 and 7).
func parseOffsets(b []byte) (Offsets, error) {
	var o Offsets
	seen := 0
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		if len(f) != 3 {
			return o, fmt.Errorf("bad line %q", sc.Text())
		}
		sec, err1 := strconv.ParseInt(f[1], 10, 64)
		nsec, err2 := strconv.ParseInt(f[2], 10, 64)
		if err1 != nil || err2 != nil || nsec < 0 || nsec >= 1e9 {
			return o, fmt.Errorf("bad line %q", sc.Text())
		}
		d := time.Duration(sec)*time.Second + time.Duration(nsec)
		switch f[0] {
		case "monotonic", "1":
			o.Monotonic = d
			seen |= 1
		case "boottime", "7":
			o.Boottime = d
			seen |= 2
		default:
			return o, fmt.Errorf("unknown clock %q", f[0])
		}
	}
	if seen != 3 {
		return o, errors.New("monotonic or boottime missing")
	}
	return o, nil
}

// hostClocks returns CLOCK_MONOTONIC and CLOCK_BOOTTIME of the host
// (the init time namespace): this process's, less its namespace's
// offsets.
func hostClocks() (Offsets, error) {
	mine, err := ReadOffsets(0)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return Offsets{}, err
	}
	var m, b unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &m); err != nil {
		return Offsets{}, os.NewSyscallError("clock_gettime", err)
	}
	if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &b); err != nil {
		return Offsets{}, os.NewSyscallError("clock_gettime", err)
	}
	return Offsets{Monotonic: time.Duration(m.Nano()) - mine.Monotonic, Boottime: time.Duration(b.Nano()) - mine.Boottime}, nil
}

// Clocks returns the clocks as seen in the time namespace of pid's
// children (pid 0: this process's).
func Clocks(pid int) (Offsets, error) {
	off, err := ReadOffsets(pid)
	if err != nil && (pid != 0 || !errors.Is(err, fs.ErrNotExist)) {
		return Offsets{}, err
	}
	h, err := hostClocks()
	if err != nil {
		return Offsets{}, err
	}
	return Offsets{Monotonic: h.Monotonic + off.Monotonic, Boottime: h.Boottime + off.Boottime}, nil
}

func timespec(d time.Duration) *images.Timespec {
	return &images.Timespec{TvSec: proto.Uint64(uint64(d / time.Second)), TvNsec: proto.Uint64(uint64(d % time.Second))}
}

// Dump writes timens-ID.img with the clocks of the time namespace of
// task pid (pid 0: criu's own, for timens-0.img).
func Dump(ctx context.Context, store image.Store, pid int, id uint32, log zerolog.Logger) error {
	c, err := Clocks(pid)
	if err != nil {
		return fmt.Errorf("dump time namespace of %d: %w", pid, err)
	}
	if c.Monotonic < 0 || c.Boottime < 0 {
		return fmt.Errorf("dump time namespace of %d: negative clocks %v", pid, c)
	}
	log.Debug().Int("pid", pid).Uint32("id", id).Dur("monotonic", c.Monotonic).Dur("boottime", c.Boottime).Msg("time namespace")
	e := &images.TimensEntry{Monotonic: timespec(c.Monotonic), Boottime: timespec(c.Boottime)}
	return image.WriteImage(ctx, store, ImageName(id), e)
}

// Load reads the clocks of the tree's time namespace: timens-ID.img with
// ID the root's time_ns_id when own (the tree had a namespace of its
// own), else timens-0.img (criu's clocks at dump). A missing
// timens-0.img is no error: the clocks were not saved (nil), as CRIU's
// "Clocks values have not been dumped".
func Load(ctx context.Context, store image.Store, own bool, ids *images.TaskKobjIdsEntry) (*Offsets, error) {
	id := uint32(0)
	if own {
		id = ids.GetTimeNsId()
	}
	return load(ctx, store, id)
}

func load(ctx context.Context, store image.Store, id uint32) (*Offsets, error) {
	e := &images.TimensEntry{}
	if err := image.ReadOne(ctx, store, ImageName(id), e); err != nil {
		if id == 0 && errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, fmt.Errorf("restore time namespace: %w", err)
	}
	for _, ts := range []*images.Timespec{e.GetMonotonic(), e.GetBoottime()} {
		if ts.GetTvNsec() >= 1e9 || ts.GetTvSec() > uint64(time.Duration(1<<62)/time.Second) {
			return nil, fmt.Errorf("%w: %s: clock %d.%09d", ErrBadImage, ImageName(id), ts.GetTvSec(), ts.GetTvNsec())
		}
	}
	d := func(ts *images.Timespec) time.Duration {
		return time.Duration(ts.GetTvSec())*time.Second + time.Duration(ts.GetTvNsec())
	}
	return &Offsets{Monotonic: d(e.GetMonotonic()), Boottime: d(e.GetBoottime())}, nil
}

// formatOffset is one line of timens_offsets for the kernel: the clock's
// number, seconds (may be negative) and nanoseconds in [0, 1e9).
func formatOffset(clock int, d time.Duration) string {
	sec, nsec := int64(d/time.Second), int64(d%time.Second)
	if nsec < 0 {
		sec, nsec = sec-1, nsec+1e9
	}
	return fmt.Sprintf("%d %d %d\n", clock, sec, nsec)
}

// SetOffsets writes the offsets of the time namespace of pid's children,
// which no task has entered yet, so that its clocks read c from now on.
func SetOffsets(pid int, c Offsets) error {
	h, err := hostClocks()
	if err != nil {
		return err
	}
	p := "/proc/" + strconv.Itoa(pid) + "/timens_offsets"
	s := formatOffset(unix.CLOCK_MONOTONIC, c.Monotonic-h.Monotonic) + formatOffset(unix.CLOCK_BOOTTIME, c.Boottime-h.Boottime)
	f, err := os.OpenFile(p, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := f.WriteString(s); err != nil {
		return fmt.Errorf("write %q to %s: %w", s, p, err)
	}
	return nil
}

// Syscaller runs a system call in a stopped task (a ptrace.Injector).
type Syscaller interface {
	Syscall(name string, nr uintptr, args ...uint64) (uint64, error)
}

// Enter makes the task pid, run through in, create its children in a
// new time namespace whose clocks read c (nil: it does nothing). Run it
// in the stub before it clones the root.
func Enter(in Syscaller, pid int, c *Offsets, log zerolog.Logger) error {
	if c == nil {
		return nil
	}
	if _, err := in.Syscall("unshare", unix.SYS_UNSHARE, unix.CLONE_NEWTIME); err != nil {
		return fmt.Errorf("new time namespace: %w", err)
	}
	if err := SetOffsets(pid, *c); err != nil {
		return fmt.Errorf("new time namespace: %w", err)
	}
	log.Debug().Int("pid", pid).Dur("monotonic", c.Monotonic).Dur("boottime", c.Boottime).Msg("new time namespace")
	return nil
}
