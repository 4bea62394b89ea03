package gocriutest

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	criu "github.com/checkpoint-restore/go-criu/v7"
	"github.com/checkpoint-restore/go-criu/v7/rpc"
	"google.golang.org/protobuf/proto"

	"github.com/criugo/criu/criu/crtest"
)

func TestMain(m *testing.M) { os.Exit(crtest.RunWithFdCheck(m)) }

// notify records go-criu's notifications (runc's criuNotifications
// alike) and the post-restore pid.
type notify struct {
	criu.NoNotify
	seen        []string
	restoredPid int32
}

func (n *notify) PreDump() error  { n.seen = append(n.seen, "pre-dump"); return nil }
func (n *notify) PostDump() error { n.seen = append(n.seen, "post-dump"); return nil }
func (n *notify) PreRestore() error {
	n.seen = append(n.seen, "pre-restore")
	return nil
}

func (n *notify) PostRestore(pid int32) error {
	n.seen = append(n.seen, "post-restore")
	n.restoredPid = pid
	return nil
}

func (n *notify) PostResume() error { n.seen = append(n.seen, "post-resume"); return nil }

func ticks(t *testing.T, out string) int {
	t.Helper()
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	last := -1
	for i, l := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		if n, err := strconv.Atoi(strings.TrimPrefix(l, "tick ")); err != nil || n != i {
			t.Fatalf("%s: line %d is %q, want tick %d", out, i, l, i)
		}
		last = i
	}
	return last
}

// TestGoCriu: version, feature check, dump and restore of a running
// counter through go-criu v7, as runc calls it.
func TestGoCriu(t *testing.T) {
	crtest.RequireRoot(t)
	crtest.Subreaper(t)
	t.Run("criu-go", func(t *testing.T) { goCriu(t, crtest.Criu(t), false) })
	ref := os.Getenv("RPC_REF_CRIU")
	if ref == "" {
		ref = crtest.CRIU42()
	}
	if _, err := os.Stat(ref); err != nil {
		t.Logf("reference CRIU %s absent: %v", ref, err)
		return
	}
	t.Run("criu-4.2", func(t *testing.T) { goCriu(t, ref, true) })
}

// goCriu is TestGoCriu's scenario with bin (CRIU 4.2 when ref).
func goCriu(t *testing.T, bin string, ref bool) {
	c := criu.MakeCriu()
	c.SetCriuPath(bin)

	v, err := c.GetCriuVersion()
	if err != nil {
		t.Fatal(err)
	}
	// go-criu counts a version with a gitid as the next minor: CRIU
	// 4.2 (gitid v4.2) and ours both read as 40300.
	if v != 40300 {
		t.Errorf("GetCriuVersion %d, want 40300 (CRIU 4.2 with a gitid)", v)
	}
	if ok, err := c.IsCriuAtLeast(31100); err != nil || !ok {
		t.Errorf("IsCriuAtLeast(31100) = %v, %v (Podman's minimum)", ok, err)
	}
	// go-criu v7.2.0's FeatureCheck returns the caller's own struct,
	// not the response's features: it only shows that the request
	// succeeds. What the service answers is tested in criu/rpc.
	f, err := c.FeatureCheck(&rpc.CriuFeatures{MemTrack: proto.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("FeatureCheck (go-criu echoes the input): mem_track %v", f.GetMemTrack())

	prog := crtest.BuildC(t, filepath.Join(filepath.Dir(crtest.SourceDir()), "..", "testdata", "rpccounter.c"), false)
	dir := t.TempDir()
	out := filepath.Join(dir, "out.txt")
	cmd := crtest.Start(t, prog, out)
	defer crtest.Kill(cmd.Process.Pid)
	crtest.WaitFor(t, out, "tick 3\n", 10*time.Second)
	img := filepath.Join(dir, "img")
	if err := os.Mkdir(img, 0o755); err != nil {
		t.Fatal(err)
	}
	d, err := os.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()

	nd := &notify{}
	err = c.Dump(&rpc.CriuOpts{ImagesDirFd: proto.Int32(int32(d.Fd())), Pid: proto.Int32(int32(cmd.Process.Pid)),
		LogLevel: proto.Int32(4), LogFile: proto.String("dump.log")}, nd)
	if err != nil {
		t.Fatalf("Dump: %v\n%s", err, logOf(img, "dump.log"))
	}
	if strings.Join(nd.seen, " ") != "pre-dump post-dump" {
		t.Errorf("dump notifications %v", nd.seen)
	}
	cmd.Wait()
	last := ticks(t, out)

	nr := &notify{}
	err = c.Restore(&rpc.CriuOpts{ImagesDirFd: proto.Int32(int32(d.Fd())), LogLevel: proto.Int32(4),
		LogFile: proto.String("restore.log")}, nr)
	if nr.restoredPid > 0 {
		defer crtest.Kill(int(nr.restoredPid))
	}
	if err != nil {
		t.Fatalf("Restore: %v\n%s", err, logOf(img, "restore.log"))
	}
	if strings.Join(nr.seen, " ") != "pre-restore post-restore post-resume" || nr.restoredPid <= 0 {
		t.Errorf("restore notifications %v, post-restore pid %d", nr.seen, nr.restoredPid)
	}
	crtest.WaitFor(t, out, fmt.Sprintf("tick %d\n", last+10), 10*time.Second)
	ticks(t, out)
	if !crtest.Alive(int(nr.restoredPid)) {
		t.Errorf("restored counter %d is gone", nr.restoredPid)
	}

	// A failed request comes back as go-criu's error with our message.
	err = c.Dump(&rpc.CriuOpts{ImagesDirFd: proto.Int32(int32(d.Fd())), Pid: proto.Int32(int32(nr.restoredPid)),
		LsmProfile: proto.String("apparmor:nosuch")}, nil)
	if !ref && (err == nil || !strings.Contains(err.Error(), "lsm_profile")) {
		t.Errorf("Dump with lsm_profile: %v, want a refusal naming it", err)
	}
	if !crtest.Alive(int(nr.restoredPid)) {
		t.Error("the counter is gone after a refused dump")
	}
}

func logOf(dir, name string) string {
	b, _ := os.ReadFile(filepath.Join(dir, name))
	if len(b) > 3000 {
		b = b[len(b)-3000:]
	}
	return string(b)
}
