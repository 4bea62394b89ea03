package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/pflag"

	"github.com/criugo/criu/criu/image"
	"github.com/criugo/criu/criu/image/remote"
	"github.com/criugo/criu/remoteimg"
)

// storeOptions say where dump writes and restore reads the images: the
// images directory, or with --remote the local image daemon's socket.
type storeOptions struct {
	dir      string
	remote   bool
	socket   string
	snapshot string
	parent   string
	wait     time.Duration
}

// addStoreFlags adds -D and the remote image flags to a dump or restore.
func addStoreFlags(fs *pflag.FlagSet, write bool) *storeOptions {
	so := &storeOptions{}
	daemon, verb := "image-cache", "read the images from"
	if write {
		daemon, verb = "image-proxy", "send the images to"
	}
	fs.StringVarP(&so.dir, "images-dir", "D", "", "images `DIR` (with --remote: names the snapshot, nothing is written there)")
	fs.BoolVar(&so.remote, "remote", false, verb+" the local criu "+daemon+" instead of the images dir")
	fs.StringVar(&so.socket, "remote-socket", "", "`PATH` of the local "+daemon+" socket (default: as the daemon's, DIR/"+daemon+".sock or /run/criu/"+daemon+".sock)")
	fs.StringVar(&so.snapshot, "snapshot-id", "", "remote snapshot `ID` (default: derived from -D and the source host, so dump and restore with the same -D agree)")
	if write {
		fs.StringVar(&so.parent, "parent-snapshot", "", "remote snapshot `ID` this one builds on (pre-dump chains; default: derived from --prev-images-dir as from -D)")
	} else {
		fs.DurationVar(&so.wait, "remote-wait", 30*time.Second, "how long each wait may take: for a snapshot the cache has not heard of, for an image still arriving, for its dump to confirm it")
	}
	return so
}

// open returns the image store the options name. The caller closes it.
func (so *storeOptions) open(ctx context.Context, e *env, write bool) (image.Store, error) {
	if !so.remote {
		if so.socket != "" || so.snapshot != "" || so.parent != "" {
			return nil, usagef("--remote-socket, --snapshot-id and --parent-snapshot need --remote")
		}
		if so.dir == "" {
			return nil, usagef("-D DIR is required")
		}
		s, err := image.NewDir(so.dir)
		if err != nil {
			return nil, fmt.Errorf("images dir: %w", err)
		}
		return s, nil
	}
	snap := so.snapshot
	if snap == "" && so.dir == "" {
		return nil, usagef("--remote needs -D DIR or --snapshot-id ID to name the snapshot")
	}
	sock := so.socket
	mode := remote.ModeRead
	if write {
		mode = remote.ModeWrite
		if sock == "" {
			sock = remoteimg.DefaultProxySocket(so.dir)
		}
	} else if sock == "" {
		sock = remoteimg.DefaultCacheSocket(so.dir)
	}
	if snap == "" && write {
		snap = remoteimg.SnapshotID(so.dir)
	} else if snap == "" {
		// The snapshot of -D that this or another source host dumped.
		var err error
		if snap, err = remote.ResolveSnapshot(ctx, sock, so.dir, so.wait); err != nil {
			return nil, fmt.Errorf("remote images at %s: %w", sock, err)
		}
	}
	s, err := remote.Dial(ctx, sock, remote.Options{
		Snapshot: snap, Parent: so.parent, Dir: so.dir, Mode: mode, WaitSnapshot: so.wait, Log: e.Log,
	})
	if err != nil {
		return nil, fmt.Errorf("remote images at %s: %w", sock, err)
	}
	if write {
		if err := s.CheckCache(ctx); err != nil {
			return nil, fmt.Errorf("remote images at %s: %w", sock, err)
		}
	}
	e.Log.Info().Str("snapshot", snap).Str("socket", sock).Msg("remote images")
	return s, nil
}
