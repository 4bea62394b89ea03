package ipcns

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
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"

	"github.com/criugo/criu/criu/image"
	"github.com/criugo/criu/criu/nsenter"
	"github.com/criugo/criu/criu/nsenter/nstest"
	"github.com/criugo/criu/internal/linux"
	"github.com/criugo/criu/proto/images"
)

func testLog(t *testing.T) zerolog.Logger { return zerolog.New(zerolog.NewTestWriter(t)) }

// in runs fn inside the IPC namespace of pid and fails t on error.
func in(t *testing.T, pid int, fn func() error) {
	t.Helper()
	if err := nsenter.Do(pid, nsenter.IPC, fn); err != nil {
		t.Fatal(err)
	}
}

// pattern is size bytes that differ from offset to offset.
func pattern(size, seed int) []byte {
	b := make([]byte, size)
	for i := range b {
		b[i] = byte(i*7 + seed*13 + i/251)
	}
	return b
}

type testMsg struct {
	mtype int64
	text  string
}

// populate fills the IPC namespace of pid: sysctls away from their
// defaults, two segments, two queues and two sets, with ids that are
// not the first ones (gaps and sequence numbers), owners and modes.
func populate(t *testing.T, pid int) {
	in(t, pid, func() error {
		for _, s := range []sysctlValue{
			{ctlSem, "300 40000 40 200"}, {ctlMsgmax, "9000"}, {ctlMsgmnb, "30000"},
			{ctlMsgmni, "1000"}, {ctlShmmni, "2000"}, {ctlShmmax, "1073741824"}, {ctlShmall, "2000000"},
			{ctlMqMsgMax, "20"}, {ctlMqMsgDefault, "5"},
		} {
			if err := writeSysctl(s.name, s.v); err != nil {
				return err
			}
		}
		// Segment 1: a key, an odd size (padding), another owner.
		if err := writeSysctl(ctlShmNextID, strconv.Itoa(3*32768+5)); err != nil {
			return err
		}
		id, err := unix.SysvShmGet(0x1111, 10001, 0o640|unix.IPC_CREAT|unix.IPC_EXCL)
		if err != nil {
			return fmt.Errorf("shmget: %w", err)
		}
		if err := fillSegment(id, pattern(10001, 1)); err != nil {
			return err
		}
		var ds unix.SysvShmDesc
		ds.Perm.Uid, ds.Perm.Gid, ds.Perm.Mode = 1234, 2345, 0o604
		if _, err := unix.SysvShmCtl(id, unix.IPC_SET, &ds); err != nil {
			return err
		}
		// Segment 2: private, three pages.
		id, err = unix.SysvShmGet(0, 3*4096, 0o600|unix.IPC_CREAT)
		if err != nil {
			return err
		}
		if err := fillSegment(id, pattern(3*4096, 2)); err != nil {
			return err
		}
		// Locked in memory: SHM_LOCKED shows in its mode.
		if _, err := unix.SysvShmCtl(id, shmLock, nil); err != nil {
			return fmt.Errorf("SHM_LOCK: %w", err)
		}

		// Queue 1: messages of several types and sizes, one empty and one
		// over the default msgmax; qbytes above the default msgmnb.
		if err := writeSysctl(ctlMsgNextID, "70000"); err != nil {
			return err
		}
		q, err := linux.Msgget(0x2222, 0o620|unix.IPC_CREAT|unix.IPC_EXCL)
		if err != nil {
			return err
		}
		var mds linux.MsqidDS
		if err := linux.MsgctlDS("msgctl", q, unix.IPC_STAT, &mds); err != nil {
			return err
		}
		mds.Qbytes = 25000
		mds.Perm.Uid = 4321
		if err := linux.MsgctlDS("msgctl", q, unix.IPC_SET, &mds); err != nil {
			return err
		}
		for _, m := range testMsgs {
			buf := make([]byte, 8+len(m.text))
			putMtype(buf, uint64(m.mtype))
			copy(buf[8:], m.text)
			if err := linux.Msgsnd(q, buf); err != nil {
				return err
			}
		}
		// Lowered limits: the queue's qbytes and its big message now
		// exceed them, which restore must still recreate.
		if err := writeSysctl(ctlMsgmax, "8192"); err != nil {
			return err
		}
		if err := writeSysctl(ctlMsgmnb, "20000"); err != nil {
			return err
		}
		// Queue 2: private and empty.
		if _, err := linux.Msgget(0, 0o600|unix.IPC_CREAT); err != nil {
			return err
		}

		// Set 1: five values up to SEMVMX; set 2: private, one value.
		s, err := linux.Semget(0x3333, 5, 0o660|unix.IPC_CREAT|unix.IPC_EXCL)
		if err != nil {
			return err
		}
		if err := linux.SemctlValues("semctl", s, linux.SETALL, []uint16{0, 1, 2, 32767, 5}); err != nil {
			return err
		}
		s, err = linux.Semget(0, 1, 0o600|unix.IPC_CREAT)
		if err != nil {
			return err
		}
		if err := linux.SemctlValues("semctl", s, linux.SETALL, []uint16{9}); err != nil {
			return err
		}
		// A next id left set is saved and restored too.
		return writeSysctl(ctlSemNextID, "777")
	})
}

var testMsgs = []testMsg{
	{1, "hello"}, {7, ""}, {3, strings.Repeat("big message ", 750)}, {1, "x"}, {2, "12345678"},
}

func fillSegment(id int, data []byte) error {
	b, err := unix.SysvShmAttach(id, 0, 0)
	if err != nil {
		return err
	}
	copy(b, data)
	return unix.SysvShmDetach(b)
}

// state is what a namespace holds, as compared between the dumped and
// the restored one: /proc/sysvipc rows without creators, pids and
// times, contents, values, messages and sysctls.
type state struct {
	shm, msg, sem []string
	contents      map[int][]byte
	values        map[int][]uint16
	messages      map[int][]testMsg
	qbytes        map[int]uint64
	vars          *images.IpcVarEntry
}

// sysvipc reads /proc/sysvipc/kind (which follows the reading thread's
// namespace) and keeps the given columns of each row.
func sysvipc(kind string, cols ...int) ([]string, error) {
	b, err := os.ReadFile("/proc/sysvipc/" + kind)
	if err != nil {
		return nil, err
	}
	var rows []string
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n")[1:] {
		f := strings.Fields(l)
		var keep []string
		for _, c := range cols {
			keep = append(keep, f[c])
		}
		rows = append(rows, strings.Join(keep, " "))
	}
	return rows, nil
}

func readState(t *testing.T, pid int) *state {
	t.Helper()
	s := &state{contents: map[int][]byte{}, values: map[int][]uint16{}, messages: map[int][]testMsg{}, qbytes: map[int]uint64{}}
	in(t, pid, func() error {
		var err error
		if s.vars, err = readVar(); err != nil {
			return err
		}
		// Messages longer than msgmax are copied only with msgmax raised.
		if err := writeSysctl(ctlMsgmax, "65536"); err != nil {
			return err
		}
		defer writeSysctl(ctlMsgmax, strconv.Itoa(int(s.vars.GetMsgCtlmax())))
		// key id perms size nattch uid gid
		if s.shm, err = sysvipc("shm", 0, 1, 2, 3, 6, 7, 8); err != nil {
			return err
		}
		// key id perms cbytes qnum uid gid
		if s.msg, err = sysvipc("msg", 0, 1, 2, 3, 4, 7, 8); err != nil {
			return err
		}
		// key id perms nsems uid gid
		if s.sem, err = sysvipc("sem", 0, 1, 2, 3, 4, 5); err != nil {
			return err
		}
		for _, row := range s.shm {
			f := strings.Fields(row)
			id, _ := strconv.Atoi(f[1])
			size, _ := strconv.Atoi(f[3])
			b, err := unix.SysvShmAttach(id, 0, unix.SHM_RDONLY)
			if err != nil {
				return err
			}
			s.contents[id] = bytes.Clone(b[:size])
			unix.SysvShmDetach(b)
		}
		for _, row := range s.sem {
			f := strings.Fields(row)
			id, _ := strconv.Atoi(f[1])
			n, _ := strconv.Atoi(f[3])
			vals := make([]uint16, n)
			if err := linux.SemctlValues("semctl", id, linux.GETALL, vals); err != nil {
				return err
			}
			s.values[id] = vals
		}
		for _, row := range s.msg {
			f := strings.Fields(row)
			id, _ := strconv.Atoi(f[1])
			qnum, _ := strconv.Atoi(f[4])
			buf := make([]byte, 8+65536)
			msgs := []testMsg{}
			for i := 0; i < qnum; i++ {
				mtype, n, err := linux.MsgrcvCopy(id, i, buf)
				if err != nil {
					return err
				}
				msgs = append(msgs, testMsg{mtype, string(buf[8 : 8+n])})
			}
			s.messages[id] = msgs
			var ds linux.MsqidDS
			if err := linux.MsgctlDS("msgctl", id, unix.IPC_STAT, &ds); err != nil {
				return err
			}
			s.qbytes[id] = ds.Qbytes
		}
		return nil
	})
	return s
}

func TestDumpRestore(t *testing.T) {
	ctx := context.Background()
	src := nstest.Start(t, unix.CLONE_NEWIPC)
	dst := nstest.Start(t, unix.CLONE_NEWIPC)
	populate(t, src)
	want := readState(t, src)
	if !strings.Contains(strings.Join(want.shm, "\n"), " 2600 ") {
		t.Fatalf("no locked segment (mode 2600) among %v", want.shm)
	}
	if len(want.shm) != 2 || len(want.msg) != 2 || len(want.sem) != 2 {
		t.Fatalf("populated namespace has %d segments, %d queues, %d sets", len(want.shm), len(want.msg), len(want.sem))
	}
	if got := want.messages[70000]; !reflect.DeepEqual(got, testMsgs) || want.qbytes[70000] != 25000 {
		t.Fatalf("queue 70000 holds %v, qbytes %d", got, want.qbytes[70000])
	}

	store := nstest.Dir(t)
	if err := Dump(ctx, store, src, 3, testLog(t)); err != nil {
		t.Fatal(err)
	}
	// Dumping changed nothing: the messages are still queued.
	if after := readState(t, src); !reflect.DeepEqual(after, want) {
		t.Fatalf("dump changed the namespace:\n%+v\nwas\n%+v", after, want)
	}
	if _, err := Restore(ctx, store, dst, 3, testLog(t)); err != nil {
		t.Fatal(err)
	}
	got := readState(t, dst)
	for _, c := range []struct {
		what      string
		got, want any
	}{
		{"segments", got.shm, want.shm}, {"queues", got.msg, want.msg}, {"sets", got.sem, want.sem},
		{"segment contents", got.contents, want.contents}, {"semaphore values", got.values, want.values},
		{"messages", got.messages, want.messages}, {"queue sizes", got.qbytes, want.qbytes},
	} {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("restored %s:\n%v\nwant\n%v", c.what, c.got, c.want)
		}
	}
	if !proto.Equal(got.vars, want.vars) {
		t.Errorf("restored sysctls:\n%v\nwant\n%v", got.vars, want.vars)
	}
	if want.vars.GetSemNextId() != 777 || want.vars.ShmNextId != nil {
		t.Errorf("dumped next ids: %v", want.vars)
	}

	// `criu show` and CRIU's crit read every image.
	_, critErr := exec.LookPath("crit")
	for _, name := range []string{varImage(3), shmImage(3), msgImage(3), semImage(3)} {
		path := filepath.Join(store.Path(), name)
		if _, err := image.DecodeFileJSON(path, ""); err != nil {
			t.Errorf("show %s: %v", name, err)
		}
		if critErr != nil {
			continue
		}
		if out, err := exec.Command("crit", "decode", "-i", path).CombinedOutput(); err != nil {
			t.Errorf("crit decode %s: %v\n%s", name, err, out)
		}
	}
}

// empty reports whether the IPC namespace of pid holds no object.
func empty(t *testing.T, pid int) bool {
	t.Helper()
	n := 0
	in(t, pid, func() error {
		for _, kind := range []string{"shm", "msg", "sem"} {
			rows, err := sysvipc(kind, 1)
			if err != nil {
				return err
			}
			n += len(rows)
		}
		return nil
	})
	return n == 0
}

func TestRestoreFailureUndoes(t *testing.T) {
	ctx := context.Background()
	src := nstest.Start(t, unix.CLONE_NEWIPC)
	populate(t, src)
	store := nstest.Dir(t)
	if err := Dump(ctx, store, src, 1, testLog(t)); err != nil {
		t.Fatal(err)
	}

	// The key of the first queue is taken: the segments made before it
	// are removed, the sysctls set back.
	dst := nstest.Start(t, unix.CLONE_NEWIPC)
	var before *images.IpcVarEntry
	in(t, dst, func() error {
		var err error
		if before, err = readVar(); err != nil {
			return err
		}
		if err := writeSysctl(ctlMsgNextID, "5"); err != nil {
			return err
		}
		_, err = linux.Msgget(0x2222, 0o600|unix.IPC_CREAT)
		return err
	})
	_, err := Restore(ctx, store, dst, 1, testLog(t))
	if !errors.Is(err, ErrIDTaken) || !strings.Contains(err.Error(), "message queue 70000 (key 0x2222)") || !strings.Contains(err.Error(), msgImage(1)) {
		t.Fatalf("taken key: err = %v, want ErrIDTaken naming the queue and the image", err)
	}
	var after *images.IpcVarEntry
	var rows []string
	in(t, dst, func() error {
		var err error
		after, err = readVar()
		if err == nil {
			rows, err = sysvipc("shm", 1)
		}
		return err
	})
	if len(rows) != 0 {
		t.Errorf("failed restore left segments %v", rows)
	}
	if !proto.Equal(after, before) {
		t.Errorf("failed restore left sysctls\n%v\nwere\n%v", after, before)
	}

	// A semaphore value past SEMVMX fails at the last object: all the
	// others are removed again.
	bad := nstest.Dir(t)
	for _, name := range []string{varImage(1), shmImage(1), msgImage(1)} {
		b, err := os.ReadFile(filepath.Join(store.Path(), name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(bad.Path(), name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	err = image.WriteEntries(ctx, bad, semImage(1), func(enc *image.Encoder, w io.Writer) error {
		e := &images.IpcSemEntry{Desc: perm{key: 0x4444, mode: 0o600}.desc(0), Nsems: proto.Uint32(2)}
		if err := enc.Encode(e); err != nil {
			return err
		}
		_, err := w.Write(image.AppendSemValues(nil, []uint16{1, 40000}))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	dst2 := nstest.Start(t, unix.CLONE_NEWIPC)
	_, err = Restore(ctx, bad, dst2, 1, testLog(t))
	if !errors.Is(err, unix.ERANGE) || !strings.Contains(err.Error(), "semaphore set 0 (key 0x4444)") {
		t.Fatalf("value past SEMVMX: err = %v, want ERANGE naming the set", err)
	}
	if !empty(t, dst2) {
		t.Error("failed restore left objects behind")
	}
}

func TestRestoreBadImages(t *testing.T) {
	ctx := context.Background()
	dst := nstest.Start(t, unix.CLONE_NEWIPC)
	store := nstest.Dir(t)
	if _, err := Restore(ctx, store, dst, 5, testLog(t)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("no images: err = %v, want not exist", err)
	}

	src := nstest.Start(t, unix.CLONE_NEWIPC)
	populate(t, src)
	if err := Dump(ctx, store, src, 5, testLog(t)); err != nil {
		t.Fatal(err)
	}
	// A queue image cut inside a message.
	p := filepath.Join(store.Path(), msgImage(5))
	b, _ := os.ReadFile(p)
	if err := os.WriteFile(p, b[:len(b)-100], 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Restore(ctx, store, dst, 5, testLog(t))
	var fe *image.FormatError
	if !errors.As(err, &fe) || fe.Name != msgImage(5) || !strings.Contains(err.Error(), "message queue 70000") {
		t.Errorf("truncated queue image: err = %v, want a FormatError naming the image and the queue", err)
	}
	if !empty(t, dst) {
		t.Error("failed restore left objects behind")
	}
	// Sysctls without the four semaphore limits.
	v := &images.IpcVarEntry{}
	if err := image.ReadOne(ctx, store, varImage(5), v); err != nil {
		t.Fatal(err)
	}
	v.SemCtls = v.SemCtls[:1]
	if err := image.WriteImage(ctx, store, varImage(6), v); err != nil {
		t.Fatal(err)
	}
	if _, err := Restore(ctx, store, dst, 6, testLog(t)); !errors.Is(err, ErrBadImage) || !strings.Contains(err.Error(), varImage(6)) {
		t.Errorf("one semaphore limit: err = %v, want ErrBadImage naming the image", err)
	}
	// Never into our own namespace.
	if _, err := Restore(ctx, store, os.Getpid(), 5, testLog(t)); !errors.Is(err, nsenter.ErrOwnNamespace) {
		t.Errorf("own namespace: err = %v, want ErrOwnNamespace", err)
	}
}

// Current CRIU keeps segment contents in pagemaps (IpcShmEntry
// InPagemaps): pagemap-shmem-ID.img, offsets in the segment, and the
// present pages in pages-N.img. Restore reads them, holes and a last
// page that runs past the segment's size included.
func TestRestoreCRIUPagemaps(t *testing.T) {
	ctx := context.Background()
	store := nstest.Dir(t)
	const size = 3*4096 + 100 // four pages, the last one partly
	e := &images.IpcShmEntry{Desc: perm{key: 0x5555, uid: 7, gid: 8, mode: 0o640}.desc(4), Size: proto.Uint64(size), InPagemaps: proto.Bool(true)}
	if err := image.WriteImage(ctx, store, shmImage(2), e); err != nil {
		t.Fatal(err)
	}
	page := func(c byte) []byte { return bytes.Repeat([]byte{c}, 4096) }
	// Page 0 and pages 2-3 present, page 1 a hole, plus an entry that
	// is not present.
	pm := []proto.Message{
		&images.PagemapHead{PagesId: proto.Uint32(9)},
		&images.PagemapEntry{Vaddr: proto.Uint64(0), CompatNrPages: proto.Uint32(1), NrPages: proto.Uint64(1), Flags: proto.Uint32(image.PePresent)},
		&images.PagemapEntry{Vaddr: proto.Uint64(4096), CompatNrPages: proto.Uint32(1), Flags: proto.Uint32(0)},
		&images.PagemapEntry{Vaddr: proto.Uint64(2 * 4096), CompatNrPages: proto.Uint32(2), Flags: proto.Uint32(image.PePresent)},
	}
	if err := image.WriteImage(ctx, store, "pagemap-shmem-4.img", pm...); err != nil {
		t.Fatal(err)
	}
	pages := append(append(page('a'), page('c')...), page('d')...)
	if err := os.WriteFile(filepath.Join(store.Path(), "pages-9.img"), pages, 0o600); err != nil {
		t.Fatal(err)
	}
	v := &images.IpcVarEntry{}
	src := nstest.Start(t, unix.CLONE_NEWIPC)
	in(t, src, func() (err error) { v, err = readVar(); return err })
	if err := image.WriteImage(ctx, store, varImage(2), v); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{msgImage(2), semImage(2)} {
		if err := image.WriteImage(ctx, store, name); err != nil {
			t.Fatal(err)
		}
	}
	dst := nstest.Start(t, unix.CLONE_NEWIPC)
	if _, err := Restore(ctx, store, dst, 2, testLog(t)); err != nil {
		t.Fatal(err)
	}
	got := readState(t, dst)
	want := append(append(append(page('a'), make([]byte, 4096)...), page('c')...), page('d')[:100]...)
	if !bytes.Equal(got.contents[4], want) {
		t.Errorf("segment 4 restored from pagemaps differs (%d bytes, want %d)", len(got.contents[4]), len(want))
	}
	if len(got.shm) != 1 || !strings.HasPrefix(got.shm[0], "21845 4 640 12388 0 7 8") {
		t.Errorf("segments: %v", got.shm)
	}

	// Pages past the segment are refused, and the segment removed.
	pm[3].(*images.PagemapEntry).CompatNrPages = proto.Uint32(3)
	if err := image.WriteImage(ctx, store, "pagemap-shmem-4.img", pm...); err != nil {
		t.Fatal(err)
	}
	dst2 := nstest.Start(t, unix.CLONE_NEWIPC)
	if _, err := Restore(ctx, store, dst2, 2, testLog(t)); !errors.Is(err, ErrBadImage) || !strings.Contains(err.Error(), "pagemap-shmem-4.img") {
		t.Errorf("pages past the segment: err = %v, want ErrBadImage naming the pagemap", err)
	}
	if !empty(t, dst2) {
		t.Error("failed restore left objects behind")
	}
}

// A segment removed while attached comes back live, so that tasks can
// attach it by id, and Finish removes it again: it then lives exactly
// as long as its attachments.
func TestRemovedSegment(t *testing.T) {
	ctx := context.Background()
	src := nstest.Start(t, unix.CLONE_NEWIPC)
	dst := nstest.Start(t, unix.CLONE_NEWIPC)
	var srcB []byte
	var id int
	in(t, src, func() error {
		var err error
		if id, err = unix.SysvShmGet(unix.IPC_PRIVATE, 3*4096, unix.IPC_CREAT|0o600); err != nil {
			return err
		}
		if srcB, err = unix.SysvShmAttach(id, 0, 0); err != nil {
			return err
		}
		copy(srcB, pattern(len(srcB), 5))
		_, err = unix.SysvShmCtl(id, unix.IPC_RMID, nil)
		return err
	})
	defer unix.SysvShmDetach(srcB)
	store := nstest.Dir(t)
	if err := Dump(ctx, store, src, 9, testLog(t)); err != nil {
		t.Fatal(err)
	}
	rs, err := Restore(ctx, store, dst, 9, testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	modes := func() []string {
		var rows []string
		in(t, dst, func() error {
			var err error
			rows, err = sysvipc("shm", 1, 2)
			return err
		})
		return rows
	}
	want := strconv.Itoa(id)
	if got := modes(); !slices.Equal(got, []string{want + " 600"}) {
		t.Fatalf("before Finish: segments %v, want [%s 600]", got, want)
	}
	var b []byte
	in(t, dst, func() error {
		var err error
		b, err = unix.SysvShmAttach(id, 0, 0)
		return err
	})
	if !bytes.Equal(b, pattern(len(b), 5)) {
		t.Error("restored contents differ")
	}
	if err := rs.Finish(); err != nil {
		t.Fatal(err)
	}
	if got := modes(); !slices.Equal(got, []string{want + " 1600"}) {
		t.Fatalf("after Finish: segments %v, want [%s 1600] (removed, attached)", got, want)
	}
	if err := unix.SysvShmDetach(b); err != nil {
		t.Fatal(err)
	}
	if got := modes(); len(got) != 0 {
		t.Fatalf("detached, the removed segment is still there: %v", got)
	}
}
