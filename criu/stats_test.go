package main

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/criugo/criu/criu/crtest"
	"github.com/criugo/criu/criu/dump"
	"github.com/criugo/criu/criu/image"
	"github.com/criugo/criu/proto/images"
)

// slowFinish is a local images dir whose first Finish (the final sync)
// takes at least delay, and says how long it took.
type slowFinish struct {
	*image.Dir
	delay time.Duration
	took  time.Duration
}

func (s *slowFinish) Finish(ctx context.Context) error {
	if s.took != 0 {
		return s.Dir.Finish(ctx)
	}
	t0 := time.Now()
	time.Sleep(s.delay)
	err := s.Dir.Finish(ctx)
	s.took = time.Since(t0)
	return err
}

// stats-dump's frozen time covers the final sync of the images: the
// tree stays frozen until it is done.
func TestFrozenTimeCoversFinish(t *testing.T) {
	crtest.RequireRoot(t)
	crtest.Subreaper(t)
	bin := crtest.BuildC(t, filepath.Join(crtest.SourceDir(), "bigcounter.c"), false)
	out := filepath.Join(t.TempDir(), "out.txt")
	cmd := crtest.Start(t, bin, out, "1")
	pid := cmd.Process.Pid
	defer crtest.Kill(pid)
	crtest.WaitFor(t, out, "READY", 10*time.Second)
	dir := t.TempDir()
	d, err := image.NewDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	s := &slowFinish{Dir: d, delay: 300 * time.Millisecond}
	st, err := dump.Dump(context.Background(), s, dump.Options{Pid: pid, ShellJob: true, StatsAfterFinish: true})
	if err != nil {
		t.Fatal(err)
	}
	crtest.Reap(pid)
	var se images.StatsEntry
	if err := image.ReadOne(context.Background(), d, "stats-dump", &se); err != nil {
		t.Fatal(err)
	}
	frozen := time.Duration(se.GetDump().GetFrozenTime()) * time.Microsecond
	t.Logf("frozen_time %v, the final sync took %v, Stats.Frozen %v", frozen, s.took, st.Frozen)
	if frozen < s.took {
		t.Errorf("frozen_time %v leaves out the final sync (%v)", frozen, s.took)
	}
	if st.Frozen < s.took {
		t.Errorf("Stats.Frozen %v leaves out the final sync (%v)", st.Frozen, s.took)
	}
}
