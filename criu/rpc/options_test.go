package rpc

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/criugo/criu/criu/cgroup"
	"github.com/criugo/criu/criu/crtest"
	"github.com/criugo/criu/criu/errdefs"
	pb "github.com/criugo/criu/proto/rpc"
)

func TestMain(m *testing.M) { crtest.RunWithFdCheck(m) }

// runc's DUMP options (shared/reference/runc-swrk-trace.md) resolve, the
// ones we cannot honour fail by name, and images_dir_fd is the client's.
func TestOptions(t *testing.T) {
	dir := t.TempDir()
	d, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	o := &pb.CriuOpts{ImagesDirFd: proto.Int32(int32(d.Fd())), Pid: proto.Int32(42), LogFile: proto.String("dump.log"),
		ManageCgroups: proto.Bool(true), EmptyNs: proto.Uint32(1 << 30), Root: proto.String("/x/rootfs"),
		ExtMnt: []*pb.ExtMountMap{{Key: proto.String("/dev/null"), Val: proto.String("/dev/null")}}, OrphanPtsMaster: proto.Bool(true),
		StatusFd: proto.Int32(9), External: []string{"net[4026532199]:extRootNetNS"}}
	r, err := resolve(pb.CriuReqType_DUMP, o, os.Getpid(), Config{})
	if err != nil {
		t.Fatal(err)
	}
	if r.imagesDir != dir || r.logPath != dir+"/dump.log" {
		t.Errorf("images %q log %q, want %q", r.imagesDir, r.logPath, dir)
	}
	if err := r.refusal(); err != nil {
		t.Errorf("runc's dump refused: %v", err)
	}
	if r.dump.ExternalNetns[4026532199] != "extRootNetNS" {
		t.Errorf("external net[4026532199]:extRootNetNS: %v", r.dump.ExternalNetns)
	}
	if !r.dump.EmptyNetns || r.dump.Pid != 42 || !r.dump.OrphanPtsMaster || !r.orphanPts {
		t.Errorf("dump options %+v", r.dump)
	}
	if r.dump.Mounts.External["/dev/null"] != "/dev/null" {
		t.Errorf("dump mounts %+v: want /dev/null external", r.dump.Mounts)
	}
	if r.dump.Cgroup.Mode != cgroup.Soft {
		t.Errorf("runc's manage_cgroups: mode %v, want soft", r.dump.Cgroup.Mode)
	}
	o.LazyPages = proto.Bool(true)
	o.ManageCgroupsMode = pb.CriuCgMode_STRICT.Enum()
	// runc's restore names /dev/null twice, with the same path: one
	// entry; a key with two paths is refused.
	o.ExtMnt = append(o.ExtMnt, &pb.ExtMountMap{Key: proto.String("/dev/null"), Val: proto.String("/dev/null")},
		&pb.ExtMountMap{Key: proto.String("/sys/fs/cgroup/memory"), Val: proto.String("/a")},
		&pb.ExtMountMap{Key: proto.String("/sys/fs/cgroup/memory"), Val: proto.String("/b")})
	o.CgRoot = []*pb.CgroupRoot{{Ctrl: proto.String("pids"), Path: proto.String("/ct")}, {Path: proto.String("/all")}, {Path: proto.String("rel")}}
	r, err = resolve(pb.CriuReqType_RESTORE, o, os.Getpid(), Config{})
	if err != nil {
		t.Fatal(err)
	}
	err = r.refusal()
	if !errors.Is(err, errdefs.ErrUnsupported) {
		t.Fatalf("refusal %v", err)
	}
	if r.restore.Cgroup.Mode != cgroup.Strict || r.restore.Cgroup.Roots["pids"] != "/ct" || r.restore.Cgroup.Roots[""] != "/all" {
		t.Errorf("restore cgroup options %+v", r.restore.Cgroup)
	}
	if r.restore.Mounts.Root != "/x/rootfs" || r.restore.Mounts.External["/dev/null"] != "/dev/null" {
		t.Errorf("restore mounts %+v: want root /x/rootfs, /dev/null from /dev/null", r.restore.Mounts)
	}
	for _, name := range []string{"lazy_pages", "cg_root: --cgroup-root \"rel\"", "ext_mnt /sys/fs/cgroup/memory given twice, as /a and /b"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("refusal %q does not name %s", err, name)
		}
	}
}

// The configuration files apply in CRIU's order: the default files
// under the request's explicit options, its config_file over them; an
// option with no RPC meaning is refused by file and line.
func TestConfigFiles(t *testing.T) {
	dir := t.TempDir()
	d, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	def, rpcConf := filepath.Join(dir, "default.conf"), filepath.Join(dir, "runc.conf")
	write := func(p, s string) {
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(def, "tcp-established\nfile-locks\nwork-dir /nonexistent/default\nlog-file default.log\n")
	write(rpcConf, "shell-job # a comment\nno-file-locks\nlog-file /var/log/x.log\nexternal \"mnt[/a]:b\"\nremote\nremote-socket /run/p.sock\n")
	o := &pb.CriuOpts{ImagesDirFd: proto.Int32(int32(d.Fd())), Pid: proto.Int32(42), LogFile: proto.String("dump.log"),
		TcpEstablished: proto.Bool(false), ConfigFile: proto.String(rpcConf)}
	r, err := resolve(pb.CriuReqType_DUMP, o, os.Getpid(), Config{ConfigFiles: []string{def, filepath.Join(dir, "missing.conf")}})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.refusal(); err != nil {
		t.Fatal(err)
	}
	switch {
	case r.dump.TCPEstablished:
		t.Error("tcp-established of the default file won over the request's explicit false")
	case r.dump.FileLocks:
		t.Error("no-file-locks of config_file did not win over the default file")
	case !r.dump.ShellJob:
		t.Error("shell-job of config_file not applied")
	case r.logPath != "/var/log/x.log":
		t.Errorf("log %q: config_file's log-file should win over log_file", r.logPath)
	case r.workDir != "/nonexistent/default":
		t.Errorf("work dir %q: the default file's work-dir applies when the request has no work_dir_fd", r.workDir)
	case r.imagesDir != dir:
		t.Errorf("images dir %q", r.imagesDir)
	case r.dump.Mounts.External["/a"] != "b":
		t.Errorf("external mnt[/a]:b: %+v", r.dump.Mounts)
	case !r.remote || r.remoteSocket != "/run/p.sock" || r.dump.StatsAfterFinish:
		t.Errorf("remote %v socket %q stats after finish %v", r.remote, r.remoteSocket, r.dump.StatsAfterFinish)
	}
	// Without config_file: the request's log_file wins over the default's.
	o.ConfigFile = nil
	if r, err = resolve(pb.CriuReqType_DUMP, o, os.Getpid(), Config{ConfigFiles: []string{def}}); err != nil {
		t.Fatal(err)
	}
	if r.logPath != "/nonexistent/default/dump.log" || !r.dump.FileLocks || r.remote {
		t.Errorf("log %q file locks %v remote %v", r.logPath, r.dump.FileLocks, r.remote)
	}
	write(rpcConf, "tcp-established\npage-server\n")
	o.ConfigFile = proto.String(rpcConf)
	_, err = resolve(pb.CriuReqType_DUMP, o, os.Getpid(), Config{})
	if !errors.Is(err, errdefs.ErrUnsupported) || !strings.Contains(err.Error(), rpcConf+":2: ") || !strings.Contains(err.Error(), "page-server") {
		t.Errorf("page-server in config_file: %v", err)
	}
}
