package dump

import (
	"errors"
	"fmt"
	"time"

	"github.com/criugo/criu/criu/cgroup"
	"github.com/criugo/criu/criu/ptrace"
)

// freezeCgroup, with Options.FreezeCgroup, freezes that cgroup, seizes
// and interrupts every thread in it (ptrace.SeizeAsync) and thaws it:
// each stops before it runs again, so that no task of the cgroup forks
// or makes a thread while t.freeze walks the tree and waits for their
// stops (CRIU's --freeze-cgroup, which LXC and runc pass). A vfork
// parent caught with its child stopped cannot stop: then all are let go
// and it tries again (freezeTries times). The returned func lets go of
// the threads seized that are not in the tree: call it after t.freeze.
func (t *tree) freezeCgroup() (func() error, error) {
	if t.opts.FreezeCgroup == "" {
		return func() error { return nil }, nil
	}
	var err error
	for try := 1; try <= freezeTries; try++ {
		var n int
		if n, err = t.seizeFrozen(); err == nil {
			t.opts.Log.Debug().Str("cgroup", t.opts.FreezeCgroup).Int("threads", n).Int("try", try).Msg("seized in the frozen cgroup")
			return t.tr.ReleasePending, nil
		}
		if rerr := t.tr.ReleasePending(); rerr != nil {
			err = errors.Join(err, rerr)
			break
		}
		if !errors.Is(err, errNotStopped) {
			break
		}
	}
	return nil, fmt.Errorf("--freeze-cgroup %s: %w", t.opts.FreezeCgroup, err)
}

const freezeTries = 5

var errNotStopped = errors.New("did not stop once the cgroup was thawed (a vfork parent waiting for its child?)")

// seizeFrozen is one try of freezeCgroup: it returns the number of
// threads seized, all stopped.
func (t *tree) seizeFrozen() (int, error) {
	f, err := cgroup.Freeze(t.opts.FreezeCgroup)
	if err != nil {
		return 0, err
	}
	tids, err := f.Threads()
	for _, tid := range tids {
		if err != nil {
			break
		}
		if err = t.tr.SeizeAsync(tid); errors.Is(err, ptrace.ErrExited) {
			err = nil
		}
	}
	if terr := f.Thaw(); terr != nil && err == nil {
		err = terr
	}
	if err != nil {
		return 0, err
	}
	if stuck := t.tr.PollPending(time.Second); len(stuck) > 0 {
		return 0, fmt.Errorf("%w: threads %v %w", ErrUnsupported, stuck, errNotStopped)
	}
	return len(tids), nil
}
