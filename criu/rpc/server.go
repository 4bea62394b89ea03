package rpc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"

	"github.com/criugo/criu/criu/errdefs"
	"github.com/criugo/criu/criu/kerndat"
	pb "github.com/criugo/criu/proto/rpc"
)

// The CRIU interface level the service implements, as VERSION reports
// it: runc, Podman and go-criu compare it with their minimum (Podman
// wants 3.11). Our own version goes in gitid, and name says who we are.
const (
	versionMajor = 4
	versionMinor = 2
	serviceName  = "criu-go"
)

// maxMessage caps a request: runc's biggest (a RESTORE with its mounts
// and cgroups) is about 1 KiB.
const maxMessage = 1 << 20

// maxErrmsg caps cr_errmsg: go-criu reads a response into 8 KiB.
const maxErrmsg = 4000

// Config says how the service runs.
type Config struct {
	// Version is this criu's own version, sent in VERSION's gitid.
	Version string
	// Log is the service's own log (criu swrk's -o or stderr); each
	// request also logs to its own log file (log_file in its work dir).
	Log zerolog.Logger
	// IPTool is the ip program for network namespaces ($CR_IP_TOOL).
	IPTool string
	// ConfigFiles are the default configuration files (config.Files:
	// /etc/criu/default.conf, $HOME/.criu/default.conf,
	// $CRIU_CONFIG_FILE), read under each request's options (config.go).
	ConfigFiles []string
}

// session is one client's connection.
type session struct {
	conn *net.UnixConn
	cfg  Config
	peer int // the client's pid (SO_PEERCRED)
	buf  []byte
}

// Serve serves the requests on conn, one after another, until the client
// closes its end (then it returns nil) or ctx ends. A request that fails
// gets a response that says why; only a broken socket ends Serve with an
// error.
func Serve(ctx context.Context, conn *net.UnixConn, cfg Config) error {
	s := &session{conn: conn, cfg: cfg, buf: make([]byte, maxMessage)}
	peer, err := peerPid(conn)
	if err != nil {
		return err
	}
	s.peer = peer
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Now()) })
	defer stop()
	for {
		req, err := s.recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			if ctx.Err() != nil {
				return context.Cause(ctx)
			}
			return err
		}
		if req.GetType() == pb.CriuReqType_NOTIFY {
			// An answer to a notification outside a request.
			if err := s.send(failure(pb.CriuReqType_EMPTY, errors.New("NOTIFY outside a dump or restore")), -1); err != nil {
				return err
			}
			continue
		}
		resp := s.serve(ctx, req)
		if err := s.send(resp, -1); err != nil {
			return err
		}
	}
}

// peerPid returns the pid of the process that made the other end of conn
// (SO_PEERCRED: for a socketpair, the one that called socketpair).
func peerPid(conn *net.UnixConn) (int, error) {
	rc, err := conn.SyscallConn()
	if err != nil {
		return 0, err
	}
	var cred *unix.Ucred
	var gerr error
	if err := rc.Control(func(fd uintptr) {
		cred, gerr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return 0, err
	}
	if gerr != nil {
		return 0, os.NewSyscallError("getsockopt SO_PEERCRED", gerr)
	}
	return int(cred.Pid), nil
}

// recv reads one criu_req; io.EOF once the client closed.
func (s *session) recv() (*pb.CriuReq, error) {
	n, _, flags, _, err := s.conn.ReadMsgUnix(s.buf, nil)
	if err != nil {
		return nil, err
	}
	if flags&unix.MSG_TRUNC != 0 {
		return nil, fmt.Errorf("%w: request longer than %d bytes", ErrProtocol, maxMessage)
	}
	req := &pb.CriuReq{}
	if err := proto.Unmarshal(s.buf[:n], req); err != nil {
		return nil, fmt.Errorf("%w: request: %v", ErrProtocol, err)
	}
	return req, nil
}

// send writes one criu_resp, with fd attached (SCM_RIGHTS) unless it is
// negative.
func (s *session) send(resp *pb.CriuResp, fd int) error {
	b, err := proto.Marshal(resp)
	if err != nil {
		return fmt.Errorf("encode response: %w", err)
	}
	var oob []byte
	if fd >= 0 {
		oob = unix.UnixRights(fd)
	}
	if _, _, err := s.conn.WriteMsgUnix(b, oob, nil); err != nil {
		return fmt.Errorf("send response: %w", err)
	}
	return nil
}

// serve answers one request other than NOTIFY.
func (s *session) serve(ctx context.Context, req *pb.CriuReq) *pb.CriuResp {
	t := req.GetType()
	switch t {
	case pb.CriuReqType_VERSION:
		return &pb.CriuResp{Type: t.Enum(), Success: proto.Bool(true), Version: &pb.CriuVersion{
			MajorNumber: proto.Int32(versionMajor), MinorNumber: proto.Int32(versionMinor),
			Gitid: proto.String(s.cfg.Version), Name: proto.String(serviceName),
		}}
	case pb.CriuReqType_FEATURE_CHECK:
		return &pb.CriuResp{Type: t.Enum(), Success: proto.Bool(true), Features: features(req.GetFeatures())}
	case pb.CriuReqType_CHECK:
		return s.check(req)
	case pb.CriuReqType_DUMP, pb.CriuReqType_PRE_DUMP, pb.CriuReqType_RESTORE:
		return s.run(ctx, req)
	case pb.CriuReqType_PAGE_SERVER, pb.CriuReqType_PAGE_SERVER_CHLD, pb.CriuReqType_CPUINFO_DUMP,
		pb.CriuReqType_CPUINFO_CHECK, pb.CriuReqType_WAIT_PID, pb.CriuReqType_SINGLE_PRE_DUMP:
		return failure(t, fmt.Errorf("%w: request %s is not implemented", errdefs.ErrUnsupported, t))
	}
	return failure(pb.CriuReqType_EMPTY, fmt.Errorf("%w: invalid request type %d", ErrProtocol, t))
}

// features answers FEATURE_CHECK truthfully, for the features asked:
// memory tracking is ours (userfaultfd write protection), lazy pages and
// the pidfd store are not implemented.
func features(asked *pb.CriuFeatures) *pb.CriuFeatures {
	f := &pb.CriuFeatures{MemTrack: proto.Bool(false), LazyPages: proto.Bool(false), PidfdStore: proto.Bool(false)}
	if asked.GetMemTrack() {
		if ft, ok := kerndat.LookupFeature("mem_dirty_track"); ok {
			_, err := ft.Check()
			f.MemTrack = proto.Bool(err == nil)
		}
	}
	return f
}

// check answers CHECK: success when every probe dump and restore need
// passes (criu check's "Looks good").
func (s *session) check(req *pb.CriuReq) *pb.CriuResp {
	t := req.GetType()
	for _, r := range kerndat.RunAll() {
		if r.Required && !r.OK {
			return failure(t, fmt.Errorf("%s: %s", r.Name, r.Detail))
		}
	}
	return &pb.CriuResp{Type: t.Enum(), Success: proto.Bool(true)}
}

// failure is the response of a failed request: cr_errmsg says why, and
// cr_errno is the errno at its root (ENOTSUP for what we refuse).
func failure(t pb.CriuReqType, err error) *pb.CriuResp {
	msg := err.Error()
	if len(msg) > maxErrmsg {
		msg = msg[:maxErrmsg] + "..."
	}
	resp := &pb.CriuResp{Type: t.Enum(), Success: proto.Bool(false), CrErrmsg: proto.String(msg)}
	var errno syscall.Errno
	switch {
	case errors.Is(err, errdefs.ErrUnsupported):
		resp.CrErrno = proto.Int32(int32(unix.ENOTSUP))
	case errors.As(err, &errno):
		resp.CrErrno = proto.Int32(int32(errno))
	}
	return resp
}
