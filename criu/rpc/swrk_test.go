package rpc

import (
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"

	"github.com/criugo/criu/criu/crtest"
	pb "github.com/criugo/criu/proto/rpc"
)

// swrk is a running `criu swrk 3` with our end of its SOCK_SEQPACKET
// socketpair, as runc starts it.
type swrk struct {
	cmd  *exec.Cmd
	conn *net.UnixConn
}

func startSwrk(t *testing.T, bin string) *swrk {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	ours := os.NewFile(uintptr(fds[0]), "swrk-client")
	theirs := os.NewFile(uintptr(fds[1]), "swrk-server")
	defer theirs.Close()
	c, err := net.FileConn(ours)
	ours.Close()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "swrk", "3")
	cmd.ExtraFiles = []*os.File{theirs}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		c.Close()
		t.Fatal(err)
	}
	s := &swrk{cmd: cmd, conn: c.(*net.UnixConn)}
	t.Cleanup(func() {
		s.conn.Close()
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			// CRIU 4.2 exits 1 after a request that failed.
			if err != nil && os.Getenv("SWRK_CRIU") == "" {
				t.Errorf("criu swrk: %v", err)
			}
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
			t.Errorf("criu swrk did not end when its socket closed")
		}
	})
	return s
}

// call sends req and returns the response.
func (s *swrk) call(t *testing.T, req *pb.CriuReq) *pb.CriuResp {
	t.Helper()
	b, err := proto.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	s.conn.SetDeadline(time.Now().Add(60 * time.Second))
	if _, err := s.conn.Write(b); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1<<16)
	n, err := s.conn.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	resp := &pb.CriuResp{}
	if err := proto.Unmarshal(buf[:n], resp); err != nil {
		t.Fatal(err)
	}
	return resp
}

// VERSION, CHECK, FEATURE_CHECK and a refused option, against the real
// criu swrk over a real socketpair, each on its own connection. SWRK_CRIU=/path/to/criu runs it against another criu
// (CRIU 4.2 passes the first three; it implements auto_dedup).
func TestSwrkSession(t *testing.T) {
	crtest.RequireRoot(t)
	bin := os.Getenv("SWRK_CRIU")
	if bin == "" {
		bin = crtest.Criu(t)
	}
	// CRIU's swrk ends after one request (go-criu starts one per call):
	// a fresh one for each.
	call := func(req *pb.CriuReq) *pb.CriuResp { return startSwrk(t, bin).call(t, req) }

	r := call(&pb.CriuReq{Type: pb.CriuReqType_VERSION.Enum()})
	if !r.GetSuccess() || r.GetType() != pb.CriuReqType_VERSION {
		t.Fatalf("VERSION: %v", r)
	}
	if v := r.GetVersion(); v.GetMajorNumber() != 4 || v.GetMinorNumber() != 2 {
		t.Errorf("VERSION: %v, want 4.2", v)
	}

	r = call(&pb.CriuReq{Type: pb.CriuReqType_CHECK.Enum()})
	if !r.GetSuccess() {
		t.Errorf("CHECK: %v", r)
	}

	r = call(&pb.CriuReq{Type: pb.CriuReqType_FEATURE_CHECK.Enum(),
		Features: &pb.CriuFeatures{MemTrack: proto.Bool(true)}})
	if !r.GetSuccess() || !r.GetFeatures().GetMemTrack() {
		t.Errorf("FEATURE_CHECK mem_track: %v", r)
	}

	// auto_dedup is not implemented: the DUMP is refused, naming it.
	dir := t.TempDir()
	d, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	r = call(&pb.CriuReq{Type: pb.CriuReqType_DUMP.Enum(), Opts: &pb.CriuOpts{
		ImagesDirFd: proto.Int32(int32(d.Fd())), Pid: proto.Int32(int32(os.Getpid())),
		AutoDedup: proto.Bool(true)}})
	if r.GetSuccess() || !strings.Contains(r.GetCrErrmsg(), "auto_dedup") {
		t.Errorf("DUMP with auto_dedup: %v", r)
	}
	if _, err := os.Stat(dir + "/inventory.img"); err == nil {
		t.Errorf("a refused DUMP left inventory.img")
	}
}

// A DUMP with images_dir_fd, log_file and leave_running of a real
// process: the images and the log land in the images dir, and the
// process runs on.
func TestSwrkDumpLeaveRunning(t *testing.T) {
	crtest.RequireRoot(t)
	crtest.Subreaper(t)
	bin := os.Getenv("SWRK_CRIU")
	if bin == "" {
		bin = crtest.Criu(t)
	}
	cmd := crtest.Start(t, "/bin/sleep", "1000")
	t.Cleanup(func() { crtest.Kill(cmd.Process.Pid) })
	dir := t.TempDir()
	d, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	r := startSwrk(t, bin).call(t, &pb.CriuReq{Type: pb.CriuReqType_DUMP.Enum(), Opts: &pb.CriuOpts{
		ImagesDirFd: proto.Int32(int32(d.Fd())), Pid: proto.Int32(int32(cmd.Process.Pid)),
		LogFile: proto.String("dump.log"), LeaveRunning: proto.Bool(true), ShellJob: proto.Bool(true)}})
	if !r.GetSuccess() {
		t.Fatalf("DUMP: %v", r)
	}
	for _, f := range []string{"inventory.img", "dump.log"} {
		if _, err := os.Stat(dir + "/" + f); err != nil {
			t.Errorf("after DUMP: %v", err)
		}
	}
	if !crtest.Alive(cmd.Process.Pid) {
		t.Errorf("leave_running: pid %d is gone", cmd.Process.Pid)
	}
}

// DUMP then RESTORE with notify_scripts through criu swrk: every
// notification is answered, post-restore carries the restored pid, and
// the process runs again with its pid.
func TestSwrkDumpRestoreNotify(t *testing.T) {
	crtest.RequireRoot(t)
	crtest.Subreaper(t)
	bin := os.Getenv("SWRK_CRIU")
	if bin == "" {
		bin = crtest.Criu(t)
	}
	cmd := crtest.Start(t, "/bin/sleep", "1000")
	pid := cmd.Process.Pid
	t.Cleanup(func() { crtest.Kill(pid) })
	dir := t.TempDir()
	d, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	r := startSwrk(t, bin).call(t, &pb.CriuReq{Type: pb.CriuReqType_DUMP.Enum(), Opts: &pb.CriuOpts{
		ImagesDirFd: proto.Int32(int32(d.Fd())), Pid: proto.Int32(int32(pid)),
		LogFile: proto.String("dump.log"), ShellJob: proto.Bool(true)}})
	if !r.GetSuccess() {
		t.Fatalf("DUMP: %v", r)
	}
	cmd.Wait()

	s := startSwrk(t, bin)
	r = s.call(t, &pb.CriuReq{Type: pb.CriuReqType_RESTORE.Enum(), Opts: &pb.CriuOpts{
		ImagesDirFd: proto.Int32(int32(d.Fd())), LogFile: proto.String("restore.log"),
		ShellJob: proto.Bool(true), NotifyScripts: proto.Bool(true), RstSibling: proto.Bool(true)}})
	var scripts []string
	for r.GetType() == pb.CriuReqType_NOTIFY {
		scripts = append(scripts, r.GetNotify().GetScript())
		if r.GetNotify().GetScript() == "post-restore" && int(r.GetNotify().GetPid()) != pid {
			t.Errorf("post-restore pid %d, want %d", r.GetNotify().GetPid(), pid)
		}
		r = s.call(t, &pb.CriuReq{Type: pb.CriuReqType_NOTIFY.Enum(), NotifySuccess: proto.Bool(true)})
	}
	if !r.GetSuccess() || int(r.GetRestore().GetPid()) != pid {
		t.Fatalf("RESTORE: %v (notifications %v)", r, scripts)
	}
	if !strings.Contains(strings.Join(scripts, ","), "post-restore") {
		t.Errorf("notifications %v: no post-restore", scripts)
	}
	if !crtest.Alive(pid) {
		t.Errorf("restored pid %d is not running", pid)
	}
	t.Logf("notifications: %v", scripts)
}

// A RESTORE that fails (no images) answers with an error message.
func TestSwrkRestoreFails(t *testing.T) {
	crtest.RequireRoot(t)
	crtest.Subreaper(t)
	bin := os.Getenv("SWRK_CRIU")
	if bin == "" {
		bin = crtest.Criu(t)
	}
	d, err := os.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	r := startSwrk(t, bin).call(t, &pb.CriuReq{Type: pb.CriuReqType_RESTORE.Enum(), Opts: &pb.CriuOpts{
		ImagesDirFd: proto.Int32(int32(d.Fd())), ShellJob: proto.Bool(true)}})
	if r.GetSuccess() || r.GetCrErrmsg() == "" {
		t.Fatalf("RESTORE of an empty dir: %v", r)
	}
}
