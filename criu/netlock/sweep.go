package netlock

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"github.com/rs/zerolog"
)

// Sweep removes the locks whose owner died before finishing (doc.go,
// Crash safety): a record in state locking whose owner no longer runs
// has its rules deleted, then its record; a netns-flavor record whose
// namespace's task is gone is dropped, and so is a host-flavor record
// of another namespace (RecordDir is seen from every namespace of the
// machine) that no task or /run/netns file holds any more, and so is a
// dump's kept lock whose rules another tool lifted. It costs one
// directory read when there is nothing to do. Failures are logged, not returned: a criu run
// does not fail for another one's leftovers.
func Sweep(ctx context.Context, log zerolog.Logger) {
	paths, _ := filepath.Glob(filepath.Join(RecordDir, "*.json"))
	var live map[string]bool // the network namespaces in use, when needed
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
			// Nothing was locked that outlives it: housekeeping, not news.
			log.Debug().Str("id", r.ID).Int("pid", r.NS.Pid).Msg("network lock: namespace gone, record dropped")
			os.Remove(p)
			continue
		}
		if r.elsewhere() {
			if live == nil {
				live = liveNetns()
			}
			if !live[r.Here] {
				// A lock of a namespace that is gone went with it.
				os.Remove(p)
			}
			continue // else that namespace's criu sweeps it
		}
		if r.State == stateDumped && r.NS == nil && r.gone(ctx) {
			// Lifted by another hand (CRIU restoring our images deletes
			// the table): the record waits for nothing.
			os.Remove(p)
			continue
		}
		if r.State != stateLocking || r.Owner.alive() {
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

// liveNetns are the network namespaces some task is in, or that a file
// under /run/netns holds, as /proc/PID/ns/net names them (net:[INO]).
func liveNetns() map[string]bool {
	live := map[string]bool{}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		if e.Name()[0] < '0' || e.Name()[0] > '9' {
			continue
		}
		if s, err := os.Readlink("/proc/" + e.Name() + "/ns/net"); err == nil {
			live[s] = true
		}
	}
	held, _ := filepath.Glob("/run/netns/*")
	for _, h := range held {
		if fi, err := os.Stat(h); err == nil {
			if st, ok := fi.Sys().(*syscall.Stat_t); ok {
				live[fmt.Sprintf("net:[%d]", st.Ino)] = true
			}
		}
	}
	return live
}
