package imgproxy_test

import (
	"context"
	"encoding/binary"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/criugo/criu/criu/crtest"
	"github.com/criugo/criu/criu/image/remote"
	"github.com/criugo/criu/remoteimg"
	"github.com/criugo/criu/remoteimg/remotetest"
)

// TestDumpProxyDiesAfterFinish: a real criu dump --remote of a live
// task, through the real daemons; the proxy's link dies right after it
// forwarded the snapshot's Finish (the relay delivers the Finish, then
// cuts the link and refuses the redials, as a proxy killed just then).
// The dump fails and the task runs on, its memory intact; the cache
// must not serve the snapshot (it served it before the two-phase finish,
// and a restore then made a second live copy): it holds it unconfirmed,
// a restore fails saying so, and the snapshot is dropped after the
// cache's resume timeout.
func TestDumpProxyDiesAfterFinish(t *testing.T) {
	crtest.RequireRoot(t)
	crtest.Subreaper(t)
	criu := crtest.Criu(t)
	work := crtest.BuildC(t, filepath.Join(crtest.SourceDir(), "memloop.c"), false)
	dir := t.TempDir()
	port := freePort(t)
	cacheSock, proxySock := filepath.Join(dir, "cache.sock"), filepath.Join(dir, "proxy.sock")
	// The resume timeout outlasts the dump's reconnect timeout (2s) and
	// the restore's wait (1s) with room to spare: the restore below must
	// find the snapshot held, unconfirmed, however slow the machine.
	startProc(t, nil, "image-cache", "--address", "127.0.0.1", "--port", port, "--local-socket", cacheSock,
		"--resume-timeout", "8s")
	relay := remotetest.NewRelay(t, "127.0.0.1:"+port)
	startProc(t, nil, "image-proxy", "--address", "127.0.0.1", "--port", relay.Port(), "--local-socket", proxySock,
		"--reconnect-timeout", "2s")
	status := filepath.Join(dir, "status")
	cmd := crtest.Start(t, work, status)
	pid := cmd.Process.Pid
	t.Cleanup(func() { crtest.Kill(pid) })
	crtest.WaitFor(t, status, "ready", 10*time.Second)
	images := filepath.Join(dir, "snap")
	id := remoteimg.SnapshotID(images)
	// The Finish payload starts with the snapshot id, no parent and the
	// image count (whatever it is).
	var markers [][]byte
	for n := uint32(1); n < 200; n++ {
		m := binary.LittleEndian.AppendUint16(nil, uint16(len(id)))
		m = append(append(m, id...), 0, 0)
		markers = append(markers, binary.LittleEndian.AppendUint32(m, n))
	}
	relay.CutAfterMarker(markers...)
	ctx := context.Background()
	log, err := crtest.Run(ctx, criu, "dump", "-t", strconv.Itoa(pid), "-D", images, "--remote", "--remote-socket", proxySock, "-v4")
	t.Logf("dump: %v: %s", err, lastLine(log, "criu dump:"))
	if relay.Cuts() != 1 {
		t.Fatalf("the relay never saw the Finish (cuts %d); dump: %v\n%s", relay.Cuts(), err, log)
	}
	if err == nil {
		t.Fatalf("dump succeeded although its Finish was never answered:\n%s", log)
	}
	// The task runs on as it was.
	syscall.Kill(pid, syscall.SIGUSR2)
	crtest.Verdict(t, status, "ok", 10*time.Second)
	if st := listState(t, cacheSock, id); st == "finished" {
		t.Fatalf("the cache serves the snapshot of the failed dump (the task runs on): a restore makes a second copy")
	} else {
		t.Logf("cache holds the snapshot: %s", st)
	}
	rlog, rerr := crtest.Run(ctx, criu, "restore", "-D", images, "--remote", "--remote-socket", cacheSock,
		"--remote-wait", "1s", "--restore-detached", "-v4")
	t.Logf("restore: %v: %s", rerr, lastLine(rlog, "criu restore:"))
	if rerr == nil || !strings.Contains(rlog, "confirm") {
		t.Fatalf("restore of the failed dump's snapshot: %v\n%s", rerr, rlog)
	}
	deadline := time.Now().Add(15 * time.Second)
	for listState(t, cacheSock, id) != "none" {
		if time.Now().After(deadline) {
			t.Fatalf("the failed dump's snapshot is still %s", listState(t, cacheSock, id))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// listState is snapshot id's state in the cache at sock.
func listState(t *testing.T, sock, id string) string {
	t.Helper()
	snaps, err := remote.ListSnapshots(context.Background(), sock)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range snaps {
		if s.ID == id {
			switch {
			case s.Finished:
				return "finished"
			case s.Held:
				return "held"
			}
			return "arriving"
		}
	}
	return "none"
}
