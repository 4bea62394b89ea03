package remote

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/criugo/criu/remoteimg"
)

// ResolveSnapshot finds the snapshot that a restore with images directory
// dir means, in the cache at socketPath: the one this host would have
// dumped there (remoteimg.SnapshotID), else the only one that any host
// dumped there (remoteimg.SnapshotPrefix, any host tag). It waits up to
// wait for one to appear; several are an error naming them (--snapshot-id
// picks one). With none, it returns remoteimg.SnapshotID(dir), which later
// reads report as not held.
func ResolveSnapshot(ctx context.Context, socketPath, dir string, wait time.Duration) (string, error) {
	own, prefix := remoteimg.SnapshotID(dir), remoteimg.SnapshotPrefix(dir)+"-"
	deadline := time.Now().Add(wait)
	for {
		snaps, err := ListSnapshots(ctx, socketPath)
		if err != nil {
			return "", err
		}
		var found []string
		for _, si := range snaps {
			if si.ID == own {
				return own, nil
			}
			if tag, ok := strings.CutPrefix(si.ID, prefix); ok && len(tag) == 8 && !strings.Contains(tag, "-") {
				found = append(found, si.ID)
			}
		}
		switch {
		case len(found) == 1:
			return found[0], nil
		case len(found) > 1:
			return "", fmt.Errorf("images dir %s names %d snapshots of different source hosts in the cache (%s): pick one with --snapshot-id",
				dir, len(found), strings.Join(found, ", "))
		}
		if time.Now().After(deadline) {
			return own, nil
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}
