package netlock

import (
	"context"
	"errors"
	"os"
	"path/filepath"

	"github.com/rs/zerolog"
)

// Sweep removes the locks whose owner died before finishing (doc.go,
// Crash safety): a record in state locking whose owner no longer runs
// has its rules deleted, then its record; a netns-flavor record whose
// namespace's task is gone is dropped. It costs one directory read when
// there is nothing to do. Failures are logged, not returned: a criu run
// does not fail for another one's leftovers.
func Sweep(ctx context.Context, log zerolog.Logger) {
	paths, _ := filepath.Glob(filepath.Join(RecordDir, "*.json"))
	for _, p := range paths {
		r, err := readRecord(p)
		if err != nil {
			if !errors.Is(err, os.ErrNotExist) {
				log.Warn().Err(err).Msg("network lock record")
			}
			continue
		}
		if r.NS != nil && !r.NS.alive() {
			// The namespace went with its last task, or lives on held
			// by something else, where no pid of ours can reach it.
			log.Info().Str("id", r.ID).Int("pid", r.NS.Pid).Msg("network lock: namespace gone, record dropped")
			os.Remove(p)
			continue
		}
		if r.State != stateLocking || r.Owner.alive() || r.elsewhere() {
			continue // waits for its restore, or its criu runs on
		}
		if err := r.apply(ctx, false, nil); err != nil && !errors.Is(err, errAbsent) {
			log.Warn().Err(err).Str("id", r.ID).Msg("network lock of a dead criu not removed")
			continue
		}
		os.Remove(p)
		log.Warn().Str("id", r.ID).Int("owner", r.Owner.Pid).Str("method", string(r.Method)).Bool("netns", r.NS != nil).Msg("removed the network lock of a criu that died")
	}
}
