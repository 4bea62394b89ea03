package rpc_test

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/criugo/criu/criu/crtest"
	pb "github.com/criugo/criu/proto/rpc"
)

// refCriu is CRIU 4.2, the oracle the scenarios also run against when it
// is installed (RPC_REF_CRIU overrides the path, "" or "none" skips it).
func refCriu() string {
	if p, ok := os.LookupEnv("RPC_REF_CRIU"); ok {
		if p == "none" {
			return ""
		}
		return p
	}
	return crtest.CRIU42()
}

// binaries runs scenario f against our criu and, when present, CRIU 4.2
// (as subtests "criu-go" and "criu-4.2"); f learns which it drives.
func binaries(t *testing.T, f func(t *testing.T, bin string, ref bool)) {
	crtest.RequireRoot(t)
	crtest.Subreaper(t)
	t.Run("criu-go", func(t *testing.T) { f(t, crtest.Criu(t), false) })
	ref := refCriu()
	if ref == "" {
		return
	}
	if _, err := os.Stat(ref); err != nil {
		t.Logf("reference CRIU %s absent: %v", ref, err)
		return
	}
	t.Run("criu-4.2", func(t *testing.T) { f(t, ref, true) })
}

// swrk is one `criu swrk 3` with the client's end of its socketpair.
type swrk struct {
	conn   *net.UnixConn
	cmd    *exec.Cmd
	stderr bytes.Buffer
	ref    bool // CRIU 4.2: its exit status is not checked
}

// startSwrk runs bin swrk on a fresh SOCK_SEQPACKET socketpair, as runc
// does (the server's end is its fd 3).
func startSwrk(t *testing.T, bin string, ref bool) *swrk {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	ours, theirs := os.NewFile(uintptr(fds[0]), "client"), os.NewFile(uintptr(fds[1]), "swrk")
	s := &swrk{ref: ref}
	s.cmd = exec.Command(bin, "swrk", "3")
	s.cmd.ExtraFiles = []*os.File{theirs}
	s.cmd.Stderr = &s.stderr
	s.cmd.Stdout = &s.stderr
	err = s.cmd.Start()
	theirs.Close()
	if err != nil {
		ours.Close()
		t.Fatal(err)
	}
	c, err := net.FileConn(ours)
	ours.Close()
	if err != nil {
		t.Fatal(err)
	}
	s.conn = c.(*net.UnixConn)
	t.Cleanup(func() { s.close(t) })
	return s
}

// close closes the client's end; swrk must then exit 0.
func (s *swrk) close(t *testing.T) {
	if s.conn == nil {
		return
	}
	s.conn.Close()
	s.conn = nil
	done := make(chan error, 1)
	go func() { done <- s.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil && !s.ref {
			t.Errorf("swrk exited: %v\n%s", err, s.stderr.String())
		}
	case <-time.After(20 * time.Second):
		s.cmd.Process.Kill()
		<-done
		t.Errorf("swrk did not exit after the client closed\n%s", s.stderr.String())
	}
}

func (s *swrk) sendRaw(t *testing.T, b []byte) {
	t.Helper()
	if _, _, err := s.conn.WriteMsgUnix(b, nil, nil); err != nil {
		t.Fatalf("send: %v", err)
	}
}

func (s *swrk) recv(t *testing.T) *pb.CriuResp {
	t.Helper()
	buf := make([]byte, 1<<20)
	s.conn.SetReadDeadline(time.Now().Add(60 * time.Second))
	n, _, _, _, err := s.conn.ReadMsgUnix(buf, nil)
	if err != nil {
		t.Fatalf("recv: %v\n%s", err, s.stderr.String())
	}
	if n == 0 {
		t.Fatalf("swrk closed the socket\n%s", s.stderr.String())
	}
	resp := &pb.CriuResp{}
	if err := proto.Unmarshal(buf[:n], resp); err != nil {
		t.Fatal(err)
	}
	return resp
}

// call sends req and answers every notification with answer (nil:
// success), returning the final response and the notifications seen.
func (s *swrk) call(t *testing.T, req *pb.CriuReq, answer func(n *pb.CriuNotify) bool) (*pb.CriuResp, []*pb.CriuNotify) {
	t.Helper()
	b, err := proto.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	return s.callRaw(t, b, answer)
}

func (s *swrk) callRaw(t *testing.T, b []byte, answer func(n *pb.CriuNotify) bool) (*pb.CriuResp, []*pb.CriuNotify) {
	t.Helper()
	s.sendRaw(t, b)
	var seen []*pb.CriuNotify
	for {
		resp := s.recv(t)
		if resp.GetType() != pb.CriuReqType_NOTIFY {
			return resp, seen
		}
		seen = append(seen, resp.GetNotify())
		ok := answer == nil || answer(resp.GetNotify())
		b, err := proto.Marshal(&pb.CriuReq{Type: pb.CriuReqType_NOTIFY.Enum(), NotifySuccess: proto.Bool(ok)})
		if err != nil {
			t.Fatal(err)
		}
		s.sendRaw(t, b)
	}
}

func scripts(ns []*pb.CriuNotify) []string {
	var s []string
	for _, n := range ns {
		s = append(s, n.GetScript())
	}
	return s
}

// counter starts rpccounter writing to dir/out.txt and waits for its
// first ticks.
func counter(t *testing.T, dir string, args ...string) (*exec.Cmd, string) {
	t.Helper()
	bin := crtest.BuildC(t, filepath.Join(crtest.SourceDir(), "rpccounter.c"), false)
	out := filepath.Join(dir, "out.txt")
	cmd := crtest.Start(t, bin, append([]string{out}, args...)...)
	t.Cleanup(func() { crtest.Kill(cmd.Process.Pid) })
	crtest.WaitFor(t, out, "tick 3\n", 10*time.Second)
	return cmd, out
}

// ticks parses the counter's lines and checks they count 0, 1, 2...
// with no gap and no restart: the restored counter went on from the
// dumped one. It returns the last.
func ticks(t *testing.T, out string) int {
	t.Helper()
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	last := -1
	for i, l := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		n, err := strconv.Atoi(strings.TrimPrefix(l, "tick "))
		if err != nil || n != i {
			t.Fatalf("%s: line %d is %q, want tick %d", out, i, l, i)
		}
		last = n
	}
	return last
}

// waitTick waits until the counter wrote tick n.
func waitTick(t *testing.T, out string, n int) {
	t.Helper()
	crtest.WaitFor(t, out, fmt.Sprintf("tick %d\n", n), 10*time.Second)
}

// imagesDir makes a directory for images and opens it, the fd passed as
// images_dir_fd.
func imagesDir(t *testing.T, path string) *os.File {
	t.Helper()
	if err := os.MkdirAll(path, 0o755); err != nil {
		t.Fatal(err)
	}
	d, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func mustSucceed(t *testing.T, resp *pb.CriuResp, want pb.CriuReqType, log string) {
	t.Helper()
	if resp.GetType() != want || !resp.GetSuccess() {
		l, _ := os.ReadFile(log)
		t.Fatalf("%s: type %s success %v errno %d: %s\nlog %s:\n%s", want, resp.GetType(), resp.GetSuccess(),
			resp.GetCrErrno(), resp.GetCrErrmsg(), log, tailOf(l))
	}
}

func tailOf(b []byte) string {
	if len(b) > 3000 {
		b = b[len(b)-3000:]
	}
	return string(b)
}

func TestSwrkVersionCheckFeatures(t *testing.T) {
	binaries(t, func(t *testing.T, bin string, ref bool) {
		// One request per swrk, as go-criu and runc run it (CRIU 4.2
		// serves one request and exits).
		resp, _ := startSwrk(t, bin, ref).call(t, &pb.CriuReq{Type: pb.CriuReqType_VERSION.Enum()}, nil)
		v := resp.GetVersion()
		if !resp.GetSuccess() || v.GetMajorNumber()*10000+v.GetMinorNumber()*100 < 40200 {
			t.Fatalf("VERSION: %v", resp)
		}
		t.Logf("VERSION: %d.%d gitid %q name %q", v.GetMajorNumber(), v.GetMinorNumber(), v.GetGitid(), v.GetName())
		if !ref && (v.GetMajorNumber() != 4 || v.GetMinorNumber() != 2) {
			t.Errorf("VERSION: %v, want 4.2", v)
		}

		resp, _ = startSwrk(t, bin, ref).call(t, &pb.CriuReq{Type: pb.CriuReqType_CHECK.Enum()}, nil)
		t.Logf("CHECK: success %v %s", resp.GetSuccess(), resp.GetCrErrmsg())
		if !ref && !resp.GetSuccess() {
			t.Errorf("CHECK failed: %s", resp.GetCrErrmsg())
		}

		resp, _ = startSwrk(t, bin, ref).call(t, &pb.CriuReq{Type: pb.CriuReqType_FEATURE_CHECK.Enum(),
			Features: &pb.CriuFeatures{MemTrack: proto.Bool(true), LazyPages: proto.Bool(true)}}, nil)
		f := resp.GetFeatures()
		t.Logf("FEATURE_CHECK: success %v mem_track %v lazy_pages %v", resp.GetSuccess(), f.GetMemTrack(), f.GetLazyPages())
		if !ref && (!resp.GetSuccess() || !f.GetMemTrack() || f.GetLazyPages()) {
			t.Errorf("FEATURE_CHECK: %v, want mem_track true, lazy_pages false", resp)
		}
	})
}

// TestSwrkDumpRestore: a DUMP with images_dir_fd, log_file and
// notify_scripts of a running counter, then a RESTORE with notify_scripts
// answering every notification: post-restore carries the restored pid,
// the response the same pid, and the counter goes on from where it was.
func TestSwrkDumpRestore(t *testing.T) {
	binaries(t, func(t *testing.T, bin string, ref bool) {
		dir := t.TempDir()
		cmd, out := counter(t, dir)
		img := filepath.Join(dir, "img")
		d := imagesDir(t, img)
		resp, notes := startSwrk(t, bin, ref).call(t, &pb.CriuReq{Type: pb.CriuReqType_DUMP.Enum(), Opts: &pb.CriuOpts{
			ImagesDirFd: proto.Int32(int32(d.Fd())), Pid: proto.Int32(int32(cmd.Process.Pid)),
			LogLevel: proto.Int32(4), LogFile: proto.String("dump.log"), NotifyScripts: proto.Bool(true),
		}}, nil)
		mustSucceed(t, resp, pb.CriuReqType_DUMP, filepath.Join(img, "dump.log"))
		t.Logf("dump notifications: %v", scripts(notes))
		if resp.GetDump().GetRestored() {
			t.Errorf("dump says restored")
		}
		if _, err := os.Stat(filepath.Join(img, "inventory.img")); err != nil {
			t.Errorf("no inventory after dump: %v", err)
		}
		if _, err := os.Stat(filepath.Join(img, "dump.log")); err != nil {
			t.Errorf("log_file not in the images dir: %v", err)
		}
		if got := scripts(notes); len(got) < 2 || got[0] != "pre-dump" || got[len(got)-1] != "post-dump" {
			t.Errorf("dump notifications %v, want pre-dump first and post-dump last", got)
		}
		cmd.Wait()
		last := ticks(t, out)

		var postPid int32
		resp, notes = startSwrk(t, bin, ref).call(t, &pb.CriuReq{Type: pb.CriuReqType_RESTORE.Enum(), Opts: &pb.CriuOpts{
			ImagesDirFd: proto.Int32(int32(d.Fd())), LogLevel: proto.Int32(4), LogFile: proto.String("restore.log"),
			NotifyScripts: proto.Bool(true),
		}}, func(n *pb.CriuNotify) bool {
			if n.GetScript() == "post-restore" {
				postPid = n.GetPid()
			}
			return true
		})
		mustSucceed(t, resp, pb.CriuReqType_RESTORE, filepath.Join(img, "restore.log"))
		pid := int(resp.GetRestore().GetPid())
		defer crtest.Kill(pid)
		t.Logf("restore notifications: %v, pid %d", scripts(notes), pid)
		if pid <= 0 || int(postPid) != pid {
			t.Errorf("post-restore pid %d, restore response pid %d", postPid, pid)
		}
		// CRIU 4.2's sequence for a tree without namespaces of its own.
		if got, want := strings.Join(scripts(notes), " "), "pre-restore post-restore pre-resume post-resume"; got != want {
			t.Errorf("restore notifications %q, want %q", got, want)
		}
		waitTick(t, out, last+10)
		ticks(t, out)
		if !crtest.Alive(pid) {
			t.Errorf("restored counter %d is gone", pid)
		}
	})
}

// dumpReq is a DUMP (or PRE_DUMP) of pid into d with notifications.
func dumpReq(typ pb.CriuReqType, d *os.File, pid int, log string) *pb.CriuReq {
	return &pb.CriuReq{Type: typ.Enum(), Opts: &pb.CriuOpts{
		ImagesDirFd: proto.Int32(int32(d.Fd())), Pid: proto.Int32(int32(pid)),
		LogLevel: proto.Int32(4), LogFile: proto.String(log), NotifyScripts: proto.Bool(true),
	}}
}

// restoreAndCheck restores the images in d and checks the counter goes on.
func restoreAndCheck(t *testing.T, bin string, ref bool, d *os.File, out string) {
	t.Helper()
	last := ticks(t, out)
	resp, _ := startSwrk(t, bin, ref).call(t, &pb.CriuReq{Type: pb.CriuReqType_RESTORE.Enum(), Opts: &pb.CriuOpts{
		ImagesDirFd: proto.Int32(int32(d.Fd())), LogLevel: proto.Int32(4), LogFile: proto.String("restore.log"),
	}}, nil)
	mustSucceed(t, resp, pb.CriuReqType_RESTORE, filepath.Join(d.Name(), "restore.log"))
	pid := int(resp.GetRestore().GetPid())
	defer crtest.Kill(pid)
	waitTick(t, out, last+10)
	ticks(t, out)
}

// TestSwrkPreDumpDump: PRE_DUMP with track_mem, then DUMP with
// parent_img; the dump's pagemap refers to the pre-dump's, and the
// restore is exact. CRIU 4.2 cannot track memory on this kernel.
func TestSwrkPreDumpDump(t *testing.T) {
	binaries(t, func(t *testing.T, bin string, ref bool) {
		dir := t.TempDir()
		cmd, out := counter(t, dir)
		pre := imagesDir(t, filepath.Join(dir, "pre"))
		req := dumpReq(pb.CriuReqType_PRE_DUMP, pre, cmd.Process.Pid, "pre-dump.log")
		req.Opts.TrackMem = proto.Bool(true)
		resp, notes := startSwrk(t, bin, ref).call(t, req, nil)
		if ref && !resp.GetSuccess() {
			t.Skipf("CRIU 4.2 PRE_DUMP fails here: %s (errno %d)", resp.GetCrErrmsg(), resp.GetCrErrno())
		}
		mustSucceed(t, resp, pb.CriuReqType_PRE_DUMP, filepath.Join(pre.Name(), "pre-dump.log"))
		t.Logf("pre-dump notifications: %v", scripts(notes))
		if !crtest.Alive(cmd.Process.Pid) {
			t.Fatal("the counter is gone after PRE_DUMP")
		}
		n := ticks(t, out)
		waitTick(t, out, n+3) // it runs on
		final := imagesDir(t, filepath.Join(dir, "final"))
		req = dumpReq(pb.CriuReqType_DUMP, final, cmd.Process.Pid, "dump.log")
		req.Opts.TrackMem = proto.Bool(true)
		req.Opts.ParentImg = proto.String("../pre")
		resp, _ = startSwrk(t, bin, ref).call(t, req, nil)
		mustSucceed(t, resp, pb.CriuReqType_DUMP, filepath.Join(final.Name(), "dump.log"))
		if p, err := os.Readlink(filepath.Join(final.Name(), "parent")); err != nil || p != "../pre" {
			t.Errorf("parent link %q, %v; want ../pre", p, err)
		}
		cmd.Wait()
		restoreAndCheck(t, bin, ref, final, out)
	})
}

// TestSwrkLeaveRunning: a DUMP with leave_running lets the counter run
// on, and the images restore (after it is killed) to where it was at
// the dump: its first tick then follows one made before the response.
func TestSwrkLeaveRunning(t *testing.T) {
	binaries(t, func(t *testing.T, bin string, ref bool) {
		dir := t.TempDir()
		cmd, out := counter(t, dir)
		d := imagesDir(t, filepath.Join(dir, "img"))
		before := ticks(t, out)
		req := dumpReq(pb.CriuReqType_DUMP, d, cmd.Process.Pid, "dump.log")
		req.Opts.LeaveRunning = proto.Bool(true)
		resp, _ := startSwrk(t, bin, ref).call(t, req, nil)
		mustSucceed(t, resp, pb.CriuReqType_DUMP, filepath.Join(d.Name(), "dump.log"))
		atResp := ticks(t, out)
		waitTick(t, out, atResp+3)
		if !crtest.Alive(cmd.Process.Pid) {
			t.Fatal("the counter is gone after a leave_running DUMP")
		}
		crtest.Kill(cmd.Process.Pid)
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		killedAt := len(b)
		resp, _ = startSwrk(t, bin, ref).call(t, &pb.CriuReq{Type: pb.CriuReqType_RESTORE.Enum(), Opts: &pb.CriuOpts{
			ImagesDirFd: proto.Int32(int32(d.Fd())), LogLevel: proto.Int32(4), LogFile: proto.String("restore.log"),
		}}, nil)
		mustSucceed(t, resp, pb.CriuReqType_RESTORE, filepath.Join(d.Name(), "restore.log"))
		pid := int(resp.GetRestore().GetPid())
		defer crtest.Kill(pid)
		deadline := time.Now().Add(10 * time.Second)
		var lines []string
		for time.Now().Before(deadline) && len(lines) < 5 {
			time.Sleep(20 * time.Millisecond)
			b, _ = os.ReadFile(out)
			lines = strings.Split(strings.TrimSuffix(string(b[killedAt:]), "\n"), "\n")
		}
		if len(lines) < 5 {
			t.Fatalf("the restored counter wrote %q", lines)
		}
		for i, l := range lines[:5] {
			n, err := strconv.Atoi(strings.TrimPrefix(l, "tick "))
			if err != nil || (i == 0 && (n <= before || n > atResp+1)) || (i > 0 && n != mustTick(lines[0])+i) {
				t.Fatalf("restored ticks %q: want them to go on from the dump (after tick %d, at most %d)", lines[:5], before, atResp+1)
			}
		}
	})
}

func mustTick(l string) int {
	n, _ := strconv.Atoi(strings.TrimPrefix(l, "tick "))
	return n
}

// withUnknown is req with field 999 (no rpc.proto has it) added to its
// opts, as a newer client would send.
func withUnknown(t *testing.T, req *pb.CriuReq) *pb.CriuReq {
	t.Helper()
	b, err := proto.Marshal(req.Opts)
	if err != nil {
		t.Fatal(err)
	}
	b = protowire.AppendTag(b, 999, protowire.VarintType)
	b = protowire.AppendVarint(b, 1)
	o := &pb.CriuOpts{}
	if err := proto.Unmarshal(b, o); err != nil {
		t.Fatal(err)
	}
	req.Opts = o
	return req
}

// TestSwrkRefusedOptions: an option of a newer rpc.proto and an option
// we do not implement each fail the DUMP with an error naming it, and
// the counter runs on with no images written.
func TestSwrkRefusedOptions(t *testing.T) {
	binaries(t, func(t *testing.T, bin string, ref bool) {
		for _, c := range []struct {
			name, want string
			req        func(d *os.File, pid int) *pb.CriuReq
		}{
			{"unknown", "field 999", func(d *os.File, pid int) *pb.CriuReq {
				return withUnknown(t, dumpReq(pb.CriuReqType_DUMP, d, pid, "dump.log"))
			}},
			{"unimplemented", "lsm_profile", func(d *os.File, pid int) *pb.CriuReq {
				r := dumpReq(pb.CriuReqType_DUMP, d, pid, "dump.log")
				r.Opts.LsmProfile = proto.String("apparmor:nosuch")
				return r
			}},
			{"auto_dedup", "auto_dedup", func(d *os.File, pid int) *pb.CriuReq {
				r := dumpReq(pb.CriuReqType_DUMP, d, pid, "dump.log")
				r.Opts.AutoDedup = proto.Bool(true)
				return r
			}},
		} {
			dir := t.TempDir()
			cmd, out := counter(t, dir)
			d := imagesDir(t, filepath.Join(dir, c.name))
			resp, _ := startSwrk(t, bin, ref).call(t, c.req(d, cmd.Process.Pid), nil)
			t.Logf("%s: success %v errno %d: %s", c.name, resp.GetSuccess(), resp.GetCrErrno(), resp.GetCrErrmsg())
			if ref {
				continue // CRIU 4.2 skips unknown fields; its answers are logged
			}
			if resp.GetSuccess() || !strings.Contains(resp.GetCrErrmsg(), c.want) || resp.GetCrErrno() != int32(unix.ENOTSUP) {
				t.Errorf("%s: success %v errno %d %q, want a refusal naming %q", c.name, resp.GetSuccess(), resp.GetCrErrno(), resp.GetCrErrmsg(), c.want)
			}
			if _, err := os.Stat(filepath.Join(d.Name(), "inventory.img")); err == nil {
				t.Errorf("%s: a refused dump wrote images", c.name)
			}
			if !crtest.Alive(cmd.Process.Pid) {
				t.Fatalf("%s: the counter is gone", c.name)
			}
			n := ticks(t, out)
			waitTick(t, out, n+3)
		}
	})
}

// TestSwrkFailedDump: a DUMP of a counter holding a flock without
// file_locks fails; the counter runs on, the images dir holds no
// inventory, and a network-lock sent is followed by a network-unlock
// (CRIU's cr_dump_finish unlocks after a failure). Both with the tree
// in the host's network namespace and in one of its own.
func TestSwrkFailedDump(t *testing.T) {
	binaries(t, func(t *testing.T, bin string, ref bool) {
		for _, netns := range []bool{false, true} {
			t.Run(map[bool]string{false: "hostnet", true: "netns"}[netns], func(t *testing.T) {
				dir := t.TempDir()
				var cmd *exec.Cmd
				var out string
				if netns {
					cbin := crtest.BuildC(t, filepath.Join(crtest.SourceDir(), "rpccounter.c"), false)
					out = filepath.Join(dir, "out.txt")
					cmd = crtest.Start(t, "unshare", "-n", cbin, out, "lock")
					t.Cleanup(func() { crtest.Kill(cmd.Process.Pid) })
					crtest.WaitFor(t, out, "tick 3\n", 10*time.Second)
				} else {
					cmd, out = counter(t, dir, "lock")
				}
				d := imagesDir(t, filepath.Join(dir, "img"))
				req := dumpReq(pb.CriuReqType_DUMP, d, cmd.Process.Pid, "dump.log")
				resp, notes := startSwrk(t, bin, ref).call(t, req, nil)
				got := scripts(notes)
				t.Logf("success %v: %s; notifications %v", resp.GetSuccess(), resp.GetCrErrmsg(), got)
				if resp.GetSuccess() {
					t.Fatal("a dump of a held flock without file_locks succeeded")
				}
				if resp.GetDump().GetRestored() {
					t.Error("failed dump says restored")
				}
				if _, err := os.Stat(filepath.Join(d.Name(), "inventory.img")); err == nil {
					t.Error("a failed dump left inventory.img")
				}
				if !crtest.Alive(cmd.Process.Pid) {
					t.Fatal("the counter is gone after a failed dump")
				}
				n := ticks(t, out)
				waitTick(t, out, n+3)
				lock, unlock := -1, -1
				for i, s := range got {
					switch s {
					case "network-lock":
						lock = i
					case "network-unlock":
						unlock = i
					}
				}
				if lock >= 0 && unlock < lock {
					t.Errorf("notifications %v: network-lock without a network-unlock after it", got)
				}
			})
		}
	})
}

// TestSwrkFailedRestore: a RESTORE without images answers with an error
// message; one whose client fails post-restore (the
// tasks exist then) fails, and leaves no process behind.
func TestSwrkFailedRestore(t *testing.T) {
	binaries(t, func(t *testing.T, bin string, ref bool) {
		// No images at all: an error response with a message.
		empty := imagesDir(t, filepath.Join(t.TempDir(), "empty"))
		if resp, _ := startSwrk(t, bin, ref).call(t, &pb.CriuReq{Type: pb.CriuReqType_RESTORE.Enum(), Opts: &pb.CriuOpts{
			ImagesDirFd: proto.Int32(int32(empty.Fd())), ShellJob: proto.Bool(true)}}, nil); resp.GetSuccess() || resp.GetCrErrmsg() == "" {
			t.Fatalf("RESTORE of an empty dir: %v", resp)
		}
		dir := t.TempDir()
		cmd, out := counter(t, dir)
		d := imagesDir(t, filepath.Join(dir, "img"))
		resp, _ := startSwrk(t, bin, ref).call(t, dumpReq(pb.CriuReqType_DUMP, d, cmd.Process.Pid, "dump.log"), nil)
		mustSucceed(t, resp, pb.CriuReqType_DUMP, filepath.Join(d.Name(), "dump.log"))
		cmd.Wait()
		var pid int32
		sw := startSwrk(t, bin, ref)
		resp, notes := sw.call(t, &pb.CriuReq{Type: pb.CriuReqType_RESTORE.Enum(), Opts: &pb.CriuOpts{
			ImagesDirFd: proto.Int32(int32(d.Fd())), LogLevel: proto.Int32(4), LogFile: proto.String("restore.log"),
			NotifyScripts: proto.Bool(true),
		}}, func(n *pb.CriuNotify) bool {
			if n.GetScript() == "post-restore" {
				pid = n.GetPid()
				return false
			}
			return true
		})
		t.Logf("success %v pid %d: %s; notifications %v", resp.GetSuccess(), resp.GetRestore().GetPid(), resp.GetCrErrmsg(), scripts(notes))
		if resp.GetSuccess() {
			crtest.Kill(int(resp.GetRestore().GetPid()))
			t.Fatal("a restore whose post-restore failed succeeded")
		}
		if pid <= 0 {
			t.Fatal("no post-restore pid")
		}
		sw.close(t) // as go-criu, wait for swrk to exit (CRIU 4.2 kills the tasks after its response)
		for i := 0; i < 100 && crtest.Alive(int(pid)); i++ {
			crtest.Reap(int(pid))
			time.Sleep(20 * time.Millisecond)
		}
		if crtest.Alive(int(pid)) {
			crtest.Kill(int(pid))
			t.Fatalf("restored task %d left behind", pid)
		}
		n := ticks(t, out)
		time.Sleep(200 * time.Millisecond)
		if m := ticks(t, out); m != n {
			t.Errorf("the counter ran on (tick %d -> %d) after a failed restore", n, m)
		}
	})
}

// TestSwrkOrphanPtyHostDevpts: with orphan_pts_master, a task holding a
// slave of criu's own devpts whose master is outside the tree (here the
// test's) is refused at dump by name, and runs on: its master keeps the
// index taken, so restore could not open it again (only a container's
// own devpts, made anew, is restored so).
func TestSwrkOrphanPtyHostDevpts(t *testing.T) {
	crtest.RequireRoot(t)
	crtest.Subreaper(t)
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no /dev/ptmx: %v", err)
	}
	defer m.Close()
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetUint32(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	cmd := crtest.Start(t, "/bin/sh", "-c", fmt.Sprintf("exec 3<>/dev/pts/%d; exec sleep 1000", n))
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if l, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/3", cmd.Process.Pid)); strings.HasPrefix(l, "/dev/pts/") {
			if exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", cmd.Process.Pid)); strings.Contains(exe, "sleep") {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("the task did not open the pty slave")
		}
		time.Sleep(20 * time.Millisecond)
	}
	d := imagesDir(t, filepath.Join(t.TempDir(), "img"))
	req := dumpReq(pb.CriuReqType_DUMP, d, cmd.Process.Pid, "dump.log")
	req.Opts.OrphanPtsMaster = proto.Bool(true)
	resp, _ := startSwrk(t, crtest.Criu(t), false).call(t, req, nil)
	if resp.GetSuccess() || !strings.Contains(resp.GetCrErrmsg(), "a pty of criu's own devpts whose master is outside the tree") {
		t.Fatalf("dump: success %v %q, want the orphan pty of criu's devpts refused", resp.GetSuccess(), resp.GetCrErrmsg())
	}
	if !crtest.Alive(cmd.Process.Pid) {
		t.Fatal("the task is gone after the refused dump")
	}
}
