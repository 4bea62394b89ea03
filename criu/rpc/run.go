package rpc

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/rs/zerolog"
	"google.golang.org/protobuf/proto"

	"github.com/criugo/criu/criu/dump"
	"github.com/criugo/criu/criu/image"
	"github.com/criugo/criu/criu/image/remote"
	"github.com/criugo/criu/criu/restore"
	pb "github.com/criugo/criu/proto/rpc"
	"github.com/criugo/criu/remoteimg"
)

// run serves a DUMP, PRE_DUMP or RESTORE request.
func (s *session) run(ctx context.Context, req *pb.CriuReq) *pb.CriuResp {
	t := req.GetType()
	o := req.GetOpts()
	if o == nil {
		return s.fail(t, fmt.Errorf("%w: %s without opts", ErrProtocol, t))
	}
	r, err := resolve(t, o, s.peer, s.cfg)
	if err != nil {
		s.cfg.Log.Error().Err(err).Msg(t.String())
		return s.fail(t, err)
	}
	log, closeLog, err := r.openLog()
	if err != nil {
		return s.fail(t, err)
	}
	defer closeLog()
	log.Info().Str("request", t.String()).Str("images", r.imagesDir).Int("client", s.peer).Msg("rpc request")
	for _, a := range r.accepted {
		log.Info().Msg("accepted: " + a)
	}
	if err := r.refusal(); err != nil {
		log.Error().Msg("Error: " + err.Error())
		return s.fail(t, err)
	}
	notify := o.GetNotifyScripts()
	store, err := r.openStore(ctx, log)
	if err != nil {
		log.Error().Msg("Error: " + err.Error())
		return s.fail(t, err)
	}
	defer store.Close()
	switch t {
	case pb.CriuReqType_RESTORE:
		opts := r.restore
		opts.Log = log
		if notify {
			opts.Notify = func(ctx context.Context, step string, pid int) error {
				if step != "setup-namespaces" && step != "post-restore" {
					pid = 0
				}
				_, err := s.notify(step, pid, -1)
				return err
			}
			if r.orphanPts {
				// CRIU's orphan-pts-master: the new master by
				// SCM_RIGHTS (runc hands it to the console socket).
				opts.OrphanPtsMaster = func(fd int) error {
					_, err := s.notify("orphan-pts-master", 0, fd)
					return err
				}
			}
		}
		task, err := restore.Restore(ctx, store, opts)
		if err != nil {
			log.Error().Msg("Error: " + err.Error())
			return s.fail(t, err)
		}
		if rel, ok := store.(image.Releaser); ok {
			// The tasks run: the cache may free the snapshot.
			if err := rel.Release(ctx); err != nil {
				log.Warn().Err(err).Msg("release remote snapshot")
			}
		}
		task.Release()
		return &pb.CriuResp{Type: t.Enum(), Success: proto.Bool(true), Restore: &pb.CriuRestoreResp{Pid: proto.Int32(int32(task.Pid))}}
	default:
		opts := r.dump
		opts.Log = log
		if notify {
			opts.Notify = func(ctx context.Context, step string) error {
				rep, err := s.notify(step, 0, -1)
				if err == nil && len(rep.GetOpts().GetExternal()) > 0 {
					err = fmt.Errorf("query-ext-files: adding external objects %q during the dump is not implemented", rep.GetOpts().GetExternal())
				}
				return err
			}
		}
		var st *dump.Stats
		if t == pb.CriuReqType_PRE_DUMP {
			st, err = dump.PreDump(ctx, store, opts)
		} else {
			st, err = dump.Dump(ctx, store, opts)
		}
		if err != nil {
			log.Error().Msg("Error: " + err.Error())
			return s.fail(t, err)
		}
		log.Info().Dur("frozen", st.Frozen).Uint64("pages", st.PagesWritten).Msg(t.String() + " done")
		resp := &pb.CriuResp{Type: t.Enum(), Success: proto.Bool(true)}
		if t == pb.CriuReqType_DUMP {
			resp.Dump = &pb.CriuDumpResp{Restored: proto.Bool(false)}
		}
		return resp
	}
}

// remoteWait bounds a remote restore's waits, as criu restore's
// --remote-wait default.
const remoteWait = 30 * time.Second

// openStore opens the request's images: its images dir, or with remote
// (configuration files only) the local image-proxy (dump) or
// image-cache (restore), with the snapshot named by snapshot-id or
// derived, as criu's -D, from the images dir as the client names it
// (remoteimg.SnapshotID).
func (r *request) openStore(ctx context.Context, log zerolog.Logger) (image.Store, error) {
	if !r.remote {
		d, err := image.NewDir(r.imagesDir)
		if err != nil || r.workDir == r.imagesDir {
			return d, err
		}
		w, err := image.NewDir(r.workDir)
		if err != nil {
			d.Close()
			return nil, fmt.Errorf("work dir: %w", err)
		}
		return &statsInWorkDir{Dir: d, work: w}, nil
	}
	write := r.typ != pb.CriuReqType_RESTORE
	sock, mode := r.remoteSocket, remote.ModeRead
	if write {
		mode = remote.ModeWrite
		if sock == "" {
			sock = remoteimg.DefaultProxySocket("")
		}
	} else if sock == "" {
		sock = remoteimg.DefaultCacheSocket("")
	}
	snap := r.snapshotID
	switch {
	case snap == "" && write:
		snap = remoteimg.SnapshotID(r.imagesName)
	case snap == "":
		var err error
		if snap, err = remote.ResolveSnapshot(ctx, sock, r.imagesName, remoteWait); err != nil {
			return nil, fmt.Errorf("remote images at %s: %w", sock, err)
		}
	}
	st, err := remote.Dial(ctx, sock, remote.Options{Snapshot: snap, Dir: r.imagesName, Mode: mode, WaitSnapshot: remoteWait, Log: log})
	if err != nil {
		return nil, fmt.Errorf("remote images at %s: %w", sock, err)
	}
	if write {
		if err := st.CheckCache(ctx); err != nil {
			st.Close()
			return nil, fmt.Errorf("remote images at %s: %w", sock, err)
		}
	}
	log.Info().Str("snapshot", snap).Str("socket", sock).Msg("remote images")
	return st, nil
}

// statsInWorkDir is a local images dir whose stats-dump and
// stats-restore go to the work dir, as CRIU writes them (in its cwd,
// the work dir): Podman reads stats-dump in the work path it gives
// runc, and puts it in its checkpoint archives from there.
type statsInWorkDir struct {
	*image.Dir // the images; its parent chain (image.Chained) too
	work       *image.Dir
}

func isStats(name string) bool { return name == "stats-dump" || name == "stats-restore" }

func (s *statsInWorkDir) Create(ctx context.Context, name string) (image.Writer, error) {
	if isStats(name) {
		return s.work.Create(ctx, name)
	}
	return s.Dir.Create(ctx, name)
}

func (s *statsInWorkDir) Open(ctx context.Context, name string) (io.ReadCloser, error) {
	if isStats(name) {
		return s.work.Open(ctx, name)
	}
	return s.Dir.Open(ctx, name)
}

// Finish makes both dirs' images durable.
func (s *statsInWorkDir) Finish(ctx context.Context) error {
	if err := s.Dir.Finish(ctx); err != nil {
		return err
	}
	return s.work.Finish(ctx)
}

func (s *statsInWorkDir) Close() error {
	err := s.Dir.Close()
	if werr := s.work.Close(); err == nil {
		err = werr
	}
	return err
}

// fail is failure with the request-specific part CRIU always sends.
func (s *session) fail(t pb.CriuReqType, err error) *pb.CriuResp {
	resp := failure(t, err)
	switch t {
	case pb.CriuReqType_DUMP:
		resp.Dump = &pb.CriuDumpResp{Restored: proto.Bool(false)}
	case pb.CriuReqType_RESTORE:
		resp.Restore = &pb.CriuRestoreResp{Pid: proto.Int32(-1)}
	}
	return resp
}

// notify sends one notification, with fd attached unless it is
// negative, and waits for the client's answer.
func (s *session) notify(script string, pid, fd int) (*pb.CriuReq, error) {
	n := &pb.CriuNotify{Script: proto.String(script)}
	if pid > 0 {
		n.Pid = proto.Int32(int32(pid))
	}
	if err := s.send(&pb.CriuResp{Type: pb.CriuReqType_NOTIFY.Enum(), Success: proto.Bool(true), Notify: n}, fd); err != nil {
		return nil, fmt.Errorf("notification %s: %w", script, err)
	}
	req, err := s.recv()
	if err != nil {
		return nil, fmt.Errorf("notification %s: %w", script, err)
	}
	if req.GetType() != pb.CriuReqType_NOTIFY || !req.GetNotifySuccess() {
		return nil, fmt.Errorf("%w: %s", ErrNotifyFailed, script)
	}
	return req, nil
}

// openLog opens the request's log (its log file, truncated, as CRIU's).
func (r *request) openLog() (zerolog.Logger, func(), error) {
	var w io.Writer = os.Stderr
	closeFn := func() {}
	if r.logPath != "" {
		f, err := os.OpenFile(r.logPath, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|os.O_APPEND, 0o600)
		if err != nil {
			return zerolog.Nop(), closeFn, fmt.Errorf("open log file: %w", err)
		}
		w = f
		closeFn = func() { f.Close() }
	}
	levels := []zerolog.Level{zerolog.ErrorLevel, zerolog.WarnLevel, zerolog.InfoLevel, zerolog.DebugLevel, zerolog.TraceLevel}
	cw := zerolog.ConsoleWriter{Out: w, NoColor: true, TimeFormat: "15:04:05.000000"}
	zerolog.TimeFieldFormat = time.RFC3339Nano
	return zerolog.New(cw).Level(levels[r.logLevel]).With().Timestamp().Logger(), closeFn, nil
}
